"""A pulled lead's JSON is kept as the sync checked it (protocol.lead_json, made by pydantic's
core), not decoded into a lead and encoded again: read back, it must be the lead that
lead_from_wire makes, whatever it holds; and the store must end the same with it as
without it, a lead that needed cleaning cleaned all the same."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

from tests.support.factories import make_lead
from triage import domain, protocol
from triage.store import Store

AT = datetime(2026, 11, 21, 10, 0, 0, 123456, tzinfo=timezone.utc)


def _leads() -> list[domain.Lead]:
    decision = domain.Decision(domain.Outcome.NURTURE, "timing", "call «back»\nin May", AT,
                               "ann@example.com", date(2027, 1, 5), "c:4")  # fmt: skip
    past = domain.PastDecision(domain.Outcome.REJECT, "no_budget", AT - timedelta(days=9), "bo")
    suggestion = domain.Suggestion(domain.Outcome.REJECT, "not_icp_fit", 0.82,
                                   ("title Student", "source content"))  # fmt: skip
    return [
        make_lead(1),
        make_lead(2, score=None, phone=None, mql_at=None, assigned_at=None, activities=()),
        make_lead(3, status=domain.Status.NURTURE, decision=decision, history=(past,),
                  bant={"budget": "no", "need": "yes"}),
        make_lead(4, attributes={"Region": "EMEA", "Seats": 40, "Paid": True, "Ratio": 0.5},
                  duplicate_of={"id": "L9", "external_id": "x", "name": "Ü", "owner": "bo"},
                  suggestion=suggestion, evidence={"need": "Café ☕"}),
        make_lead(5, suggestion=replace(suggestion, reason=None, outcome=domain.Outcome.ACCEPT)),
    ]  # fmt: skip


def _wire(lead: domain.Lead, **changes: object) -> protocol.LeadWire:
    """The lead as a server sends it (its protocol JSON), checked as the client checks it."""
    return protocol.LeadWire.model_validate_json(
        json.dumps({**domain.lead_to_dict(lead), **changes})
    )


def test_the_kept_json_reads_back_as_the_lead() -> None:
    wires = [_wire(lead) for lead in _leads()]
    # ("suggestion_list") the suggestions as lists, as a pull asked for them sends them
    for lead in _leads()[3:]:
        x = lead.suggestion
        assert x is not None
        listed = [x.outcome.value, x.reason, x.confidence, list(x.factors)]
        wires.append(_wire(lead, suggestion=listed))
        assert protocol.lead_from_wire(wires[-1]) == protocol.lead_from_wire(_wire(lead))
        assert isinstance(wires[-1].suggestion, tuple)
    # times as a server may write them: another offset, no zone (UTC)
    wires.append(_wire(make_lead(6), mql_at="2026-11-20T11:00:00+02:00",
                       assigned_at="2026-11-20T09:05:00"))  # fmt: skip
    for wire in wires:
        kept = domain.lead_from_dict(json.loads(protocol.lead_json(wire)))
        assert kept == protocol.lead_from_wire(wire), wire.id
    assert domain.lead_from_dict(json.loads(protocol.lead_json(wires[-1]))).mql_at == datetime(
        2026, 11, 20, 9, 0, tzinfo=timezone.utc
    )


def _state(store: Store) -> tuple[object, ...]:
    ids = sorted(store.queue_ids(domain.Filter(), "sla"))
    page = store.queue_page(domain.Filter(), "sla", 0, 100)
    return ids, [store.lead(i) for i in ids], page


def test_the_store_ends_the_same_with_the_kept_json(tmp_path: Path) -> None:
    leads = _leads()
    dirty = make_lead(7, name="Eve\x1b[2J", evidence={"need": "a\r\nb\x07"})
    factors = ["title \x1b]0;owned\x07CFO", "source web"]  # a factor quotes a lead's text
    sneaky = _wire(make_lead(8), suggestion=["reject", "not_icp\x1b[31m", 0.9, factors])
    wires = [*(_wire(lead) for lead in [*leads, dirty]), sneaky]
    states = []
    for name, texts in (("plain", ()), ("kept", [protocol.lead_json(w) for w in wires])):
        store = Store.open(tmp_path / name / "triage.db")
        store.apply_pull([protocol.lead_from_wire(w) for w in wires], [], 9, texts=texts)
        states.append(_state(store))
        cleaned = store.lead(dirty.id)
        assert cleaned is not None and "\x1b" not in cleaned.name and cleaned.name == "Eve␛[2J"
        assert cleaned.evidence == {"need": "a\nb␇"}
        shown = store.lead(sneaky.id)
        assert shown is not None and shown.suggestion is not None
        assert shown.suggestion.factors == ("title ␛]0;owned␇CFO", "source web")
        assert shown.suggestion.reason == "not_icp␛[31m"
        store.close()
    assert states[0] == states[1]
