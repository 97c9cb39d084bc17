"""A heal after a server restore (store.apply_heal), where the rep had rows pending: what
the restore lost of the rep's decisions goes again, in an order the server can apply.
Found by the hypothesis sync model (a lost decision behind a pending BANT answer; a lost
undo ahead of a decision made since)."""

from __future__ import annotations

from dataclasses import replace

from tests.support.factories import NOW, make_lead
from triage import domain
from triage.domain import Status
from triage.store import PushResult, Store

ME = "ann@example.com"


def _answer_all(store: Store) -> None:
    """The server applies every pending row; its answer carries the lead as it now is."""
    for item in store.pending():
        lead = store.lead(item.lead_id)
        decision = lead.decision and replace(lead.decision, id=f"{store.client_id()}:{item.seq}")
        shown = replace(lead, version=lead.version + 1, decision=decision)
        store.apply_push_results([PushResult(item.seq, "applied", None, shown)])


def test_a_lost_decision_goes_again_though_a_bant_answer_is_pending(mine: Store) -> None:
    mine.decide(["L000001"], "nurture", reason="timing_later")
    _answer_all(mine)
    mine.set_bant("L000001", "budget", "yes")  # pending, not sent yet
    mine.apply_heal([make_lead(1)], [])  # restored: the lead open again, the decision lost
    kinds = [(i.type, i.payload.get("origin")) for i in mine.pending()]
    assert ("decide", {"client_id": mine.client_id(), "seq": 1}) in kinds
    assert [c.error for c in mine.conflicts()] == ["server_restored"]
    assert mine.lead("L000001").status is Status.NURTURE


def test_a_lost_undo_goes_ahead_of_the_decision_made_since(mine: Store) -> None:
    me = mine.client_id()
    mine.decide(["L000002"], "reject", reason="no_budget")
    _answer_all(mine)  # the server has the rejection, id me:1
    mine.undo()
    _answer_all(mine)  # and its undo (me:2, a reopen)
    mine.decide(["L000002"], "accept")  # a decision made since, pending
    restored = replace(
        make_lead(2), status=Status.REJECTED, version=2,
        decision=domain.Decision(domain.Outcome.REJECT, "no_budget", None, NOW, by=ME,
                                 id=f"{me}:1"),
    )  # fmt: skip
    mine.apply_heal([restored], [])  # the restore lost the undo
    rows = [(i.type, i.payload.get("reopens"), i.payload.get("outcome")) for i in mine.pending()]
    assert rows[0] == ("reopen", f"{me}:1", None)  # the undo first, or the accept is refused
    assert rows[1][0] == "decide" and rows[1][2] == "accept"
    assert mine.lead("L000002").status is Status.ACCEPTED


def test_a_lost_decision_of_a_lead_now_someone_elses_gets_a_card(mine: Store) -> None:
    """The restore lost the rep's accepted decision, then marketing reassigned the open
    lead: it cannot go again (not the rep's), and must not vanish without a word."""
    mine.decide(["L000003"], "accept")
    mine.decide(["L000004"], "reject", reason="no_budget")
    _answer_all(mine)
    mine.undo()  # the rejection taken back: nothing of it stands
    _answer_all(mine)
    mine.apply_heal([], ["L000003", "L000004"])  # both no longer the rep's
    cards = mine.conflicts()
    assert [(c.lead_id, c.error, c.mutation["type"], c.mutation["outcome"]) for c in cards] == [
        ("L000003", "not_assigned", "decide", "accept")
    ]
    assert mine.lead("L000003") is None and mine.pending() == []


def test_a_lost_undo_goes_again_though_a_later_decision_was_undone_too(mine: Store) -> None:
    """The rep accepted (sent), undid it, accepted again and undid that before it was sent;
    the undo reached the server, then a restore lost it: the server shows the first accept
    again. The heal must send the undo of that first decision, though the lead's last
    action here is the second (found by the hypothesis sync model)."""
    me = mine.client_id()
    mine.decide(["L000005"], "accept")
    _answer_all(mine)  # the server has the accept, id me:1
    mine.undo()
    mine.decide(["L000005", "L000006"], "accept")
    mine.undo()  # never sent: dropped
    _answer_all(mine)  # the undo of the first reaches the server
    restored = replace(
        make_lead(5), status=Status.ACCEPTED, version=2,
        decision=domain.Decision(domain.Outcome.ACCEPT, None, None, NOW, by=ME, id=f"{me}:1"),
    )  # fmt: skip
    mine.apply_heal([restored, make_lead(6)], [])  # the restore lost the undo
    rows = [(i.type, i.payload.get("reopens")) for i in mine.pending()]
    assert rows == [("reopen", f"{me}:1")]
    assert mine.lead("L000005").status is Status.OPEN
