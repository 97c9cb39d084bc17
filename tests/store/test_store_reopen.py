"""Reopen any of the rep's own decisions, not only the last action's (store.reopen): the
lead's part of its decision is undone as undo would (dropped if never sent, else a
`reopen` naming it); the rest of a bulk decision stands and stays on the undo stack."""

from __future__ import annotations

from dataclasses import replace

import pytest

from tests.support.factories import NOW, make_lead
from triage import domain
from triage.domain import Status
from triage.store import ActionError, PushResult, Store

ME = "ann@example.com"


def _sent(store: Store) -> None:
    """Everything pending reaches the server, answered applied with the lead as it is now."""
    items = store.pending()
    results = []
    for item in items:
        lead = store.lead(item.lead_id)
        results.append(
            PushResult(item.seq, "applied", None, replace(lead, version=lead.version + 1))
        )
    store.apply_push_results(results)


def test_one_lead_of_a_bulk_decision_never_sent(mine: Store) -> None:
    bulk = mine.decide(["L000001", "L000002", "L000003"], "reject", reason="no_budget")
    mine.decide(["L000004"], "accept")  # a later action: reopen reaches past it
    done = mine.reopen(["L000002"])
    assert done.count == 1
    assert mine.lead("L000002").status is Status.OPEN
    assert mine.pending_count() == 3  # L000001, L000003 and L000004's; none handed out yet
    assert mine.undo().count == 1  # the accept
    undone = mine.undo()  # the bulk reject, without the lead reopened
    assert (undone.action_id, undone.count) == (bulk.action_id, 2)
    assert mine.pending_count() == 0
    assert mine.undo() is None


def test_a_decision_the_server_has_is_followed_by_a_reopen_naming_it(mine: Store) -> None:
    mine.decide(["L000001", "L000002"], "accept")
    _sent(mine)
    me = mine.client_id()
    mine.reopen(["L000002"])
    [item] = mine.pending()
    assert (item.lead_id, item.type) == ("L000002", "reopen")
    assert item.payload["reopens"] == f"{me}:2"
    assert mine.lead("L000002").status is Status.OPEN
    assert mine.lead("L000001").status is Status.ACCEPTED


def test_a_decision_still_in_flight_is_reopened_after_its_answer(mine: Store) -> None:
    mine.decide(["L000003"], "nurture", reason="timing_later", nurture_until=NOW.date())
    [sent] = mine.pending()  # handed out: it may be at the server
    mine.reopen(["L000003"])
    assert mine.lead("L000003").status is Status.OPEN
    assert [i.seq for i in mine.pending()] == [sent.seq]  # the reopen waits for the answer
    lead = mine.lead("L000003")
    mine.apply_push_results([PushResult(sent.seq, "applied", None, replace(
        lead, status=Status.NURTURE, version=lead.version + 1))])  # fmt: skip
    [reopen] = mine.pending()
    assert reopen.type == "reopen"


def test_a_decision_made_on_another_device_is_reopened_by_its_id(mine: Store) -> None:
    decided = replace(make_lead(5), status=Status.REJECTED, version=3, decision=domain.Decision(
        domain.Outcome.REJECT, "no_budget", None, NOW, by=ME, id="other-device:9"))  # fmt: skip
    mine.apply_pull([decided], [], cursor=8)
    mine.reopen(["L000005"])
    [item] = mine.pending()
    assert (item.type, item.payload["reopens"], item.payload["base_version"]) == (
        "reopen", "other-device:9", 3)  # fmt: skip


@pytest.mark.parametrize(
    ("lead", "code"),
    [("L000006", "not_decided"), ("L000007", "not_own_decision"), ("L999999", "unknown_lead")],
)
def test_refused_reopens_write_nothing(mine: Store, lead: str, code: str) -> None:
    theirs = replace(make_lead(7), status=Status.ACCEPTED, version=2, decision=domain.Decision(
        domain.Outcome.ACCEPT, None, None, NOW, by="bob@example.com", id="bob:1"))  # fmt: skip
    mine.apply_pull([theirs], [], cursor=8)
    mine.decide(["L000001"], "accept")
    with pytest.raises(ActionError) as caught:
        mine.reopen(["L000001", lead])
    assert caught.value.code == code
    assert mine.lead("L000001").status is Status.ACCEPTED and mine.pending_count() == 1
