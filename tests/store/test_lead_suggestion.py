"""The server's suggestion on the rep's side: kept with the lead's server JSON by the store,
through the rep's own decision and its undo, replaced (or dropped) by the next pull of the
lead, and read leniently (a suggestion the client cannot read is no suggestion, never a
lead refused)."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from tests.support.factories import make_lead
from triage import domain, protocol
from triage.store import Store

SUGGESTED = domain.Suggestion(
    domain.Outcome.REJECT, "not_icp_fit", 0.82,
    ("title Student", "source content", "company size 1-10"),
)  # fmt: skip


@pytest.fixture
def store(tmp_path: Path):
    s = Store.open(tmp_path / "triage.db")
    s.set_me("ann@example.com", "Ann Rep", "rep")
    s.save_policy(domain.DEFAULT_POLICY)
    yield s
    s.close()


def test_the_store_keeps_the_suggestion_with_the_lead(store: Store) -> None:
    lead = replace(make_lead(1), suggestion=SUGGESTED)
    store.apply_pull([lead, make_lead(2)], [], cursor=1)
    assert store.lead(lead.id).suggestion == SUGGESTED
    assert store.lead(make_lead(2).id).suggestion is None
    store.decide([lead.id], "reject", reason="not_icp_fit")
    assert store.lead(lead.id).suggestion == SUGGESTED  # the rep's decision keeps it
    store.undo()
    assert store.lead(lead.id).suggestion == SUGGESTED
    # the server's next version of the lead says what stands: a new one, or none
    store.apply_pull([replace(lead, version=2, suggestion=None)], [], cursor=2)
    assert store.lead(lead.id).suggestion is None


def test_the_wire_form_and_a_suggestion_the_client_cannot_read() -> None:
    wire = domain.lead_to_dict(replace(make_lead(1), suggestion=SUGGESTED))
    assert wire["suggestion"] == {"outcome": "reject", "reason": "not_icp_fit",
                                  "confidence": 0.82, "factors": list(SUGGESTED.factors)}  # fmt: skip
    assert "suggestion" not in domain.lead_to_dict(make_lead(1))
    parsed = protocol.lead_from_wire(protocol.LeadWire.model_validate(wire))
    assert parsed.suggestion == SUGGESTED
    odd = {**wire, "suggestion": {"outcome": "escalate", "confidence": "high"}}
    assert domain.lead_from_dict(odd).suggestion is None
    assert domain.lead_from_dict({**wire, "suggestion": None}).suggestion is None


def test_the_queue_reads_the_suggestion_from_its_projection(store: Store) -> None:
    lead = replace(make_lead(1), suggestion=SUGGESTED)
    store.apply_pull([lead, make_lead(2)], [], cursor=2)
    rows = {r.id: r.suggestion for r in store.queue_page(domain.Filter(), "sla", 0, 10)}
    assert rows[lead.id] == replace(SUGGESTED, factors=())  # the factors: the lead's screen's
    assert rows[make_lead(2).id] is None
    assert store.any_suggestion(0.8) and not store.any_suggestion(0.83)
    with store._read() as conn:
        sql = "SELECT 1 FROM leads WHERE status = 'open' AND suggestion_confidence >= ? LIMIT 1"
        plan = " ".join(r[-1] for r in conn.execute("EXPLAIN QUERY PLAN " + sql, (0.6,)))
    assert "leads_suggested" in plan  # one probe, whatever the size of the queue
    store.decide([lead.id], "reject", reason="no_need", at=lead.mql_at)
    assert not store.any_suggestion(0.6)  # decided: no open lead shows one
    store.apply_pull([replace(lead, version=3, suggestion=None)], [], cursor=3)
    decided = domain.parse_filter("status:rejected")
    assert store.queue_page(decided, "sla", 0, 10)[0].suggestion is None


def test_a_version_12_store_gets_its_suggestions_in_the_projection(tmp_path: Path) -> None:
    from tests.store.test_accounts import insert_old_rows, old_store

    path = tmp_path / "old.db"
    conn = old_store(path, 12)
    lead = replace(make_lead(1), suggestion=SUGGESTED)
    insert_old_rows(conn, (lead, make_lead(2)), later=("suggestion", "suggestion_confidence"))
    conn.close()
    with Store.open(path) as s:
        rows = {r.id: r.suggestion for r in s.queue_page(domain.Filter(), "sla", 0, 10)}
        assert rows[lead.id].reason == "not_icp_fit" and rows[make_lead(2).id] is None
        assert s.any_suggestion(0.6)
