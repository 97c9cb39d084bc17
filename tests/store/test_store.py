"""The local SQLite store (triage.store) on real files."""

from __future__ import annotations

import json
import os
import sqlite3
import threading
import uuid
from dataclasses import replace
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

import pytest

from triage import domain
from triage import store as store_module
from triage.domain import Outcome, Status, parse_filter
from triage.store import ActionError, PushResult, Store, StoreError

SQLITE_MAGIC = b"SQLite format 3\x00"  # the first bytes of every SQLite database file
NOW = datetime(2025, 6, 2, 12, 0, tzinfo=timezone.utc)


def make_lead(i: int, **changes) -> domain.Lead:
    base = domain.Lead(
        id=f"L{i:04d}",
        external_id=f"ext-{i}",
        name=f"Person {i}",
        email=f"person{i}@example.com",
        title="CTO",
        company=f"Company {i}",
        source="webinar",
        campaign="q3-launch",
        score=50,
        mql_at=NOW - timedelta(hours=i),
        assigned_at=NOW - timedelta(hours=i),
        owner="rep@example.com",
    )
    return replace(base, **changes)


@pytest.fixture
def loaded(store: Store) -> Store:
    store.apply_pull([make_lead(i) for i in range(1, 6)], [], cursor=5)
    return store


def ids_of(rows) -> list[str]:
    return [r.id for r in rows]


def open_ids(store: Store, query: str = "", sort: str = "sla") -> list[str]:
    return store.queue_ids(parse_filter(query), sort, now=NOW)


# ---------------------------------------------------------------- opening


def test_open_creates_dirs_schema_and_pragmas(db_path: Path) -> None:
    with Store.open(db_path) as s:
        conn = s._conn
        assert conn.execute("PRAGMA user_version").fetchone()[0] == store_module.SCHEMA_VERSION
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert conn.execute("PRAGMA synchronous").fetchone()[0] == 2  # FULL
        assert conn.execute("PRAGMA foreign_keys").fetchone()[0] == 1
        assert conn.execute("PRAGMA busy_timeout").fetchone()[0] == 5000
        client_id = s.client_id()
        uuid.UUID(client_id)
        assert s.integrity_check() == "ok"
        assert s.sync_state() == store_module.SyncState(0, 0, None, None, 0)
        assert s.policy() == domain.DEFAULT_POLICY
    with Store.open(str(db_path)) as again:  # reopening is idempotent
        assert again.client_id() == client_id


def test_migrates_an_older_file_forward(db_path: Path) -> None:
    db_path.parent.mkdir(parents=True)
    conn = sqlite3.connect(db_path, isolation_level=None)
    store_module._MIGRATIONS[0](conn)  # a file made by schema version 1
    conn.execute("PRAGMA user_version = 1")
    conn.close()
    with Store.open(db_path) as s:
        version = s._conn.execute("PRAGMA user_version").fetchone()[0]
        assert version == store_module.SCHEMA_VERSION == 13
        indexes = {
            r[0] for r in s._conn.execute("SELECT name FROM sqlite_master WHERE type='index'")
        }
        assert {
            "leads_sla",
            "leads_score",
            "leads_external",
            "leads_account",
            "leads_email",
            "leads_suggested",
            "leads_group",
        } <= indexes
        account = [r[2] for r in s._conn.execute("PRAGMA index_info(leads_account)")]
        assert account == ["account_key", "status"]  # counted by status on the index alone
        s.apply_pull([make_lead(1)], [], 1)
        assert open_ids(s) == ["L0001"]


def _refused(path: Path, match: str) -> None:
    before = path.read_bytes()
    with pytest.raises(StoreError, match=match):
        Store.open(path)
    assert path.read_bytes() == before


def test_refuses_a_file_that_is_not_sqlite(tmp_path: Path) -> None:
    path = tmp_path / "triage.db"
    path.write_bytes(os.urandom(8192))
    _refused(path, "not a triage database")


def test_refuses_a_corrupt_sqlite_file(tmp_path: Path) -> None:
    path = tmp_path / "triage.db"
    path.write_bytes(SQLITE_MAGIC + os.urandom(8192))
    _refused(path, "not a triage database")


def test_refuses_a_damaged_triage_file(db_path: Path) -> None:
    with Store.open(db_path) as s:
        s.apply_pull([make_lead(i) for i in range(50)], [], 1)
    data = bytearray(db_path.read_bytes())
    data[100:4096] = os.urandom(4096 - 100)  # the schema page
    db_path.write_bytes(bytes(data))
    _refused(db_path, "not a triage database")


def test_refuses_another_applications_database(tmp_path: Path) -> None:
    path = tmp_path / "other.db"
    conn = sqlite3.connect(path)
    conn.execute("CREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT)")
    conn.execute("INSERT INTO notes (body) VALUES ('hello')")
    conn.commit()
    conn.close()
    _refused(path, "another application")
    # ... even one that numbers its schema
    conn = sqlite3.connect(path)
    conn.execute("PRAGMA user_version = 1")
    conn.execute("CREATE TABLE meta (key TEXT, value TEXT)")
    conn.commit()
    conn.close()
    _refused(path, "another application")


def test_refuses_a_newer_schema(db_path: Path) -> None:
    Store.open(db_path).close()
    conn = sqlite3.connect(db_path)
    conn.execute("PRAGMA user_version = 99")
    conn.close()
    _refused(db_path, "made by a newer triage")


def test_an_empty_file_becomes_a_store(tmp_path: Path) -> None:
    path = tmp_path / "triage.db"
    path.touch()
    with Store.open(path) as s:
        assert s.integrity_check() == "ok"


def test_closed_store_raises(db_path: Path) -> None:
    s = Store.open(db_path)
    s.close()
    s.close()  # twice is fine
    with pytest.raises(StoreError, match="closed"):
        s.pending_count()


# ---------------------------------------------------------------- meta


def test_me_policy_and_sync_state(store: Store) -> None:
    assert store.me() is None
    store.set_me("rep@example.com", "Rita Rep", "rep")
    assert store.me() == {"email": "rep@example.com", "name": "Rita Rep", "role": "rep"}

    policy = domain.load_policy_toml('sla_hours = 48\n[[reject_reasons]]\ncode = "too_small"\n')
    policy = replace(policy, version=7)
    store.save_policy(policy)
    assert store.policy() == policy
    assert store.sync_state().policy_version == 7

    store.record_sync(ok=False, error="connection refused", at=NOW)
    st = store.sync_state()
    assert (st.last_sync, st.last_error) == (None, "connection refused")
    store.record_sync(ok=True, error=None, at=NOW)
    st = store.sync_state()
    assert (st.last_sync, st.last_error) == (NOW, None)
    assert store.status(now=NOW).last_sync == NOW


def test_lead_round_trips_every_field(store: Store) -> None:
    lead = make_lead(
        1,
        phone="+44 20 7946 0000",
        industry="Software",
        company_size="51-200",
        country="GB",
        evidence={"budget": "Form: $50k-100k", "need": "Asked for a demo"},
        activities=(
            domain.Activity(NOW - timedelta(days=2), "web_visit", "Pricing page"),
            domain.Activity(NOW - timedelta(days=1), "form", "Demo request"),
        ),
        bant={"budget": "yes"},
        version=4,
    )
    store.apply_pull([lead], [], 1)
    assert store.lead("L0001") == lead
    assert store.lead("nope") is None


# ---------------------------------------------------------------- decide


def test_decide_one_lead(loaded: Store) -> None:
    loaded.set_me("rep@example.com", "Rita", "rep")
    at = NOW + timedelta(minutes=5)
    result = loaded.decide(
        ["L0002"], "nurture", reason="timing_later", note=" call in Q3 ",
        nurture_until=date(2025, 9, 1), at=at,
    )  # fmt: skip
    assert result.count == 1 and result.lead_ids == ("L0002",)
    lead = loaded.lead("L0002")
    assert lead.status is Status.NURTURE
    assert lead.decision == domain.Decision(
        Outcome.NURTURE, "timing_later", "call in Q3", at, "rep@example.com", date(2025, 9, 1)
    )
    assert "L0002" not in open_ids(loaded)
    [item] = loaded.pending()
    assert item.seq == 1 and item.lead_id == "L0002" and item.type == "decide"
    assert item.payload == {
        "outcome": "nurture",
        "reason": "timing_later",
        "note": "call in Q3",
        "bant": None,
        "nurture_until": "2025-09-01",
        "at": domain.format_time(at),
        "base_version": 1,
    }
    [row] = loaded.queue_page(parse_filter("status:nurture"), "sla", 0, 10, now=NOW)
    assert row.id == "L0002" and row.pending and row.status == "nurture"
    [entry] = loaded.history("L0002")
    assert (entry.kind, entry.outcome, entry.reason, entry.at) == (
        "decide",
        "nurture",
        "timing_later",
        at,
    )
    st = loaded.status(now=NOW)
    assert (st.pending, st.open, st.decided_today, st.conflicts) == (1, 4, 1, 0)


def test_decide_in_bulk_is_one_action(store: Store) -> None:
    leads = [make_lead(i) for i in range(2000)]  # more than one IN (...) chunk
    store.apply_pull(leads, [], 1)
    ids = open_ids(store, "", "name")
    result = store.decide(ids + ids[:5], "reject", reason="not_icp_fit")  # repeats are ignored
    assert result.count == 2000
    assert open_ids(store) == []
    assert store.pending_count() == 2000
    assert store.status(now=NOW).decided_today == 2000
    undone = store.undo()
    assert undone is not None and undone.count == 2000 and not undone.via_reopen
    assert store.pending_count() == 0
    assert len(open_ids(store)) == 2000
    assert store.status(now=NOW).decided_today == 0
    assert store.lead("L0007") == leads[7]


def test_a_bulk_decisions_outbox_rows_carry_each_leads_version(store: Store) -> None:
    """The outbox rows of a bulk decision, one per lead in id order, each payload the JSON
    the protocol sends with that lead's own base_version (put together in SQL)."""
    store.set_me("rep@example.com", "Rita", "rep")
    store.apply_pull([make_lead(i, version=i * 3 + 1) for i in range(1, 1200)], [], 1)
    ids = [f"L{i:04d}" for i in (1111, 7, 500, 3)]
    note = 'said "später", ∞ \\ not now'
    store.decide(ids, "reject", reason="other", note=note, at=NOW)
    conn = sqlite3.connect(store.path)
    rows = conn.execute("SELECT lead_id, type, payload, actor FROM outbox ORDER BY id").fetchall()
    conn.close()
    assert [r[0] for r in rows] == sorted(ids)
    for lead_id, kind, payload, actor in rows:
        expected = {
            "outcome": "reject", "reason": "other", "note": note, "bant": None,
            "nurture_until": None, "at": domain.format_time(NOW),
            "base_version": int(lead_id[1:]) * 3 + 1,
        }  # fmt: skip
        assert (kind, actor) == ("decide", "rep@example.com")
        assert payload == json.dumps(expected, separators=(",", ":"), ensure_ascii=False)


def test_a_refused_bulk_decision_names_the_leads_in_the_order_given(loaded: Store) -> None:
    loaded.decide(["L0004"], "accept")
    with pytest.raises(ActionError) as err:
        loaded.decide(["L0005", "X9", "L0004", "X1"], "accept")
    assert (err.value.code, err.value.message) == ("unknown_lead", "unknown lead id(s): X9, X1")
    with pytest.raises(ActionError) as err:
        loaded.decide(["L0005", "L0004", "L0001"], "accept")
    assert err.value.message == "already decided: L0004 (accepted)"
    assert loaded.pending_count() == 1


@pytest.mark.parametrize(
    ("args", "kwargs", "code", "text"),
    [
        (["L0001"], {"outcome": "reject"}, "reason_required", "needs a reason"),
        (
            ["L0001"],
            {"outcome": "reject", "reason": "nope"},
            "unknown_reason",
            "unknown reason 'nope'",
        ),
        (["L0001"], {"outcome": "reject", "reason": "other"}, "note_required", "needs a note"),
        (
            ["L0001"],
            {"outcome": "reject", "reason": "other", "note": "  "},
            "note_required",
            "note",
        ),
        (
            ["L0001"],
            {"outcome": "accept", "reason": "no_budget"},
            "unknown_reason",
            "accept takes no reason",
        ),
        (["L0001"], {"outcome": "nurture", "reason": "no_budget"}, "unknown_reason", "for nurture"),
        (["L0001"], {"outcome": "maybe"}, "bad_outcome", "unknown outcome"),
        (["L0001"], {"outcome": "accept", "note": "x" * 2001}, "note_too_long", "2000"),
        (
            ["L0001"],
            {"outcome": "accept", "nurture_until": date(2025, 9, 1)},
            "bad_value",
            "nurture only",
        ),
        (["L0001", "X1", "X2"], {"outcome": "accept"}, "unknown_lead", "X1, X2"),
        ([], {"outcome": "accept"}, "no_leads", "no leads"),
    ],
)
def test_refused_decisions_write_nothing(loaded: Store, args, kwargs, code, text) -> None:
    outcome = kwargs.pop("outcome")
    with pytest.raises(ActionError) as err:
        loaded.decide(args, outcome, **kwargs)
    assert err.value.code == code
    assert text in str(err.value)
    assert loaded.pending_count() == 0
    assert loaded.undo() is None
    assert len(open_ids(loaded)) == 5


def test_deciding_a_decided_lead_is_refused(loaded: Store) -> None:
    loaded.decide(["L0001"], "accept")
    with pytest.raises(ActionError) as err:
        loaded.decide(["L0002", "L0001"], "reject", reason="no_need")
    assert err.value.code == "not_open"
    assert "L0001 (accepted)" in str(err.value)
    assert loaded.pending_count() == 1
    assert loaded.lead("L0002").status is Status.OPEN


def test_decisions_follow_the_cached_policy(loaded: Store) -> None:
    policy = domain.load_policy_toml('[[reject_reasons]]\ncode = "too_small"\n')
    loaded.save_policy(replace(policy, version=2))
    with pytest.raises(ActionError, match="known: too_small"):
        loaded.decide(["L0001"], "reject", reason="no_budget")
    loaded.decide(["L0001"], "reject", reason="too_small")
    assert loaded.lead("L0001").decision.reason == "too_small"


# ---------------------------------------------------------------- undo


def test_pending_finds_waiting_compensations_by_lead_once_the_file_has_statistics(
    db_path: Path,
) -> None:
    """The outbox's next rows look compensations up by the lead, never by the UNIQUE seq
    index: with statistics (PRAGMA optimize at close) SQLite took `seq IS NULL` there for
    one row when it is every unsent row, and a push of 10,000 scanned 10,000 x 10,000."""
    store = Store.open(db_path)
    store.apply_pull([make_lead(i) for i in range(1, 200)], [], cursor=1)
    store.close()  # PRAGMA optimize: statistics for leads, none for the empty outbox
    store = Store.open(db_path)
    store.decide([f"L{i:04d}" for i in range(1, 200)], "reject", reason="no_budget")
    query = "EXPLAIN QUERY PLAN " + store_module.outbox._NEXT_NEW
    conn = sqlite3.connect(db_path)
    try:
        plan = [row[3] for row in conn.execute(query, (500,))]
    finally:
        conn.close()
    assert any("outbox_lead" in step for step in plan), plan
    assert not any("sqlite_autoindex_outbox" in step for step in plan), plan
    assert len(store.pending(500)) == 199
    store.close()


def test_undo_before_push_deletes_and_keeps_seqs_gap_free(loaded: Store) -> None:
    loaded.decide(["L0001"], "accept")
    loaded.decide(["L0002", "L0003"], "reject", reason="no_budget")
    undone = loaded.undo()
    assert undone.kind == "decide" and undone.count == 2 and not undone.via_reopen
    assert loaded.lead("L0002").status is Status.OPEN and loaded.lead("L0002").decision is None
    loaded.decide(["L0004"], "reject", reason="duplicate")
    assert [(i.seq, i.lead_id) for i in loaded.pending()] == [(1, "L0001"), (2, "L0004")]
    assert [e.kind for e in loaded.history("L0002")] == ["decide", "undo"]


def test_undo_twice_undoes_the_previous_action(loaded: Store) -> None:
    first = loaded.decide(["L0001"], "accept")
    second = loaded.set_bant("L0002", "budget", "no")
    assert loaded.undo().action_id == second.action_id
    assert loaded.undo().action_id == first.action_id
    assert loaded.undo() is None
    assert loaded.pending_count() == 0
    assert loaded.lead("L0001") == make_lead(1)
    assert loaded.lead("L0002") == make_lead(2)


def test_undo_after_seqs_were_handed_out_queues_a_reopen(loaded: Store) -> None:
    loaded.decide(["L0001"], "accept")
    assert [i.seq for i in loaded.pending()] == [1]  # may have reached the server
    undone = loaded.undo()
    assert undone.via_reopen and undone.count == 1
    assert loaded.lead("L0001").status is Status.OPEN
    # the reopen waits for the decision's answer: it is neither numbered nor sent before
    [item] = loaded.pending()
    assert (item.seq, item.type) == (1, "decide")
    assert loaded.pending_count() == 2
    loaded.apply_push_results([PushResult(1, "applied", None, None)])
    [reopen] = loaded.pending()
    assert (reopen.seq, reopen.type) == (2, "reopen")
    assert reopen.payload["outcome"] is None and reopen.payload["base_version"] == 1


def test_undo_of_a_decision_the_server_then_refuses_sends_nothing(loaded: Store) -> None:
    loaded.decide(["L0001"], "accept")
    [item] = loaded.pending()
    loaded.undo()
    assert loaded.pending_count() == 2 and len(loaded.pending()) == 1
    loaded.apply_push_results([PushResult(item.seq, "conflict", "already_decided", None)])
    assert loaded.pending_count() == 0 and loaded.pending() == []  # the reopen went too
    # and a decision made again after the undo waits behind the undo as well
    loaded.decide(["L0002"], "accept")
    [sent] = loaded.pending()
    loaded.undo()
    loaded.decide(["L0002"], "reject", reason="no_need")
    assert [i.seq for i in loaded.pending()] == [sent.seq]
    loaded.apply_push_results([PushResult(sent.seq, "applied", None, None)])
    assert [i.type for i in loaded.pending()] == ["reopen", "decide"]


def test_undo_of_a_partly_sent_bulk_action(loaded: Store) -> None:
    loaded.decide(["L0001", "L0002", "L0003"], "reject", reason="no_need")
    [first] = loaded.pending(limit=1)
    undone = loaded.undo()
    assert undone.count == 3 and undone.via_reopen
    assert len(open_ids(loaded)) == 5
    items = loaded.pending()
    assert [(i.seq, i.lead_id, i.type) for i in items] == [(1, first.lead_id, "decide")]
    loaded.apply_push_results([PushResult(1, "applied", None, None)])
    assert [(i.seq, i.lead_id, i.type) for i in loaded.pending()] == [(2, first.lead_id, "reopen")]


def test_undo_after_the_server_applied_it(loaded: Store) -> None:
    loaded.decide(["L0001"], "accept", at=NOW)
    [item] = loaded.pending()
    server = make_lead(1, version=2, status=Status.ACCEPTED,
                       decision=domain.Decision(Outcome.ACCEPT, None, None, NOW, "rep@example.com"))  # fmt: skip
    loaded.apply_push_results([PushResult(item.seq, "applied", None, server)])
    assert loaded.pending_count() == 0
    assert loaded.lead("L0001") == server
    assert loaded.undo().via_reopen
    assert loaded.lead("L0001").status is Status.OPEN
    [reopen] = loaded.pending()
    assert (reopen.seq, reopen.type, reopen.payload["base_version"]) == (2, "reopen", 2)


def test_undo_after_a_conflict_queues_nothing(loaded: Store) -> None:
    loaded.decide(["L0001"], "accept")
    [item] = loaded.pending()
    theirs = make_lead(1, version=3, status=Status.REJECTED,
                       decision=domain.Decision(Outcome.REJECT, "duplicate", None, NOW, "other@example.com"))  # fmt: skip
    loaded.apply_push_results([PushResult(item.seq, "conflict", "already_decided", theirs)])
    undone = loaded.undo()
    assert not undone.via_reopen
    assert loaded.pending_count() == 0
    assert loaded.lead("L0001") == theirs


def test_bant_set_cycle_and_undo(loaded: Store) -> None:
    assert loaded.cycle_bant("L0001", "budget") == domain.Answer.YES
    assert loaded.cycle_bant("L0001", "budget") == domain.Answer.NO
    assert loaded.lead("L0001").bant == {"budget": "no"}
    [row] = loaded.queue_page(parse_filter("bant:budget=no"), "sla", 0, 10, now=NOW)
    assert row.bant == ("no", "unknown", "unknown", "unknown")
    items = loaded.pending()  # both handed out
    assert [i.payload["bant"] for i in items] == [{"budget": "yes"}, {"budget": "no"}]
    undone = loaded.undo()
    assert undone.kind == "bant" and undone.via_reopen
    assert loaded.lead("L0001").bant == {"budget": "yes"}
    # the restore waits for the answer to the answer it undoes
    assert [i.payload["bant"] for i in loaded.pending()] == [{"budget": "yes"}, {"budget": "no"}]
    loaded.apply_push_results([PushResult(i.seq, "applied", None, None) for i in items])
    assert loaded.pending()[-1].payload["bant"] == {"budget": "yes"}
    assert loaded.lead("L0001").bant == {"budget": "yes"}
    loaded.set_bant("L0001", "need", "yes")  # never sent: undo deletes it
    loaded.undo()
    assert loaded.lead("L0001").bant == {"budget": "yes"}
    assert loaded.pending_count() == 1
    with pytest.raises(ActionError) as err:
        loaded.set_bant("L0001", "color", "yes")
    assert err.value.code == "unknown_bant_key"
    with pytest.raises(ActionError) as err:
        loaded.set_bant("L0001", "budget", "maybe")
    assert err.value.code == "bad_bant_value"
    with pytest.raises(ActionError):
        loaded.set_bant("X", "budget", "yes")


def test_undo_restores_an_answer_a_later_sent_mutation_would_overwrite(loaded: Store) -> None:
    loaded.set_bant("L0001", "budget", "yes")  # never sent
    loaded.set_bant("L0001", "budget", "no")
    loaded.pending()  # both handed out
    loaded.undo()  # "no" -> restore "yes" (a compensating mutation)
    assert loaded.lead("L0001").bant == {"budget": "yes"}
    loaded.undo()  # "yes" -> back to unknown
    assert loaded.lead("L0001").bant == {"budget": "unknown"}


# ---------------------------------------------------------------- pull


def test_pull_replays_pending_mutations_over_server_state(loaded: Store) -> None:
    loaded.decide(["L0001"], "reject", reason="no_budget")
    loaded.set_bant("L0001", "need", "no")
    newer = make_lead(1, version=2, score=90, bant={"budget": "yes"}, title="CEO")
    applied = loaded.apply_pull([newer], [], cursor=6)
    assert applied.leads == 1
    view = loaded.lead("L0001")
    assert view.status is Status.REJECTED and view.decision.reason == "no_budget"
    assert view.bant == {"budget": "yes", "need": "no"}
    assert (view.score, view.title, view.version) == (90, "CEO", 2)
    assert loaded.pending_count() == 2
    assert loaded.sync_state().cursor == 6
    # the queue's columns follow the view
    [row] = loaded.queue_page(parse_filter("status:rejected bant:need=no"), "sla", 0, 5, now=NOW)
    assert row.title == "CEO" and row.score == 90


def test_pull_ignores_an_older_version(loaded: Store) -> None:
    loaded.apply_pull([make_lead(1, version=5, score=99)], [], cursor=6)
    loaded.apply_pull([make_lead(1, version=4, score=10)], [], cursor=7)
    assert loaded.lead("L0001").score == 99
    assert loaded.sync_state().cursor == 7


def test_revoked_lead_with_an_unsent_decision_becomes_a_conflict(loaded: Store) -> None:
    loaded.decide(["L0001"], "accept")
    applied = loaded.apply_pull([], ["L0001", "L0002", "unknown-id"], cursor=9)
    assert (applied.revoked, applied.conflicts) == (2, 1)
    assert loaded.lead("L0001") is None and loaded.lead("L0002") is None
    assert "L0001" not in open_ids(loaded, "status:open status:accepted")
    assert loaded.pending_count() == 0
    [c] = loaded.conflicts()
    assert (c.lead_id, c.lead_name, c.seq, c.status, c.error) == (
        "L0001",
        "Person 1",
        None,
        "conflict",
        "not_assigned",
    )
    assert c.server_lead is None
    assert c.mutation["type"] == "decide" and c.mutation["outcome"] == "accept"
    assert loaded.status(now=NOW).conflicts == 1
    assert [e.kind for e in loaded.history("L0001")] == ["decide", "conflict"]
    loaded.resolve_conflict(c.id)
    assert loaded.conflicts() == [] and loaded.status(now=NOW).conflicts == 0
    with pytest.raises(ActionError):
        loaded.resolve_conflict(12345)
    assert loaded.undo().count == 0  # the lead is gone: nothing to restore


def test_revoked_lead_with_a_sent_decision_waits_for_the_answer(loaded: Store) -> None:
    loaded.decide(["L0001"], "accept")
    loaded.decide(["L0002"], "accept")
    sent = loaded.pending()
    loaded.apply_pull([], ["L0001"], cursor=9)
    # seq 1 stays: dropping it would make seq 2 out_of_order on the server
    assert [(i.seq, i.lead_id) for i in loaded.pending()] == [(1, "L0001"), (2, "L0002")]
    assert loaded.conflicts() == []
    loaded.apply_push_results(
        [PushResult(sent[0].seq, "conflict", "not_assigned"), PushResult(sent[1].seq, "applied")]
    )
    assert loaded.pending_count() == 0
    [c] = loaded.conflicts()
    assert (c.lead_id, c.seq, c.error) == ("L0001", 1, "not_assigned")


def test_reset_keeps_the_outbox_and_its_leads(loaded: Store) -> None:
    loaded.decide(["L0001"], "accept")
    applied = loaded.apply_pull([make_lead(7)], [], cursor=1, reset=True)
    assert applied.reset_dropped == 4  # L0002..L0005
    assert sorted(open_ids(loaded, "status:open status:accepted")) == ["L0001", "L0007"]
    assert loaded.lead("L0001").status is Status.ACCEPTED
    assert loaded.pending_count() == 1
    assert loaded.sync_state().cursor == 1


def test_reset_takes_the_servers_older_version(loaded: Store) -> None:
    loaded.apply_pull([make_lead(1, version=9)], [], cursor=9)
    loaded.decide(["L0001"], "accept")
    loaded.apply_pull([make_lead(1, version=2, score=3)], [], cursor=1, reset=True)
    view = loaded.lead("L0001")
    assert (view.version, view.score, view.status) == (2, 3, Status.ACCEPTED)


def test_last_seq_from_pull_drops_processed_rows(loaded: Store) -> None:
    loaded.decide(["L0001"], "accept")
    loaded.decide(["L0002"], "accept")
    loaded.pending()  # seqs 1, 2 handed out; the response is lost
    loaded.decide(["L0003"], "accept")  # not handed out
    server = make_lead(1, version=2, status=Status.ACCEPTED,
                       decision=domain.Decision(Outcome.ACCEPT, None, None, NOW, "rep@example.com"))  # fmt: skip
    applied = loaded.apply_pull([server], [], cursor=10, last_seq=1)
    assert applied.processed == 1
    assert [(i.seq, i.lead_id) for i in loaded.pending()] == [(2, "L0002"), (3, "L0003")]
    assert loaded.lead("L0001") == server
    assert loaded.sync_state().last_seq == 1
    # without last_seq nothing is dropped
    loaded.apply_pull([], [], cursor=11)
    assert loaded.pending_count() == 2


def test_a_server_ahead_of_this_file_moves_next_seq_on(loaded: Store) -> None:
    loaded.apply_pull([], [], cursor=5, last_seq=40)  # e.g. the file came from a backup
    loaded.decide(["L0001"], "accept")
    assert [i.seq for i in loaded.pending()] == [41]


# ---------------------------------------------------------------- push results


def _decided_server(i: int, version: int, outcome: Outcome = Outcome.ACCEPT) -> domain.Lead:
    decision = domain.Decision(
        outcome, None if outcome is Outcome.ACCEPT else "no_need", None, NOW, "rep@example.com"
    )
    return make_lead(i, version=version, status=outcome.status, decision=decision)


def test_push_results_each_status(loaded: Store) -> None:
    for i in range(1, 6):
        loaded.decide([f"L{i:04d}"], "accept")
    items = loaded.pending()
    assert [i.seq for i in items] == [1, 2, 3, 4, 5]
    theirs = _decided_server(3, 4, Outcome.REJECT)
    loaded.apply_push_results(
        [
            PushResult(1, "applied", None, _decided_server(1, 2)),
            PushResult(2, "duplicate", None, None, stored="applied"),
            PushResult(3, "conflict", "already_decided", theirs),
            PushResult(4, "invalid", "unknown_reason", None),
            PushResult(5, "out_of_order", None, None),
        ],
        last_seq=4,
    )
    assert [i.seq for i in loaded.pending()] == [5]
    assert loaded.lead("L0001") == _decided_server(1, 2)
    # no lead sent back: the view is the server state we have, until the next pull
    assert loaded.lead("L0002").status is Status.OPEN
    assert loaded.lead("L0003") == theirs
    assert loaded.lead("L0004").status is Status.OPEN  # refused: the server's state shows
    assert loaded.lead("L0005").status is Status.ACCEPTED  # still pending
    conflicts = loaded.conflicts()
    assert [(c.lead_id, c.seq, c.status, c.error) for c in conflicts] == [
        ("L0003", 3, "conflict", "already_decided"),
        ("L0004", 4, "invalid", "unknown_reason"),
    ]
    assert conflicts[0].server_lead == theirs
    assert conflicts[0].mutation == {
        "seq": 3,
        "lead_id": "L0003",
        "type": "decide",
        **items[2].payload,
    }
    assert loaded.sync_state().last_seq == 4


def test_duplicate_with_a_stored_conflict_is_a_conflict(loaded: Store) -> None:
    loaded.decide(["L0001"], "accept")
    loaded.pending()
    loaded.apply_push_results([PushResult(1, "duplicate", "not_assigned", None, stored="conflict")])
    [c] = loaded.conflicts()
    assert (c.seq, c.status, c.error) == (1, "conflict", "not_assigned")
    assert loaded.pending_count() == 0
    assert loaded.lead("L0001").status is Status.OPEN


def test_push_result_for_an_answered_seq_is_harmless(loaded: Store) -> None:
    loaded.decide(["L0001"], "accept")
    loaded.pending()
    loaded.apply_push_results([PushResult(1, "applied", None, _decided_server(1, 2))])
    loaded.apply_push_results([PushResult(1, "duplicate", None, _decided_server(1, 2), "applied")])
    assert loaded.conflicts() == [] and loaded.pending_count() == 0
    assert loaded.lead("L0001") == _decided_server(1, 2)


# ---------------------------------------------------------------- queue


@pytest.fixture
def queue(store: Store) -> Store:
    leads = [
        make_lead(1, name="Ada Lovelace", company="Analytical Engines", source="Webinar",
                  campaign="Q3-Launch", score=90, mql_at=NOW - timedelta(hours=30)),
        make_lead(2, name="Grace Hopper", company="Navy Systems", source="tradeshow",
                  campaign="roadshow-emea", score=15, mql_at=NOW - timedelta(hours=50),
                  bant={"budget": "no"}),
        make_lead(3, name="Alan Turing", company=None, title="Head of IT", source="tradeshow",
                  campaign="roadshow-us", score=10, mql_at=NOW - timedelta(hours=2)),
        make_lead(4, name="barbara Liskov", company="CLU Labs", source="content",
                  campaign="ebook_100%", score=70, mql_at=None, bant={"budget": "yes"}),
        make_lead(5, name="Edsger Dijkstra", company="Analytical Engines", source="referral",
                  campaign=None, score=90, mql_at=NOW - timedelta(hours=50)),
    ]  # fmt: skip
    # assigned when they became MQLs: the SLA clock runs from there
    leads = [replace(lead, assigned_at=lead.mql_at) for lead in leads]
    store.apply_pull(leads, [], 1)
    return store


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("", {"L0001", "L0002", "L0003", "L0004", "L0005"}),
        ("source:tradeshow", {"L0002", "L0003"}),
        ("source:WEBINAR", {"L0001"}),
        ("source:webin", set()),  # source is exact
        ("source:webinar source:content", {"L0001", "L0004"}),
        ("campaign:roadshow", {"L0002", "L0003"}),
        ("campaign:q3", {"L0001"}),
        ("score:<20", {"L0002", "L0003"}),
        ("score:>70", {"L0001", "L0005"}),
        ("score:90", {"L0001", "L0005"}),
        ("source:tradeshow score:<12", {"L0003"}),
        ("bant:budget=no", {"L0002"}),
        ("bant:budget=unknown", {"L0001", "L0003", "L0005"}),
        ("age:>24h", {"L0001", "L0002", "L0005"}),
        ("age:>2d", {"L0002", "L0005"}),
        ("age:<1d", {"L0003", "L0004"}),  # no mql_at counts as age 0
        ("analytical", {"L0001", "L0005"}),
        ("analytical ada", {"L0001"}),
        ("HEAD", {"L0003"}),
        ("person3@example", {"L0003"}),
        ("100%", {"L0004"}),
        ("%", {"L0004"}),
        ("e%k", set()),  # LIKE wildcards are literal
        ("a_a", set()),
        ("zzz", set()),
        ("status:accepted", set()),
    ],
)
def test_filter_tokens(queue: Store, query: str, expected: set[str]) -> None:
    flt = parse_filter(query)
    assert set(queue.queue_ids(flt, "sla", now=NOW)) == expected
    assert queue.queue_count(flt, now=NOW) == len(expected)
    assert set(ids_of(queue.queue_page(flt, "score", 0, 50, now=NOW))) == expected


def test_status_filter_and_default(queue: Store) -> None:
    queue.decide(["L0001"], "accept")
    queue.decide(["L0002"], "reject", reason="no_budget")
    assert "L0001" not in open_ids(queue)
    assert open_ids(queue, "status:accepted") == ["L0001"]
    assert set(open_ids(queue, "status:accepted status:rejected")) == {"L0001", "L0002"}
    assert open_ids(queue, "status:rejected grace") == ["L0002"]


@pytest.mark.parametrize(
    ("sort", "expected"),
    [
        ("sla", ["L0005", "L0002", "L0001", "L0003", "L0004"]),  # oldest MQL first, then score
        ("score", ["L0005", "L0001", "L0004", "L0002", "L0003"]),  # ties: the older first
        ("age", ["L0003", "L0001", "L0005", "L0002", "L0004"]),  # newest first, no time last
        ("name", ["L0001", "L0003", "L0004", "L0005", "L0002"]),  # case-insensitive
        ("company", ["L0001", "L0005", "L0004", "L0002", "L0003"]),  # no company last
    ],
)
def test_sorts(queue: Store, sort: str, expected: list[str]) -> None:
    assert open_ids(queue, "", sort) == expected
    assert ids_of(queue.queue_page(parse_filter(""), sort, 0, 10, now=NOW)) == expected
    # the scanning path (any filter term) sorts the same way
    assert open_ids(queue, "score:>0", sort) == expected


def test_unknown_sort(queue: Store) -> None:
    with pytest.raises(ValueError, match="unknown sort"):
        queue.queue_page(parse_filter(""), "random", 0, 10)


def test_paging(store: Store) -> None:
    store.apply_pull([make_lead(i, score=i % 7) for i in range(1, 121)], [], 1)
    for query in ("", "score:>2"):
        for sort in Store.SORTS:
            flt = parse_filter(query)
            every = store.queue_ids(flt, sort, now=NOW)
            pages = []
            for offset in range(0, len(every) + 25, 25):
                pages += ids_of(store.queue_page(flt, sort, offset, 25, now=NOW))
            assert pages == every
            assert len(every) == store.queue_count(flt, now=NOW)


@pytest.mark.parametrize("sort", Store.SORTS)
@pytest.mark.parametrize("query", ["", "score:>12", "tradeshow"])
def test_a_reversed_sort_is_exactly_the_reverse(queue: Store, sort: str, query: str) -> None:
    """ "-score" is "score" the other way round: ties, NULLs and pages included, and an
    indexed sort walks its index backwards (no sort step)."""
    flt = parse_filter(query)
    forward = queue.queue_ids(flt, sort, now=NOW)
    assert queue.queue_ids(flt, "-" + sort, now=NOW) == forward[::-1]
    paged = ids_of(queue.queue_page(flt, "-" + sort, 0, 2, now=NOW))
    paged += ids_of(queue.queue_page(flt, "-" + sort, 2, 10, now=NOW))
    assert paged == forward[::-1]
    if sort in ("sla", "score") and not query:
        where, params = queue._where(flt, NOW, "-" + sort)
        sql = f"SELECT id FROM leads WHERE {where} ORDER BY {queue._order('-' + sort)} LIMIT 9"
        with queue._read() as conn:
            plan = " ".join(r[-1] for r in conn.execute("EXPLAIN QUERY PLAN " + sql, params))
        assert "INDEX leads_" in plan and "TEMP B-TREE" not in plan, plan


@pytest.mark.parametrize("sort", [*Store.SORTS, *(f"-{s}" for s in Store.SORTS)])
@pytest.mark.parametrize("query", ["", "score:>12", "tradeshow"])
def test_next_in_queue_walks_the_queue_order(queue: Store, sort: str, query: str) -> None:
    """The lead after (and before) each one, as the queue orders them; None at the ends.
    The sorts have ties, NULLs (no MQL time, no company) and both directions."""
    flt = parse_filter(query)
    order = queue.queue_ids(flt, sort, now=NOW)
    for i, lead_id in enumerate(order):
        after = order[i + 1] if i + 1 < len(order) else None
        before = order[i - 1] if i else None
        assert queue.next_in_queue(lead_id, flt, sort, now=NOW) == after
        assert queue.next_in_queue(lead_id, flt, sort, step=-1, now=NOW) == before


def test_next_in_queue_after_a_lead_that_left_it(queue: Store) -> None:
    flt = parse_filter("")
    assert open_ids(queue) == ["L0005", "L0002", "L0001", "L0003", "L0004"]
    queue.decide(["L0001"], "accept")  # decided: no longer in the open queue
    assert queue.next_in_queue("L0001", flt, "sla", now=NOW) == "L0003"
    assert queue.next_in_queue("L0001", flt, "sla", step=-1, now=NOW) == "L0002"
    # a lead the filter does not match: its place is where its sort values put it
    assert queue.next_in_queue("L0005", parse_filter("score:<20"), "sla", now=NOW) == "L0002"
    assert queue.next_in_queue("L0003", parse_filter("score:>80"), "sla", now=NOW) is None
    assert queue.next_in_queue("L9999", flt, "sla", now=NOW) is None


def test_queue_row(queue: Store) -> None:
    [row] = queue.queue_page(parse_filter("grace"), "sla", 0, 10, now=NOW)
    assert row == store_module.QueueRow(
        id="L0002", name="Grace Hopper", title="CTO", company="Navy Systems",
        source="tradeshow", campaign="roadshow-emea", score=15,
        mql_at=NOW - timedelta(hours=50), status="open",
        bant=("no", "unknown", "unknown", "unknown"), pending=False,
        sla_at=NOW - timedelta(hours=50), account="example.com",
    )  # fmt: skip


# ---------------------------------------------------------------- status, threads


def test_status_counts(queue: Store) -> None:
    queue.decide(["L0001", "L0002"], "reject", reason="no_need")
    queue.decide(["L0003"], "accept")
    queue.pending()
    queue.apply_push_results([PushResult(3, "conflict", "already_decided")])
    st = queue.status(now=NOW)
    assert (st.pending, st.conflicts, st.open, st.decided_today) == (2, 1, 3, 3)
    # tomorrow nothing was decided today
    assert queue.status(now=domain.utcnow() + timedelta(days=2)).decided_today == 0


def test_two_stores_on_one_file_from_two_threads(db_path: Path) -> None:
    ui = Store.open(db_path)
    worker = Store.open(db_path)
    try:
        ui.apply_pull([make_lead(i) for i in range(200)], [], 1)
        errors: list[BaseException] = []

        def decide_half(s: Store, ids: list[str]) -> None:
            try:
                for lead_id in ids:
                    s.decide([lead_id], "accept")
                    s.pending(limit=5)
            except BaseException as exc:  # pragma: no cover - reported below
                errors.append(exc)

        ids = [f"L{i:04d}" for i in range(200)]
        threads = [
            threading.Thread(target=decide_half, args=(ui, ids[:100])),
            threading.Thread(target=decide_half, args=(worker, ids[100:])),
        ]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert errors == []
        seqs = [i.seq for i in worker.pending(limit=1000)]
        assert seqs == list(range(1, 201))
        assert ui.status(now=NOW).open == 0
        assert ui.integrity_check() == "ok"
    finally:
        ui.close()
        worker.close()


def test_state_survives_reopen(db_path: Path) -> None:
    with Store.open(db_path) as s:
        s.apply_pull([make_lead(i) for i in range(1, 4)], [], 3)
        s.decide(["L0001"], "accept")
        s.pending()
        s.decide(["L0002"], "reject", reason="duplicate")
    with Store.open(db_path) as s:
        assert s.lead("L0002").status is Status.REJECTED
        assert s.sync_state().cursor == 3
        assert s.undo().via_reopen is False  # never handed out: simply deleted
        assert [(i.seq, i.lead_id) for i in s.pending()] == [(1, "L0001")]
        assert s.lead("L0002").status is Status.OPEN


def test_opening_the_store_again_keeps_the_other_connections_locks(tmp_path):
    """Found by a newcomer: the TUI's sync worker opens the store every round. Opening
    read the file header with a plain open()/close(), which drops every POSIX lock the
    process holds on the file; a CLI process then checkpointed and deleted the WAL under
    the TUI's connection and the database was corrupted."""
    import subprocess
    import sys

    path = tmp_path / "triage.db"
    ui = Store.open(path)
    conn = ui._conn
    conn.execute("CREATE TABLE probe (v)")
    conn.execute("INSERT INTO probe VALUES (1)")
    Store.open(path).close()  # what the sync worker does each round
    writer = (
        "import sqlite3, sys; c = sqlite3.connect(sys.argv[1], isolation_level=None); "
        "c.execute('INSERT INTO probe SELECT randomblob(2000) FROM "
        "(SELECT 1 UNION SELECT 2 UNION SELECT 3)'); c.close()"
    )
    for _ in range(3):  # another process (`triage decide` in a terminal) writes and exits
        subprocess.run([sys.executable, "-c", writer, str(path)], check=True)
        conn.execute("INSERT INTO probe SELECT randomblob(3000) FROM (SELECT 1 UNION SELECT 2)")
    assert conn.execute("SELECT count(*) FROM probe").fetchone()[0] == 1 + 3 * 3 + 3 * 2
    ui.close()
    check = sqlite3.connect(path)
    try:
        assert check.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    finally:
        check.close()


def _version_3_file(db_path: Path, leads: list[domain.Lead]) -> None:
    """A store file as schema version 3 wrote it (before the SLA clock and folded search)."""
    db_path.parent.mkdir(parents=True, exist_ok=True)
    conn = sqlite3.connect(db_path, isolation_level=None)
    for migration in store_module._MIGRATIONS[:3]:
        migration(conn)
    conn.execute("PRAGMA user_version = 3")
    for lead in leads:
        mql = lead.mql_at.timestamp() if lead.mql_at else None
        words = (lead.name, lead.company, lead.title, lead.email, lead.campaign, lead.source)
        conn.execute(
            "INSERT INTO leads (id, version, name, title, company, source, campaign, source_key, "
            "campaign_key, score, mql_at, mql_sort, name_key, company_key, search, status) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 'open')",
            (lead.id, lead.version, lead.name, lead.title, lead.company, lead.source,
             lead.campaign, (lead.source or "").lower(), (lead.campaign or "").lower(),
             lead.score, mql, mql or 1e18, lead.name.casefold(), (lead.company or "").casefold(),
             "\n".join(w for w in words if w).lower()),
        )  # fmt: skip
        conn.execute(
            "INSERT INTO lead_server (id, version, json) VALUES (?, ?, ?)",
            (lead.id, lead.version, json.dumps(domain.lead_to_dict(lead))),
        )
    conn.close()


def test_a_version_3_file_gains_the_sla_clock_and_folded_search(db_path: Path) -> None:
    fresh = replace(make_lead(1), name="Jürgen Schäfer", source="Tradeshow",
                    mql_at=NOW - timedelta(days=10), assigned_at=NOW - timedelta(hours=2))  # fmt: skip
    stale = replace(make_lead(2), name="Ana Kühne", mql_at=NOW - timedelta(hours=30),
                    assigned_at=None)  # fmt: skip
    _version_3_file(db_path, [fresh, stale])
    with Store.open(db_path) as s:
        assert s._conn.execute("PRAGMA user_version").fetchone()[0] == store_module.SCHEMA_VERSION
        assert s.queue_count(domain.parse_filter("schafer")) == 1
        assert s.queue_count(domain.parse_filter("KUHNE")) == 1
        assert s.queue_count(domain.parse_filter("tradeshow jurgen")) == 1
        # the SLA clock runs from the assignment (else the MQL time): the lead MQL'd ten
        # days ago but assigned two hours ago is the less urgent one
        assert s.queue_ids(domain.Filter(), "sla", now=NOW) == [stale.id, fresh.id]
        assert s.queue_ids(domain.parse_filter("age:>24h"), "sla", now=NOW) == [stale.id]
        rows = {r.id: r for r in s.queue_page(domain.Filter(), "sla", 0, 10, now=NOW)}
        assert rows[fresh.id].sla_at == fresh.assigned_at
        assert rows[stale.id].sla_at == stale.mql_at
        indexes = dict(s._conn.execute("SELECT name, sql FROM sqlite_master WHERE type='index'"))
        assert "sla_sort" in indexes["leads_sla"] and "sla_sort" in indexes["leads_score"]


def _decision_ids(store: Store) -> dict[str, str]:
    with sqlite3.connect(store.path) as conn:
        rows = conn.execute(
            "SELECT lead_id, decision_id FROM action_leads WHERE decision_id IS NOT NULL"
        ).fetchall()
    return dict(rows)


def test_a_decision_numbered_again_after_a_restore_keeps_an_identity_never_used(
    loaded: Store,
) -> None:
    """A restored server knows mutation 1 and no more: the unanswered ones are numbered
    again from 2, but a decision's id ("client:seq") is for ever. The one numbered before
    keeps its first id (as origin); one made now gets a number no decision ever had."""
    me = loaded.client_id()
    loaded.decide(["L0001", "L0002"], "accept")
    assert [i.seq for i in loaded.pending()] == [1, 2]
    loaded.apply_push_results([PushResult(s, "applied", None, None) for s in (1, 2)])
    loaded.decide(["L0003"], "accept")
    assert [i.seq for i in loaded.pending()] == [3]  # sent, its answer lost

    assert loaded.renumber_unanswered(1) == 1  # the server was restored to seq 1
    loaded.decide(["L0004"], "reject", reason="no_need")
    items = loaded.pending()
    assert [(i.seq, i.lead_id) for i in items] == [(2, "L0003"), (3, "L0004")]
    assert [i.payload.get("origin") for i in items] == [
        {"client_id": me, "seq": 3},
        {"client_id": me, "seq": 4},  # 3 named L0003's decision once
    ]
    loaded.apply_push_results([PushResult(s, "applied", None, None) for s in (2, 3)])
    loaded.decide(["L0005"], "accept")
    [item] = loaded.pending()
    assert item.seq == 4 and item.payload.get("origin") == {"client_id": me, "seq": 5}
    ids = _decision_ids(loaded)
    assert ids == {f"L000{n}": f"{me}:{n}" for n in range(1, 6)}
    # after a restart too: the highest number used is kept in the file
    loaded.apply_push_results([PushResult(4, "applied", None, None)])  # no lead: open here
    loaded.close()
    again = Store.open(loaded.path)
    try:
        again.decide(["L0005"], "nurture", reason="timing_later")
        [item] = again.pending()
        assert (item.seq, item.payload.get("origin")) == (5, {"client_id": me, "seq": 6})
        again.set_bant("L0001", "budget", "yes")
        again.apply_push_results([PushResult(5, "applied", None, None)])
        assert [i.seq for i in again.pending()] == [6]  # a BANT answer: it names nothing
        again.apply_push_results([PushResult(6, "applied", None, None)])
        again.decide(["L0005"], "accept")
        [item] = again.pending()  # 7 never named a decision: no origin needed
        assert (item.seq, item.payload.get("origin")) == (7, None)
    finally:
        again.close()


def test_deferred_checkpoints_wait_for_checkpoint(db_path: Path) -> None:
    """A store that defers checkpoints leaves the database file as it was, even after a
    commit that takes the write-ahead log past SQLite's 1,000 pages, until checkpoint();
    its commits are in the log meanwhile, as readers see."""
    from tests.support.factories import make_leads

    store = Store.open(db_path)
    store.save_policy(domain.DEFAULT_POLICY)
    store.apply_pull(make_leads(0, 5000, NOW), [], cursor=1)
    store.checkpoint()
    store.defer_checkpoints()
    before = db_path.read_bytes()
    store.decide(open_ids(store), "reject", reason="no_budget")
    assert db_path.stat().st_size and db_path.read_bytes() == before
    assert Path(f"{db_path}-wal").stat().st_size > 1000 * 4096  # past SQLite's autocheckpoint
    with Store.open(db_path) as other:
        assert other.pending_count() == 5000
    store.checkpoint()
    assert db_path.read_bytes() != before
    store.close()
