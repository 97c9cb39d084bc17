"""The client and the real server on loopback: faults, repeats, conflicts. Nothing lost, nothing twice."""

from __future__ import annotations

import threading
from collections import Counter

import pytest

from tests.support.backend import open_leads_by_rep
from tests.support.client import NO_WAIT, decisions_per_lead, device, server_events
from tests.support.factories import lead_row
from tests.support.faults import FAULTS, FaultTransport
from triage.store import Store
from triage.sync.client import ApiClient
from triage.sync.engine import RetryPolicy, SyncEngine


def _seed(live, n: int, owner: str = "ann@example.com", start: int = 0) -> None:
    live.upsert([lead_row(i, owner=owner) for i in range(start, start + n)])


def test_first_sync_pulls_the_queue_and_the_policy(live_sqlite, tmp_path):
    _seed(live_sqlite, 30)
    _seed(live_sqlite, 5, owner="bob@example.com", start=100)
    dev = device(tmp_path, live_sqlite, live_sqlite.ann)
    report = dev.sync()
    assert report.ok and report.pulled == 30 and report.pending == 0
    assert dev.open_ids() == open_leads_by_rep(live_sqlite.backend)["ann@example.com"]
    with dev.open() as store:
        assert store.me()["email"] == "ann@example.com"
        assert store.sync_state().policy_version == 1
        assert {r.code for r in store.policy().reject_reasons} >= {"no_budget", "other"}


def test_decisions_reach_the_server_once_and_a_second_sync_changes_nothing(live_sqlite, tmp_path):
    _seed(live_sqlite, 20)
    dev = device(tmp_path, live_sqlite, live_sqlite.ann)
    dev.sync()
    ids = sorted(dev.open_ids())
    dev.decide(ids[:5], "reject", "no_budget")
    dev.decide(ids[5:7], "accept")
    dev.decide(ids[7:8], "nurture", "timing_later")
    assert dev.pending() == 8
    report = dev.sync()
    assert report.ok and report.pushed == 8 and report.applied == 8 and report.pending == 0
    for lead_id in ids[:5]:
        lead = live_sqlite.backend.lead(lead_id)
        assert lead["status"] == "rejected" and lead["decision"]["reason"] == "no_budget"
    assert live_sqlite.backend.lead(ids[5])["status"] == "accepted"
    assert live_sqlite.backend.lead(ids[7])["status"] == "nurture"
    before = server_events(live_sqlite.backend)
    again = dev.sync()
    assert again.ok and again.pushed == 0
    assert server_events(live_sqlite.backend) == before
    assert set(decisions_per_lead(live_sqlite.backend).values()) == {1}


@pytest.mark.parametrize("fault", FAULTS)
def test_each_fault_on_push_is_survived_exactly_once(live_sqlite, tmp_path, fault):
    _seed(live_sqlite, 12)
    dev = device(tmp_path, live_sqlite, live_sqlite.ann)
    dev.sync()
    ids = sorted(dev.open_ids())
    dev.decide(ids, "reject", "not_icp_fit")

    def on_push(request):
        return fault if request.url.path == "/v1/sync/push" else None

    # Every push fails: the sync fails cleanly, and the outbox stays whole.
    always = FaultTransport(on_push)
    report = dev.sync(transport=always)
    assert not report.ok and report.pending == 12 and report.error
    assert always.faults_injected() >= 1
    # The fault once, then the network heals: everything lands, once.
    once = FaultTransport.script([fault])
    report = dev.sync(transport=once)
    assert report.ok, report.error
    assert dev.pending() == 0
    per_lead = decisions_per_lead(live_sqlite.backend)
    assert per_lead == Counter(dict.fromkeys(ids, 1))
    with dev.open() as store:
        assert store.conflicts() == []
        assert store.queue_count(_all_open()) == 0


def _all_open():
    from triage.domain import Filter

    return Filter()


def test_random_faults_on_every_request_still_converge(live_sqlite, tmp_path):
    _seed(live_sqlite, 60)
    dev = device(tmp_path, live_sqlite, live_sqlite.ann)
    assert dev.sync().ok
    ids = sorted(dev.open_ids())
    for i in range(0, 60, 6):
        dev.decide(ids[i : i + 3], "reject", "no_need")
        faulty = FaultTransport.random(rate=0.5, seed=i)
        dev.sync(transport=faulty)  # may or may not succeed
    for _ in range(5):
        if dev.sync().ok and dev.pending() == 0:
            break
    assert dev.pending() == 0
    decided = [ids[i + j] for i in range(0, 60, 6) for j in range(3)]
    assert decisions_per_lead(live_sqlite.backend) == Counter(dict.fromkeys(decided, 1))
    assert dev.open_ids() == open_leads_by_rep(live_sqlite.backend)["ann@example.com"]


def test_the_same_push_twice_at_once_applies_once(live_sqlite, tmp_path):
    _seed(live_sqlite, 40)
    dev = device(tmp_path, live_sqlite, live_sqlite.ann)
    dev.sync()
    ids = sorted(dev.open_ids())
    dev.decide(ids, "reject", "duplicate")
    # Hand out the seqs once, then two engines on two connections push the same batch together.
    with dev.open() as store:
        store.pending(1000)
    barrier = threading.Barrier(2)
    reports = []

    def push() -> None:
        store = Store.open(dev.db_path)
        try:
            with ApiClient(dev.url, dev.token) as client:
                engine = SyncEngine(store, client, retry=NO_WAIT)
                barrier.wait()
                reports.append(engine.sync())
        finally:
            store.close()

    threads = [threading.Thread(target=push) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert len(reports) == 2 and all(r.ok for r in reports)
    assert dev.pending() == 0
    assert decisions_per_lead(live_sqlite.backend) == Counter(dict.fromkeys(ids, 1))
    with dev.open() as store:
        assert store.conflicts() == []


def test_retry_path_backs_off_with_jitter_and_gives_up_cleanly(live_sqlite, tmp_path):
    _seed(live_sqlite, 3)
    dev = device(tmp_path, live_sqlite, live_sqlite.ann)
    dev.sync()
    dev.decide(sorted(dev.open_ids()), "accept")
    slept: list[float] = []
    policy = RetryPolicy(attempts=5, base=0.5, cap=4.0, sleep=slept.append, rng=lambda: 1.0)
    report = dev.sync(transport=FaultTransport(lambda _r: "refuse_500"), retry=policy)
    assert not report.ok and report.pending == 3
    assert slept == [1.0, 2.0, 4.0, 4.0]  # 0.5 * 2**attempt, capped; jitter rng pinned at 1
    # The failed upload is retried on the next sync (PowerSync's bug: it never was).
    assert dev.sync().ok and dev.pending() == 0


def test_wrong_token_stops_at_once_and_keeps_the_outbox(live_sqlite, tmp_path):
    _seed(live_sqlite, 4)
    dev = device(tmp_path, live_sqlite, live_sqlite.ann)
    dev.sync()
    dev.decide(sorted(dev.open_ids()), "accept")
    calls = []
    dev.token = "not-a-token"
    report = dev.sync(retry=RetryPolicy(attempts=5, sleep=calls.append))
    assert not report.ok and report.auth_failed and "401" in report.error
    assert calls == []  # no retries on 401
    assert dev.pending() == 4
    dev.token = live_sqlite.ann.token
    assert dev.sync().ok and dev.pending() == 0


def test_reassigned_while_offline_becomes_a_conflict(live_sqlite, tmp_path):
    _seed(live_sqlite, 6)
    dev = device(tmp_path, live_sqlite, live_sqlite.ann)
    dev.sync()
    ids = sorted(dev.open_ids())
    dev.decide(ids[:2], "reject", "no_budget")  # offline
    live_sqlite.backend.assign(ids[0], "bob@example.com")  # meanwhile, marketing moves one
    report = dev.sync()
    assert report.ok and report.conflicts == 1
    with dev.open() as store:
        conflicts = store.conflicts()
        assert [(c.lead_id, c.error) for c in conflicts] == [(ids[0], "not_assigned")]
        assert conflicts[0].server_lead is None  # not the rep's: the server says nothing of it
        assert conflicts[0].mutation["outcome"] == "reject"
        assert store.lead(ids[0]) is None  # it left the queue
    assert live_sqlite.backend.lead(ids[0])["status"] == "open"  # bob still has it to decide
    assert live_sqlite.backend.lead(ids[1])["status"] == "rejected"


def test_already_decided_elsewhere_becomes_a_conflict_with_the_servers_version(
    live_sqlite, tmp_path
):
    _seed(live_sqlite, 3)
    laptop = device(tmp_path, live_sqlite, live_sqlite.ann, "laptop")
    phone = device(tmp_path, live_sqlite, live_sqlite.ann, "phone")
    laptop.sync()
    phone.sync()
    target = sorted(laptop.open_ids())[0]
    laptop.decide([target], "reject", "spam_or_student")
    assert laptop.sync().ok
    phone.decide([target], "accept")  # offline, on stale data
    report = phone.sync()
    assert report.ok and report.conflicts == 1
    with phone.open() as store:
        (conflict,) = store.conflicts()
        assert conflict.error == "already_decided"
        assert conflict.server_lead is not None
        assert conflict.server_lead.status.value == "rejected"
        assert conflict.server_lead.decision.reason == "spam_or_student"
        assert store.lead(target).status.value == "rejected"  # the server's version shows
    assert decisions_per_lead(live_sqlite.backend)[target] == 1


def test_undo_after_sync_reopens_on_the_server(live_sqlite, tmp_path):
    _seed(live_sqlite, 5)
    dev = device(tmp_path, live_sqlite, live_sqlite.ann)
    dev.sync()
    ids = sorted(dev.open_ids())
    dev.decide(ids, "reject", "no_need")
    assert dev.sync().ok
    with dev.open() as store:
        undone = store.undo()
    assert undone.count == 5 and undone.via_reopen
    assert dev.open_ids() == set(ids)
    assert dev.sync().ok
    assert all(live_sqlite.backend.lead(i)["status"] == "open" for i in ids)
    kinds = Counter(e["kind"] for e in server_events(live_sqlite.backend))
    assert kinds == {"decide": 5, "reopen": 5}


def test_a_policy_change_on_the_server_reaches_the_client(live_sqlite, tmp_path):
    from triage import domain

    dev = device(tmp_path, live_sqlite, live_sqlite.ann)
    dev.sync()
    policy = domain.load_policy_toml(
        '[[reject_reasons]]\ncode = "too_small"\nlabel = "Too small"\n'
    )
    live_sqlite.backend.set_policy(policy)
    assert dev.sync().ok
    with dev.open() as store:
        assert [r.code for r in store.policy().reject_reasons] == ["too_small"]
        assert store.sync_state().policy_version == 2
