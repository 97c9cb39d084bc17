"""A rep's pull and lookup make each lead's JSON as text from its row, the JSON columns'
stored text spliced in (lead_wire_text): it must say what lead_wire says of the same lead,
whatever the lead holds (history with notes, a decision, attributes, a duplicate, no score,
a suggestion shown or not, a time with and without a fraction). SQLite and PostgreSQL."""

from __future__ import annotations

import json
from datetime import datetime, timezone
from typing import Any

from sqlalchemy import select, update

from tests.support.backend import opened
from tests.support.factories import lead_row
from triage import domain, protocol
from triage.server import models
from triage.server.services.common import answer_json, lead_wire, lead_wire_text, wire_columns

ANN = "ann@example.com"
LEAD = models.Lead.__table__

SUGGESTION = {"outcome": "reject", "reason": "not_icp_fit", "confidence": 0.82,
              "factors": ["title Student", "source content"], "model": 3}  # fmt: skip
DECISION = {"outcome": "reject", "reason": "no_budget", "note": "said «no» twice",
            "at": "2026-11-21T10:00:00Z", "by": ANN, "nurture_until": None}  # fmt: skip
HISTORY = [{"outcome": "nurture", "reason": "timing", "note": "a private note",
            "at": "2026-11-01T10:00:00Z", "by": "bob@example.com"}]  # fmt: skip

# What each lead holds beyond its import row (columns set directly).
CHANGES: dict[str, dict[str, Any]] = {
    "ext-0": {},
    "ext-1": {"suggestion": SUGGESTION, "score": None},
    "ext-2": {"suggestion": {**SUGGESTION, "confidence": 0.3}},  # below the threshold
    "ext-3": {"suggestion": {**SUGGESTION, "confidence": "high"}},  # not a number: not shown
    "ext-4": {"status": "rejected", "decision": DECISION, "history": HISTORY,
              "bant": {"budget": "no"}},
    "ext-5": {"attributes": {"Region": "EMEA", "Seats": 40, "Paid": True, "Ratio": 0.5},
              "duplicate_of": {"id": "L-1", "external_id": "x", "name": "Ü", "owner": ANN},
              "mql_at": datetime(2026, 11, 20, 9, 0, 0, 123456, tzinfo=timezone.utc)},
    "ext-6": {"evidence": {"need": "Café ☕"}, "activities": [
        {"at": "2026-11-19T08:00:00Z", "kind": "email_open", "detail": "Subject"}]},
}  # fmt: skip


def _texts(
    b: Any, suggestions: domain.Suggestions | None, listed: bool = False
) -> dict[str, dict[str, Any]]:
    """Each lead by both ways: {external_id: (lead_wire_text decoded, lead_wire)}."""
    out = {}
    with b.db.read() as s:
        columns = wire_columns(s.get_bind().dialect.name, listed)
        rows = {r.external_id: r for r in s.execute(select(*columns))}
        for lead in s.execute(select(models.Lead)).scalars():
            text = json.loads(lead_wire_text(rows[lead.external_id], ANN, suggestions))
            out[lead.external_id] = (text, lead_wire(lead, ANN, suggestions))
    return out


def test_the_text_says_what_lead_wire_says(db_url: str) -> None:
    with opened(db_url) as b:
        b.add_user(ANN, None, "rep")
        b.import_leads([lead_row(int(k[4:])) for k in CHANGES])
        with b.db.write() as s:
            for external_id, values in CHANGES.items():
                if "suggestion" in values:  # with the columns made of it, as every writer
                    made = models.suggestion_columns(values["suggestion"])
                    names = ("suggestion_sent", "suggestion_list", "suggestion_confidence")
                    values = {**values, **dict(zip(names, made, strict=True))}
                if values:
                    s.execute(
                        update(LEAD).where(LEAD.c.external_id == external_id).values(**values)
                    )
        for suggestions in (domain.Suggestions(True, 0.6), domain.Suggestions(False), None):
            both = _texts(b, suggestions)
            assert set(both) == set(CHANGES)
            for external_id, (text, wire) in both.items():
                assert text == wire, external_id
                protocol.LeadWire.model_validate(text)  # and a client reads it
        shown = _texts(b, domain.Suggestions(True, 0.6))
        assert shown["ext-1"][0]["suggestion"] == {
            k: v for k, v in SUGGESTION.items() if k != "model"
        }
        assert "score" not in shown["ext-1"][0]
        assert [x for x in shown if "suggestion" in shown[x][0]] == ["ext-1"]
        listed = _texts(b, domain.Suggestions(True, 0.6), listed=True)  # "suggestion_list"
        assert listed["ext-1"][0]["suggestion"] == [
            "reject", "not_icp_fit", 0.82, ["title Student", "source content"]
        ]  # fmt: skip
        assert [x for x in listed if "suggestion" in listed[x][0]] == ["ext-1"]
        for external_id, (text, _) in listed.items():
            assert {**text, "suggestion": None} == {**shown[external_id][0], "suggestion": None}
            protocol.LeadWire.model_validate(text)
        assert "note" not in shown["ext-4"][0]["history"][0]
        assert shown["ext-5"][0]["mql_at"] == "2026-11-20T09:00:00.123456Z"
        assert shown["ext-0"][0]["mql_at"] == "2026-11-20T09:00:00Z"


def test_an_answer_of_texts_is_json() -> None:
    answer = {"leads": ['{"id":"a"}', '{"id":"b"}'], "revoked": ["c"], "cursor": 3}
    assert json.loads(answer_json(answer)) == {
        "leads": [{"id": "a"}, {"id": "b"}], "revoked": ["c"], "cursor": 3,
    }  # fmt: skip
    assert json.loads(answer_json({"leads": [], "has_more": False})) == {
        "leads": [], "has_more": False,
    }  # fmt: skip
