"""The model's view of a lead: what it was when decided, never who it is, never what was
written after. The feature builder on its own, and its snapshot written by the push that
applies a decision (SQLite and PostgreSQL): a later edit of the lead, an activity after
the decision or an undone decision never reach the model."""

from __future__ import annotations

import json
import uuid
from datetime import datetime, timezone

import pytest

from tests.support.backend import push_as
from tests.support.factories import lead_row
from triage.server.service import Backend
from triage.server.suggest import store
from triage.server.suggest.features import PII_FIELDS, features, seniority, snapshot

AT = "2026-11-22T10:00:00Z"
DECIDED = datetime(2026, 11, 22, 10, tzinfo=timezone.utc)

LEAD = {
    "id": "L1", "external_id": "crm-77", "name": "Jane Doe", "email": "jane@acme.example",
    "phone": "+49 30 1234567", "company": "Acme Robotics", "title": "VP Operations",
    "industry": "Logistics", "company_size": "51-200", "country": "DE", "source": "webinar",
    "campaign": "q4-launch", "score": 72, "status": "rejected",
    "decision": {"outcome": "reject", "reason": "no_budget", "note": "CFO said no"},
    "bant": {"budget": "no"}, "history": [{"outcome": "accept"}],
    "evidence": {"budget": "Form: $50k-100k", "need": "Downloaded the ebook"},
    "activities": [
        {"at": "2026-11-20T09:00:00Z", "kind": "web_visit", "detail": "Pricing"},
        {"at": "2026-11-21T09:00:00Z", "kind": "form", "detail": "Demo request"},
        {"at": "2026-11-23T09:00:00Z", "kind": "meeting", "detail": "After the decision"},
    ],
    "attributes": {
        "lifecycle_stage": "MQL", "employees": 120, "newsletter": True,
        "personal_email": "jane.doe@gmail.example", "mobile_phone": "+44 7700 900123",
        "contact_name": "Jane", "assistant": "jd@acme.example", "close_date": "2026-12-01",
        "do_not_email": "No",  # a consent flag, not a contact: kept
    },
}  # fmt: skip


def test_the_snapshot_keeps_triage_time_fields_only() -> None:
    snap = snapshot(LEAD)
    assert set(snap) == {
        "title", "industry", "company_size", "country", "source", "campaign", "score",
        "evidence", "activities", "attributes",
    }  # fmt: skip
    for gone in (*PII_FIELDS, "status", "decision", "bant", "history", "external_id", "id"):
        assert gone not in snap
    text = json.dumps(snap)
    for secret in ("Jane Doe", "jane@acme.example", "+49 30 1234567", "Acme Robotics", "CFO"):
        assert secret not in text


def test_features_never_name_the_person_nor_what_came_after() -> None:
    got = features(snapshot(LEAD), DECIDED)
    assert got["source"] == "webinar" and got["title"] == "vp operations"
    assert got["seniority"] == "vp" and got["score"] == 72.0
    assert got["activities"] == 2.0  # the meeting came after the decision
    assert got["activity:web_visit"] == 1.0 and got["activity:form"] == 1.0
    assert "activity:meeting" not in got
    assert got["evidence:budget"] == 1.0 and got["evidence:budget:$50k-100k"] == 1.0
    assert got["attr:lifecycle_stage"] == "mql" and got["attr:employees"] == 120.0
    assert got["attr:newsletter"] == "true" and got["attr:do_not_email"] == "no"
    for contact in ("personal_email", "mobile_phone", "contact_name", "assistant", "close_date"):
        assert f"attr:{contact}" not in got  # a person's contact, or a date written later
    text = json.dumps(got).lower()
    for secret in ("jane", "acme", "gmail", "7700", "1234567", "cfo", "no_budget"):
        assert secret not in text, secret


def test_without_a_decision_time_every_activity_counts_and_no_score_is_said() -> None:
    got = features({"activities": LEAD["activities"]})
    assert got["activities"] == 3.0 and got["score_missing"] == 1.0 and "score" not in got


@pytest.mark.parametrize(
    ("title", "bucket"),
    [("Chief Executive Officer", "c_level"), ("CTO", "c_level"), ("SVP Sales", "vp"),
     ("Vice President, Finance", "vp"), ("Head of IT", "director"),
     ("Director of Sales", "director"), ("Procurement Manager", "manager"),
     ("Data Engineer", "individual"), ("Student", "student"), ("Baker", "other"),
     ("", None), (None, None)],
)  # fmt: skip
def test_seniority_buckets(title: str | None, bucket: str | None) -> None:
    assert seniority(title) == bucket


@pytest.fixture
def backend(db_url: str):
    b = Backend.open(db_url)
    b.add_user("ann@example.com", None, "rep")
    yield b
    b.close()


def _decisions(b: Backend) -> list[store.Decision]:
    with b.db.read() as s:
        return store.decisions(s)


def test_a_decision_keeps_the_lead_as_it_was_decided(backend: Backend) -> None:
    backend.upsert_leads([
        lead_row(1, title="Student", score=12, attributes={"plan": "free"},
                 activities=[{"at": "2026-11-20T09:00:00Z", "kind": "web_visit"}]),
        lead_row(2, title="CFO", score=90),
    ])  # fmt: skip
    one, two = backend.lead("ext-1")["id"], backend.lead("ext-2")["id"]
    ann = str(uuid.uuid4())
    results = push_as(backend, "ann@example.com", ann, [
        {"seq": 1, "lead_id": one, "type": "decide", "outcome": "reject",
         "reason": "not_icp_fit", "note": "a student", "at": AT},
        {"seq": 2, "lead_id": two, "type": "decide", "outcome": "accept", "at": AT},
    ])  # fmt: skip
    assert [r["status"] for r in results] == ["applied", "applied"]
    # marketing edits the decided lead afterwards: a new title, score, attribute, activity
    backend.upsert_leads([
        lead_row(1, title="CEO", score=99, attributes={"plan": "enterprise"},
                 activities=[{"at": "2026-11-20T09:00:00Z", "kind": "web_visit"},
                             {"at": "2026-11-25T09:00:00Z", "kind": "meeting"}]),
    ])  # fmt: skip
    assert backend.lead("ext-1")["title"] == "CEO"
    first, second = _decisions(backend)
    assert (first.outcome, first.reason, second.outcome) == ("reject", "not_icp_fit", "accept")
    assert first.snapshot["title"] == "Student" and first.snapshot["score"] == 12
    assert first.snapshot["attributes"] == {"plan": "free"}
    assert [a["kind"] for a in first.snapshot["activities"]] == ["web_visit"]
    assert first.at is not None  # the decision's time as the server clamped it
    for d in (first, second):
        text = json.dumps(d.snapshot)
        assert "Person" not in text and "@corp" not in text and "Corp " not in text
        assert "a student" not in text  # the rep's note is not a feature


def test_an_undone_decision_is_not_learned_from(backend: Backend) -> None:
    backend.upsert_leads([lead_row(1, title="Student")])
    one = backend.lead("ext-1")["id"]
    ann = str(uuid.uuid4())
    push_as(backend, "ann@example.com", ann, [
        {"seq": 1, "lead_id": one, "type": "decide", "outcome": "reject",
         "reason": "no_budget", "at": AT},
        {"seq": 2, "lead_id": one, "type": "reopen", "at": AT},
    ])  # fmt: skip
    assert _decisions(backend) == []
    push_as(backend, "ann@example.com", ann, [
        {"seq": 3, "lead_id": one, "type": "decide", "outcome": "accept", "at": AT},
    ])  # fmt: skip
    assert [d.outcome for d in _decisions(backend)] == ["accept"]
