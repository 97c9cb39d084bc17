"""The client commands as a rep runs them, against a real server over HTTP, on real files.

The commands run in-process (tests/support/cli.py); the server is a thread, or a process
where the test must kill it.
"""

from __future__ import annotations

import json
import os
import signal
import stat
import threading
from pathlib import Path

import httpx
import pytest

from tests.support.cli import Ran, run_cli
from tests.support.client import decisions_per_lead
from tests.support.server import ServerProcess
from triage.demo import demo_rows
from triage.server.live import ServerThread
from triage.server.service import Backend


def triage(*args: str, home: Path, env: dict | None = None, stdin: str | None = None) -> Ran:
    return run_cli(*args, home=home, env=env, stdin=stdin or "")


def _server_db(tmp_path: Path) -> tuple[Path, Path, str]:
    """A server database with a rep and 80 leads, and the rep's (empty) home dir."""
    db = tmp_path / "server.db"
    home = tmp_path / "home"
    home.mkdir()
    backend = Backend.open(f"sqlite:///{db}")
    _, token, _ = backend.add_user("ann@example.com", "Ann", "rep")
    backend.upsert_leads(demo_rows(80, owner="ann@example.com", seed=3))
    backend.close()
    return db, home, token


@pytest.fixture
def world(tmp_path):
    """(server db, rep's home, rep's token, the server in a thread: stoppable, restartable)."""
    db, home, token = _server_db(tmp_path)
    backend = Backend.open(f"sqlite:///{db}")
    server = ServerThread(backend).start()
    try:
        yield db, home, token, server
    finally:
        server.stop()
        backend.close()


@pytest.fixture
def world_process(tmp_path):
    """The same, with the server as its own process: one a test can kill -9."""
    db, home, token = _server_db(tmp_path)
    server = ServerProcess(str(db)).start()
    try:
        yield db, home, token, server
    finally:
        server.stop()


def test_offline_round_trip(world):
    db, home, token, server = world
    r = triage("login", "--server", server.url, f"--token={token}", home=home)
    assert r.returncode == 0, r.stderr
    assert stat.S_IMODE((home / "token").stat().st_mode) == 0o600
    assert token not in r.stdout + r.stderr
    r = triage("sync", home=home)
    assert r.returncode == 0 and "pulled 80" in r.stdout, r.stdout + r.stderr

    server.stop()  # the plane takes off
    ids = [
        row["id"]
        for row in json.loads(triage("queue", "--json", "--limit", "50", home=home).stdout)
    ]
    assert len(ids) == 50
    r = triage("decide", "reject", *ids, "--reason", "no_budget", home=home)
    assert r.returncode == 0 and "rejected 50 lead(s)" in r.stdout
    r = triage("sync", home=home)
    assert r.returncode == 1
    assert "50 changes pending (50 decisions, 0 checklist answers)" in r.stderr
    assert "Traceback" not in r.stderr
    status = json.loads(triage("status", "--json", home=home).stdout)
    assert status["pending"] == 50 and status["open"] == 30 and status["last_error"]

    server.start()  # landed
    r = triage("sync", home=home)
    assert r.returncode == 0 and "pushed 50" in r.stdout, r.stdout + r.stderr
    backend = Backend.open(f"sqlite:///{db}")
    try:
        assert decisions_per_lead(backend) == dict.fromkeys(ids, 1)
        assert all(backend.lead(i)["decision"]["reason"] == "no_budget" for i in ids)
        r = triage("sync", home=home)
        assert r.returncode == 0 and "pushed 0" in r.stdout
        assert decisions_per_lead(backend) == dict.fromkeys(ids, 1)
    finally:
        backend.close()
    status = json.loads(triage("status", "--json", home=home).stdout)
    assert status["pending"] == 0 and status["last_error"] is None


def test_server_killed_mid_batch_and_restarted(world_process, tmp_path):
    """kill -9 of the server while pushes are in flight; after a restart, each decision lands once."""
    from tests.support.client import Device
    from triage.store import Store
    from triage.sync.client import ApiClient
    from triage.sync.engine import RetryPolicy, SyncEngine

    db, home, token, server = world_process
    dev = Device(home, server.url, token)
    assert dev.sync().ok
    ids = sorted(dev.open_ids())
    dev.decide(ids, "nurture", "early_research")

    class KillDuringPush(httpx.HTTPTransport):
        """Kill the server 5 ms into the second push request: the request is in flight."""

        pushes = 0
        killer: threading.Timer | None = None

        def handle_request(self, request):
            if request.url.path == "/v1/sync/push":
                KillDuringPush.pushes += 1
                if KillDuringPush.pushes == 2:
                    KillDuringPush.killer = threading.Timer(
                        0.005, server.stop, args=(signal.SIGKILL,)
                    )
                    KillDuringPush.killer.start()
            return super().handle_request(request)

    store = Store.open(dev.db_path)
    try:
        with ApiClient(server.url, token, transport=KillDuringPush()) as client:
            report = SyncEngine(
                store, client, batch=10, retry=RetryPolicy(attempts=2, base=0.0)
            ).sync()
    finally:
        store.close()
    assert not report.ok and report.pending > 0
    # The killer thread reaps the process and clears server.proc: let it finish before the
    # restart, or it clears the new process (the sync can give up before it is done).
    assert KillDuringPush.killer is not None
    KillDuringPush.killer.join()
    server.start()
    assert dev.sync().ok and dev.pending() == 0
    backend = Backend.open(f"sqlite:///{db}")
    try:
        assert decisions_per_lead(backend) == dict.fromkeys(ids, 1)
    finally:
        backend.close()


def test_login_refuses_a_wrong_token_and_saves_nothing(world):
    _, home, _, server = world
    r = triage("login", "--server", server.url, "--token", "wrong", home=home)
    assert r.returncode == 1 and "401" in r.stderr and "nothing saved" in r.stderr
    assert not (home / "token").exists() and not (home / "config.toml").exists()


def test_login_reads_the_token_from_stdin(world):
    _, home, token, server = world
    r = triage("login", "--server", server.url, "--token", "-", home=home, stdin=token + "\n")
    assert r.returncode == 0, r.stderr
    assert (home / "token").read_text().strip() == token


def test_login_refuses_plain_http_to_another_host(tmp_path):
    r = triage("login", "--server", "http://triage.example.com", "--token", "x", home=tmp_path)
    assert r.returncode == 2 and "refusing plain http" in r.stderr
    assert not (tmp_path / "token").exists()


def test_sync_refuses_plain_http_to_another_host_from_the_environment(tmp_path):
    env = {"TRIAGE_SERVER_URL": "http://triage.example.com", "TRIAGE_TOKEN": "t"}
    r = triage("sync", home=tmp_path, env=env)
    assert r.returncode == 1 and "refusing plain http" in r.stderr


def test_a_marketing_token_cannot_log_the_client_in(world):
    db, home, _, server = world
    backend = Backend.open(f"sqlite:///{db}")
    _, mtoken, _ = backend.add_user("mo@example.com", "Mo", "marketing")
    backend.close()
    r = triage("login", "--server", server.url, f"--token={mtoken}", home=home)
    assert r.returncode == 1 and "for reps" in r.stderr
    assert not (home / "token").exists()


def _logged_in(world) -> Path:
    _, home, token, server = world
    assert triage("login", "--server", server.url, f"--token={token}", home=home).returncode == 0
    assert triage("sync", home=home).returncode == 0
    return home


def test_unknown_reason_and_unknown_lead_change_nothing(world):
    home = _logged_in(world)
    ids = [
        row["id"] for row in json.loads(triage("queue", "--json", "--limit", "3", home=home).stdout)
    ]
    r = triage("decide", "reject", *ids, "--reason", "too_expensive", home=home)
    assert r.returncode == 1 and "unknown reason" in r.stderr and "no_budget" in r.stderr
    r = triage("decide", "accept", ids[0], "nope-123", home=home)
    assert r.returncode == 1 and "nope-123" in r.stderr
    r = triage("decide", "reject", ids[0], "--reason", "other", home=home)
    assert r.returncode == 1 and "note" in r.stderr
    status = json.loads(triage("status", "--json", home=home).stdout)
    assert status["pending"] == 0 and status["open"] == 80


def test_decide_reads_ids_from_stdin(world):
    home = _logged_in(world)
    rows = json.loads(triage("queue", "--json", "--limit", "4", home=home).stdout)
    r = triage("decide", "accept", "-", home=home, stdin="\n".join(x["id"] for x in rows) + "\n")
    assert r.returncode == 0 and "accepted 4 lead(s)" in r.stdout


def test_queue_filters_and_rejects_a_bad_filter(world):
    home = _logged_in(world)
    rows = json.loads(
        triage("queue", "--json", "source:tradeshow", "--limit", "1000", home=home).stdout
    )
    assert rows and all(r["source"] == "tradeshow" for r in rows)
    r = triage("queue", "score:abc", home=home)
    assert r.returncode == 2 and "bad filter" in r.stderr


def test_a_corrupt_database_is_refused_and_left_alone(tmp_path):
    db = tmp_path / "triage.db"
    junk = os.urandom(8192)
    db.write_bytes(junk)
    for args in (("status",), ("queue",), ("decide", "accept", "x")):
        r = triage(*args, home=tmp_path)
        assert r.returncode == 1 and "Traceback" not in r.stderr and r.stderr.strip()
    assert db.read_bytes() == junk


def test_a_foreign_sqlite_database_is_refused_and_left_alone(tmp_path):
    import sqlite3

    db = tmp_path / "triage.db"
    conn = sqlite3.connect(db)
    conn.execute("CREATE TABLE recipes (name TEXT)")
    conn.commit()
    conn.close()
    before = db.read_bytes()
    r = triage("status", home=tmp_path)
    assert r.returncode == 1 and "Traceback" not in r.stderr
    assert db.read_bytes() == before


def test_a_corrupt_config_is_a_clear_error(tmp_path):
    (tmp_path / "config.toml").write_text("server_url = [unclosed\n")
    r = triage("status", home=tmp_path)
    assert r.returncode == 2 and "config.toml" in r.stderr and "Traceback" not in r.stderr
    (tmp_path / "config.toml").write_text("server_url = 42\n")
    r = triage("sync", home=tmp_path)
    assert r.returncode == 2 and "server_url" in r.stderr


def test_sync_without_login_says_how(tmp_path):
    r = triage("sync", home=tmp_path)
    assert r.returncode == 1 and "triage login" in r.stderr


def test_demo_refuses_a_directory_it_did_not_make(tmp_path):
    mine = tmp_path / "mydocs"
    mine.mkdir()
    (mine / "notes.txt").write_text("keep me")
    r = triage("demo", "--dir", str(mine), home=tmp_path)
    assert r.returncode == 2 and "nothing was deleted" in r.stderr
    assert (mine / "notes.txt").read_text() == "keep me"


def test_queue_json_lists_every_match_and_reasons_lists_the_codes(world):
    home = _logged_in(world)
    rows = json.loads(triage("queue", "--json", home=home).stdout)
    assert len(rows) == 80  # the table's default of 50 does not cut a script's input
    r = triage("queue", "--json", "--limit", "10", home=home)
    assert len(json.loads(r.stdout)) == 10 and "10 of 80" in r.stderr
    r = triage("reasons", home=home)
    assert r.returncode == 0 and "no_budget" in r.stdout and "timing_later" in r.stdout
    assert "needs --note" in r.stdout
