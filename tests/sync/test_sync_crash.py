"""kill -9 at random moments: the real CLI in subprocesses, the real server on loopback.

Each round starts `python -m triage decide reject ID... --reason R --note round-N` or
`python -m triage sync` and SIGKILLs it: a decide after a random 0..0.4 s (start-up, its
one transaction, or already done); a sync at a random moment of a whole sync's life
(imports, numbering the outbox, mid-HTTP, recording answers, pulling); a sync the moment
the server has committed its push (the answer lost with the process); and a sync killed
while a decide on the same file runs beside it to completion. At least 30 rounds, until
at least 24 processes were killed while still running, every kind of round among them.
After each round the client file is intact, and a killed decide landed whole or not at
all. Afterwards `triage sync` (a few tries at most) must leave client and server
agreeing exactly:

- the client database is intact, its outbox is empty, and nothing conflicts;
- every lead decided on the client is decided on the server with the same outcome,
  reason and note, and every lead decided on the server is decided on the client;
- the server holds one decide event per decided lead (nothing sent twice);
- every decide round landed whole or not at all, on the server too.

Each decide round carries its own note ("round-N"), so the leads it decided can be told
apart from those a later round decided after it was killed. TRIAGE_CRASH_SEED changes
the seed.
"""

from __future__ import annotations

import os
import random
import signal
import sqlite3
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests.support.backend import open_leads_by_rep
from tests.support.client import decisions_per_lead, device
from tests.support.factories import lead_row
from triage.domain import Filter
from triage.store import Store

SEED = int(os.environ.get("TRIAGE_CRASH_SEED", "20261120"))
MIN_ROUNDS = 30
MIN_KILLS = 24  # processes killed while still running (a kill after exit does not count)
MAX_ROUNDS = 70
LEADS = 300
# A decide is ~0.15 s of interpreter start, then one short transaction. Its kill delay is
# random in 0..0.4 s, most likely around the end of a decide's life (measured at the
# start), so that kills land in start-up, in or about the transaction, and after exit.
# A sync imports httpx and pydantic first (~0.4 s) and then talks to the server: its
# kill delay is spread over the duration of a whole clean sync, measured at the start.
MAX_DECIDE_DELAY = 0.4
REJECT_REASONS = ("no_budget", "not_decision_maker", "no_need", "not_icp_fit")
ROOT = Path(__file__).resolve().parents[2]


@dataclass
class Round:
    n: int
    kind: str  # decide | sync | sync+decide | sync@commit
    ids: list[str] = field(default_factory=list)
    reason: str | None = None
    killed_running: bool = False  # the process was still running when it was killed
    rc: int | None = None  # the decide's exit status (None: killed)

    @property
    def note(self) -> str:
        return f"round-{self.n}"


def _env(home: Path, url: str, token: str) -> dict[str, str]:
    env = dict(os.environ)
    env.update(TRIAGE_HOME=str(home), TRIAGE_SERVER_URL=url, TRIAGE_TOKEN=token)
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    return env


def _start(env: dict[str, str], *args: str) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "triage", *args],
        env=env,
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def _run(env: dict[str, str], *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "triage", *args],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )


def _decide_args(rnd: Round) -> list[str]:
    return ["decide", "reject", *rnd.ids, "--reason", rnd.reason or "", "--note", rnd.note]


def _kill(proc: subprocess.Popen) -> bool:
    """SIGKILL; True when the process was still running (a real crash, not a late kill)."""
    running = proc.poll() is None
    if running:  # not reaped yet: if it exits just now, it is a zombie and the kill is a no-op
        os.kill(proc.pid, signal.SIGKILL)
    proc.wait(timeout=30)
    return running and proc.returncode == -signal.SIGKILL


def _local(db: Path) -> tuple[dict[str, tuple], int, str]:
    """id -> (status, outcome, reason, note) of every lead in the client store; pending; integrity."""
    with Store.open(db) as store:
        out = {}
        everything = Filter(status=("open", "accepted", "rejected", "nurture"))
        for lead_id in store.queue_ids(everything, "sla"):
            lead = store.lead(lead_id)
            assert lead is not None
            d = lead.decision
            out[lead_id] = (
                lead.status.value,
                d.outcome.value if d else None,
                d.reason if d else None,
                d.note if d else None,
            )
        return out, store.pending_count(), store.integrity_check()


def _client_id(db: Path) -> str:
    conn = sqlite3.connect(db)
    try:
        return conn.execute("SELECT value FROM meta WHERE key = 'client_id'").fetchone()[0]
    finally:
        conn.close()


def _numbered_seqs(db: Path) -> list[int]:
    conn = sqlite3.connect(db)
    try:
        return [r[0] for r in conn.execute("SELECT seq FROM outbox WHERE seq IS NOT NULL")]
    finally:
        conn.close()


def _server_last_seq(backend, client_id: str) -> int:
    """The server's last processed seq for the client (what a pull reports)."""
    from triage.server import models

    with backend.db.read() as s:
        state = s.get(models.ClientState, client_id)
        return state.last_seq if state is not None else 0


def _kill_after_commit(proc: subprocess.Popen, backend, client_id: str, before: int) -> bool:
    """Kill a sync the moment the server has committed its push: the answer is on its way
    back and the client has not recorded it (the window that must not repeat anything)."""
    deadline = time.monotonic() + 5
    while proc.poll() is None and time.monotonic() < deadline:
        if _server_last_seq(backend, client_id) > before:
            break
        time.sleep(0.001)
    return _kill(proc)


def _check_round(rnd: Round, local: dict[str, tuple]) -> None:
    """A decide is one transaction: all of its leads carry its note, or none does."""
    mine = [i for i in rnd.ids if local[i][3] == rnd.note]
    assert len(mine) in (0, len(rnd.ids)), (
        f"round {rnd.n}: a killed decide landed in part: {len(mine)} of {len(rnd.ids)} leads"
    )
    if mine:
        assert all(local[i][:3] == ("rejected", "reject", rnd.reason) for i in rnd.ids)
    else:
        assert all(local[i][0] == "open" for i in rnd.ids), f"round {rnd.n}: not landed, not open"
    if rnd.rc == 0:
        assert mine, f"round {rnd.n}: decide exited 0 but its decisions are not in the store"


@pytest.mark.slow  # about 24 SIGKILLs of real processes
def test_kill_9_at_random_points_loses_nothing_and_repeats_nothing(live_sqlite, tmp_path):
    live = live_sqlite
    rng = random.Random(SEED)
    live.upsert([lead_row(i) for i in range(LEADS)])
    home = tmp_path / "device"
    home.mkdir()
    db = home / "triage.db"
    env = _env(home, live.url, live.ann.token)
    first = _run(env, "sync")
    assert first.returncode == 0, first.stderr
    t0 = time.monotonic()
    assert _run(env, "sync").returncode == 0
    sync_delay = max(0.4, 1.1 * (time.monotonic() - t0))
    t0 = time.monotonic()  # a decide refused at its transaction (unknown id) writes nothing
    assert _run(env, "decide", "reject", "no-such-lead", "--reason", "no_budget").returncode == 1
    decide_peak = min(MAX_DECIDE_DELAY, 0.9 * (time.monotonic() - t0))
    local, pending, _ = _local(db)
    all_ids = sorted(local)
    assert len(all_ids) == LEADS and pending == 0

    client_id = _client_id(db)
    rounds: list[Round] = []
    stats = {"numbered": 0, "answer_lost": 0}
    started = time.monotonic()
    killed = 0

    def missing() -> list[str]:  # kinds of round that must have killed something
        wanted = ("decide", "sync", "sync+decide", "sync@commit")
        return [k for k in wanted if not any(r.kind == k and r.killed_running for r in rounds)]

    def more() -> bool:
        if len(rounds) >= MAX_ROUNDS:
            return False
        return len(rounds) < MIN_ROUNDS or killed < MIN_KILLS or bool(missing())

    while more():
        n = len(rounds)
        open_ids = sorted(i for i, v in local.items() if v[0] == "open")
        kind = rng.choices(["decide", "sync", "sync+decide", "sync@commit"], [5, 3, 2, 2])[0]
        if n >= MIN_ROUNDS and missing():
            kind = missing()[0]
        if not open_ids:
            kind = "sync"
        if kind == "sync@commit" and not pending:
            kind = "decide"  # nothing to push yet: make something to push
        rnd = Round(n, kind)
        if kind in ("decide", "sync+decide"):
            rnd.ids = rng.sample(open_ids, rng.randint(1, min(40, len(open_ids))))
            rnd.reason = rng.choice(REJECT_REASONS)
        if kind == "decide":
            proc = _start(env, *_decide_args(rnd))
            time.sleep(rng.triangular(0, MAX_DECIDE_DELAY, decide_peak))
            rnd.killed_running = _kill(proc)
            rnd.rc = None if rnd.killed_running else proc.returncode
            assert rnd.rc in (None, 0), f"round {n}: decide of open leads failed ({rnd.rc})"
        elif kind == "sync":
            proc = _start(env, "sync")
            time.sleep(rng.uniform(0, sync_delay))
            rnd.killed_running = _kill(proc)
        elif kind == "sync@commit":
            before = _server_last_seq(live.backend, client_id)
            proc = _start(env, "sync")
            rnd.killed_running = _kill_after_commit(proc, live.backend, client_id, before)
        else:  # a sync killed while a decide on the same file runs to completion
            sync = _start(env, "sync")
            time.sleep(rng.uniform(0, sync_delay / 2))
            decide = _start(env, *_decide_args(rnd))
            time.sleep(rng.uniform(0, sync_delay / 2))
            rnd.killed_running = _kill(sync)
            rnd.rc = decide.wait(timeout=60)
            assert rnd.rc == 0, f"round {n}: a decide beside a killed sync failed ({rnd.rc})"
        rounds.append(rnd)
        killed += rnd.killed_running
        if kind != "decide":
            seqs = _numbered_seqs(db)
            stats["numbered"] += bool(seqs)
            stats["answer_lost"] += any(
                seq <= _server_last_seq(live.backend, client_id) for seq in seqs
            )
        local, pending, integrity = _local(db)
        assert integrity == "ok", f"round {n}: {integrity}"
        if rnd.ids:
            _check_round(rnd, local)
    loop_seconds = time.monotonic() - started

    kinds = ("decide", "sync", "sync+decide", "sync@commit")
    print(
        "crash rounds (run, killed while running):",
        {k: (sum(r.kind == k for r in rounds), sum(r.killed_running for r in rounds if r.kind == k)) for k in kinds},
        "syncs killed with numbered mutations in flight:", stats["numbered"],
        "of which the server had processed some:", stats["answer_lost"],
        f"loop {loop_seconds:.1f} s",
    )  # fmt: skip
    assert killed >= MIN_KILLS, f"only {killed} of {len(rounds)} processes killed while running"
    assert not missing(), f"no process killed while running in rounds of kind {missing()}"

    for _attempt in range(3):
        final = _run(env, "sync")
        if final.returncode == 0:
            break
    assert final.returncode == 0, final.stderr

    local, pending, integrity = _local(db)
    assert integrity == "ok"
    assert pending == 0, "the outbox is not empty after a clean sync"
    with Store.open(db) as store:
        assert store.conflicts() == [], "no reassignment happened: nothing may conflict"

    # Client and server agree on every lead, both ways.
    server = {i: live.backend.lead(i) for i in all_ids}
    assert set(local) == set(all_ids)
    for lead_id in all_ids:
        s = server[lead_id]
        d = s["decision"]
        theirs = (
            s["status"],
            d["outcome"] if d else None,
            d["reason"] if d else None,
            d["note"] if d else None,
        )
        assert local[lead_id] == theirs, f"{lead_id}: client {local[lead_id]} != server {theirs}"
    assert open_leads_by_rep(live.backend).get("ann@example.com", set()) == {
        i for i, v in local.items() if v[0] == "open"
    }

    # Exactly once: one decide event per decided lead, none for the others.
    decided = {i for i, v in local.items() if v[0] != "open"}
    per_lead = decisions_per_lead(live.backend)
    assert set(per_lead) == decided
    assert set(per_lead.values()) <= {1}, {i: c for i, c in per_lead.items() if c != 1}

    # Every decide round landed whole or not at all, also as the server has it.
    landed = 0
    for rnd in rounds:
        if not rnd.ids:
            continue
        notes = [server[i]["decision"]["note"] if server[i]["decision"] else None for i in rnd.ids]
        mine = sum(1 for note in notes if note == rnd.note)
        assert mine in (0, len(rnd.ids)), f"round {rnd.n}: {mine} of {len(rnd.ids)} on the server"
        landed += mine > 0
    assert landed >= 1


# ---------------------------------------------------------------- a file restored from a backup


def _copy_db(src: Path, dst: Path) -> None:
    """Copy an SQLite file with the backup API (WAL included), as a restore would."""
    a, b = sqlite3.connect(src), sqlite3.connect(dst)
    try:
        a.backup(b)
    finally:
        a.close()
        b.close()


def test_a_device_restored_from_a_backup_still_sends_new_decisions(live_sqlite, tmp_path):
    live = live_sqlite
    live.upsert([lead_row(i) for i in range(3)])
    dev = device(tmp_path, live, live.ann)
    assert dev.sync().ok
    first, second = sorted(dev.open_ids())[:2]
    backup = tmp_path / "backup.db"
    _copy_db(dev.db_path, backup)  # last night's backup
    dev.decide([first], "accept")
    assert dev.sync().ok  # seq 1 is taken on the server
    _copy_db(backup, dev.db_path)  # the disk is restored from the backup
    dev.decide([second], "reject", "no_budget")
    report = dev.sync()
    assert report.ok and report.pending == 0
    with dev.open() as store:
        local = store.lead(second)
        conflicts = store.conflicts()
    # Never silently dropped: the decision is on the server, or a conflict says why not.
    assert live.backend.lead(second)["status"] == "rejected" or conflicts, (
        f"the rep's decision vanished: server open, client {local.status}, no conflict"
    )
