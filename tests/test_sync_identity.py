"""A queue belongs to one server and one rep, and an undo never reverses a decision it did
not make (issue: "no decision stuck, lost or reversed"). Real server on loopback."""

from __future__ import annotations

from tests.client_support import decisions_per_lead, device, server_events
from tests.faults import FaultTransport
from tests.support.factories import lead_row


def _seed(live, n: int, owner: str = "ann@example.com") -> None:
    live.upsert([lead_row(i, owner=owner) for i in range(1, n + 1)])


def test_an_undo_waits_for_its_decision_and_never_reverses_another_devices(live_sqlite, tmp_path):
    """Two devices of one rep. The laptop's decision is in flight (its answer lost) when the
    rep undoes it; meanwhile the phone decided the same lead. The laptop's decision is
    refused (already_decided), so its undo must go with it: the reopen is neither numbered
    nor sent before that answer, and is dropped with the refusal."""
    _seed(live_sqlite, 3)
    laptop = device(tmp_path, live_sqlite, live_sqlite.ann, "laptop")
    phone = device(tmp_path, live_sqlite, live_sqlite.ann, "phone")
    assert laptop.sync().ok and phone.sync().ok
    target = sorted(laptop.open_ids())[0]
    phone.decide([target], "accept")
    assert phone.sync().ok  # the phone's decision reaches the server first
    laptop.decide([target], "reject", "no_budget")
    with laptop.open() as store:
        (sent,) = store.pending()  # handed out for a push whose answer never came
        undone = store.undo()
        assert undone.via_reopen  # it may have reached the server: a reopen is queued...
        assert [i.seq for i in store.pending()] == [sent.seq]  # ...but not numbered yet
    report = laptop.sync()
    assert report.ok and report.conflicts == 1
    with laptop.open() as store:
        assert store.pending_count() == 0  # the reopen went with the refused decision
        assert [c.error for c in store.conflicts()] == ["already_decided"]
        assert store.lead(target).status.value == "accepted"  # the phone's decision shows
    server = live_sqlite.backend.lead(target)
    assert server["status"] == "accepted"
    kinds = [e["kind"] for e in server_events(live_sqlite.backend) if e["lead_id"] == target]
    assert kinds == ["decide"]  # no reopen reached the server


def test_an_undo_of_a_decision_whose_answer_was_lost_still_reopens_once(live_sqlite, tmp_path):
    """The other side: the decision did land (its answer was lost). The undo is held until
    the resent decision is answered (duplicate of applied), then the reopen goes out."""
    _seed(live_sqlite, 2)
    laptop = device(tmp_path, live_sqlite, live_sqlite.ann, "laptop")
    assert laptop.sync().ok
    target = sorted(laptop.open_ids())[0]
    laptop.decide([target], "reject", "no_need")
    # the server applies it; the answer never comes back, however often it is resent
    lose = FaultTransport(lambda r: "drop_response" if r.url.path == "/v1/sync/push" else None)
    first = laptop.sync(transport=lose)
    assert not first.ok and laptop.pending() == 1
    with laptop.open() as store:
        store.undo()
        assert len(store.pending()) == 1  # the decision only; its reopen waits
    assert laptop.sync().ok and laptop.pending() == 0
    assert live_sqlite.backend.lead(target)["status"] == "open"
    assert decisions_per_lead(live_sqlite.backend)[target] == 1
    kinds = [e["kind"] for e in server_events(live_sqlite.backend) if e["lead_id"] == target]
    assert kinds == ["decide", "reopen"]
