"""A queue belongs to one server and one rep, and an undo never reverses a decision it did
not make (issue: "no decision stuck, lost or reversed"). Real server on loopback."""

from __future__ import annotations

import json
from dataclasses import replace

import httpx

from tests.support.client import decisions_per_lead, device, server_events
from tests.support.factories import lead_row
from tests.support.faults import FaultTransport


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


def test_an_undo_whose_decision_answer_was_lost_names_it_and_reverses_nothing_else(
    live_sqlite, tmp_path
):
    """The laptop's decision is refused (the phone decided first) but its answer is lost;
    the pull then says it was processed, so the laptop cannot know it was refused, and its
    undo goes out. The reopen names the laptop's decision: the server refuses it, and the
    phone's decision stands."""
    _seed(live_sqlite, 2)
    laptop = device(tmp_path, live_sqlite, live_sqlite.ann, "laptop")
    phone = device(tmp_path, live_sqlite, live_sqlite.ann, "phone")
    assert laptop.sync().ok and phone.sync().ok
    target = sorted(laptop.open_ids())[0]
    phone.decide([target], "accept")
    assert phone.sync().ok
    laptop.decide([target], "reject", "no_budget")
    lose = FaultTransport(lambda r: "drop_response" if r.url.path == "/v1/sync/push" else None)
    assert not laptop.sync(transport=lose).ok
    with laptop.open() as store:
        store.undo()  # the decision may have landed: a reopen waits for its answer
    report = laptop.sync()  # the resent decision: duplicate of a conflict; the undo goes
    assert report.ok
    assert live_sqlite.backend.lead(target)["status"] == "accepted"
    kinds = [e["kind"] for e in server_events(live_sqlite.backend) if e["lead_id"] == target]
    assert kinds == ["decide"]


class ReplayFirstPage(httpx.BaseTransport):
    """A caching proxy gone wrong: the first pull page, with has_more, again and again."""

    def __init__(self) -> None:
        self.inner = httpx.HTTPTransport()
        self.page: bytes | None = None
        self.pulls = 0

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        response = self.inner.handle_request(request)
        response.read()
        if request.url.path != "/v1/sync/pull" or request.url.params.get("limit") == "1":
            return response
        self.pulls += 1
        if self.page is None:
            body = response.json()
            body["has_more"] = True
            self.page = json.dumps(body).encode()
        return httpx.Response(200, content=self.page, headers={"content-type": "application/json"})


def test_a_pull_that_makes_no_progress_is_an_error_not_a_loop(live_sqlite, tmp_path):
    _seed(live_sqlite, 4)
    dev = device(tmp_path, live_sqlite, live_sqlite.ann)
    replay = ReplayFirstPage()
    report = dev.sync(transport=replay)
    assert not report.ok and "made no progress" in report.error
    assert replay.pulls == 2  # the first page, then the same cursor again: stop
    assert dev.sync().ok and len(dev.open_ids()) == 4  # a working server: all is well


class OddPolicy(httpx.BaseTransport):
    """A server whose policy this client cannot read (a newer server's, say)."""

    def __init__(self) -> None:
        self.inner = httpx.HTTPTransport()

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        response = self.inner.handle_request(request)
        response.read()
        if request.url.path == "/v1/sync/pull":
            body = response.json()
            body["policy_version"] = 99
            return httpx.Response(200, json=body)
        if request.url.path == "/v1/policy":
            body = response.json()
            body["version"] = 99
            body["reject_reasons"] = [{"code": "Not A Code!", "label": "?"}]
            return httpx.Response(200, json=body)
        return response


def test_a_policy_the_client_cannot_use_is_an_error_and_pulls_go_on(live_sqlite, tmp_path):
    _seed(live_sqlite, 5)
    dev = device(tmp_path, live_sqlite, live_sqlite.ann)
    report = dev.sync(transport=OddPolicy())
    assert not report.ok and "cannot be used by this triage" in report.error
    assert "Not A Code!" in report.error or "lower_snake_case" in report.error
    assert report.pulled == 5 and len(dev.open_ids()) == 5  # the queue came all the same
    with dev.open() as store:
        assert store.policy().version == 1  # the last good policy stays
        assert store.sync_state().policy_version == 0  # and the new one is asked for again
    report = dev.sync(transport=OddPolicy())  # every sync says so, and still works
    assert not report.ok and report.pulled == 0


def test_a_duplicate_without_stored_is_never_taken_for_applied(tmp_path):
    """An older or buggy server answers `duplicate` without saying what the first answer
    was: the store looks at the lead the server sent."""
    from tests.support.factories import make_lead
    from triage.domain import Decision, Outcome, Status
    from triage.store import PushResult, Store

    with Store.open(tmp_path / "t.db") as store:
        store.set_me("ann@example.com", "Ann", "rep")
        a, b = make_lead(1), make_lead(2)
        store.apply_pull([a, b], [], 2)
        store.decide([a.id], "reject", reason="no_budget")
        store.decide([b.id], "accept")
        items = store.pending()
        theirs = replace(a, version=2, status=Status.ACCEPTED,
                         decision=Decision(Outcome.ACCEPT, None, None, a.mql_at, "bob@x.example"))  # fmt: skip
        ours = replace(b, version=2, status=Status.ACCEPTED,
                       decision=Decision(Outcome.ACCEPT, None, None, b.mql_at, "ann@example.com"))  # fmt: skip
        store.apply_push_results(
            [PushResult(items[0].seq, "duplicate", None, theirs, None),
             PushResult(items[1].seq, "duplicate", None, ours, None)]
        )  # fmt: skip
        assert store.pending_count() == 0
        [card] = store.conflicts()
        assert (card.lead_id, card.error) == (a.id, "unknown_outcome")
        assert store.lead(a.id).status is Status.ACCEPTED  # the server's version shows
        assert store.lead(b.id).decision.by == "ann@example.com"


def test_after_a_restore_a_lead_gone_to_another_rep_leaves_the_queue(live_sqlite, tmp_path):
    """A lead with a change still pending when the server's history went back, and which
    the restored server has with another rep: it must not stay in the queue for ever."""
    _seed(live_sqlite, 3)
    dev = device(tmp_path, live_sqlite, live_sqlite.ann)
    assert dev.sync().ok
    ids = sorted(dev.open_ids())
    dev.decide([ids[0]], "reject", "no_budget")
    with dev.open() as store:
        store.pending()  # handed out (in flight)
        store.start_heal()  # the server's history went back (as the engine finds out)
    live_sqlite.backend.assign(ids[0], "bob@example.com")
    report = dev.sync()
    assert report.ok
    assert ids[0] not in dev.open_ids() and dev.pending() == 0
    with dev.open() as store:
        assert store.lead(ids[0]) is None
        assert [(c.lead_id, c.error) for c in store.conflicts()] == [(ids[0], "not_assigned")]
