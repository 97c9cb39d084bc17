"""Conflicts from the command line: `triage sync` says when some need the rep (exit 3),
`triage conflicts` lists them, and pending changes are counted as what they are."""

from __future__ import annotations

import json
from pathlib import Path

from tests.support.cli import queue_path, run_cli
from tests.support.factories import lead_row
from triage.store import Store


def _device(live, tmp_path: Path, name: str) -> Path:
    home = tmp_path / name
    token = live.ann.token + "\n"
    run_cli("login", "--server", live.url, "--token", "-", home=home, stdin=token, check=True)
    run_cli("sync", home=home, check=True)
    return home


def _a_conflict(live, tmp_path: Path) -> tuple[Path, str]:
    """Ann decides HS-2003 on her laptop, offline; her phone rejected it first and synced.
    The laptop's sync then meets `already_decided`. Returns the laptop and the lead id."""
    live.upsert([lead_row(i, external_id=f"HS-{2000 + i}") for i in range(6)])
    laptop, phone = _device(live, tmp_path, "laptop"), _device(live, tmp_path, "phone")
    run_cli("decide", "reject", "HS-2003", "--reason", "no_need", home=phone, check=True)
    run_cli("sync", home=phone, check=True)
    run_cli("decide", "reject", "HS-2003", "--reason", "no_budget", home=laptop, check=True)
    with Store.open(queue_path(laptop)) as store:
        [lead_id] = store.resolve_ids(["HS-2003"]).values()
    return laptop, lead_id


def test_sync_exits_3_when_conflicts_need_the_rep_and_conflicts_lists_them(live_sqlite, tmp_path):
    laptop, lead_id = _a_conflict(live_sqlite, tmp_path)
    r = run_cli("sync", home=laptop)
    assert r.returncode == 3, r.stdout + r.stderr
    assert "pushed 1" in r.stdout and "1 conflict" in r.stdout
    assert "synced, but 1 conflict needs you" in r.stderr and "triage conflicts" in r.stderr

    r = run_cli("conflicts", "--json", home=laptop)
    assert r.returncode == 0, r.stderr
    [c] = json.loads(r.stdout)
    assert (c["lead_id"], c["external_id"], c["lead_name"]) == (lead_id, "HS-2003", "Person 3")
    assert c["status"] == "conflict" and c["error"] == "already_decided"
    assert c["explanation"].startswith("Someone already decided this lead")
    assert c["tried"]["type"] == "decide" and c["tried"]["outcome"] == "reject"
    assert c["tried"]["reason"] == "no_budget" and c["at"] and c["recorded_at"]

    r = run_cli("conflicts", home=laptop)
    assert r.returncode == 0, r.stderr
    assert "Person 3" in r.stdout and lead_id in r.stdout and "HS-2003" in r.stdout
    assert "reject · No budget" in r.stdout and "Someone already decided" in r.stdout
    assert "1 conflict" in r.stderr

    # still unresolved: the next sync says so again; once dismissed, all is well
    assert run_cli("sync", home=laptop).returncode == 3
    with Store.open(queue_path(laptop)) as store:
        store.resolve_conflict(store.conflicts()[0].id)
    r = run_cli("sync", home=laptop)
    assert r.returncode == 0 and "conflict" not in r.stderr, r.stderr
    assert json.loads(run_cli("conflicts", "--json", home=laptop).stdout) == []


def test_a_failed_sync_exits_1_even_with_conflicts(live_sqlite, tmp_path):
    laptop, _ = _a_conflict(live_sqlite, tmp_path)
    assert run_cli("sync", home=laptop).returncode == 3
    run_cli("decide", "accept", "HS-2004", home=laptop, check=True)
    live_sqlite.thread.stop()
    r = run_cli("sync", "--json", home=laptop)
    assert r.returncode == 1
    out = json.loads(r.stdout)
    assert not out["ok"] and out["pending"] == 1 and out["unresolved_conflicts"] == 1


def test_pending_counts_decisions_and_checklist_answers_apart(live_sqlite, tmp_path):
    live_sqlite.upsert([lead_row(i, external_id=f"HS-{2000 + i}") for i in range(6)])
    home = _device(live_sqlite, tmp_path, "laptop")
    run_cli("decide", "reject", "HS-2001", "HS-2002", "--reason", "no_budget", home=home)
    with Store.open(queue_path(home)) as store:
        [lead_id] = store.resolve_ids(["HS-2005"]).values()
        store.set_bant(lead_id, "budget", "yes")
    live_sqlite.thread.stop()
    r = run_cli("sync", home=home)
    assert r.returncode == 1
    assert "3 changes pending (2 decisions, 1 checklist answer)" in r.stderr, r.stderr
    assert "decision(s)" not in r.stderr
    out = json.loads(run_cli("status", "--json", home=home).stdout)
    assert (out["pending"], out["pending_decisions"], out["pending_answers"]) == (3, 2, 1)
    r = run_cli("status", home=home)
    assert "3 (2 decisions, 1 checklist answer)" in r.stdout, r.stdout


def test_sync_help_documents_the_exit_codes():
    text = " ".join(run_cli("sync", "--help").stdout.split())
    assert "Exit status: 0 when everything was pushed and pulled and no conflict waits" in text
    assert "; 1 when the sync failed or changes are still pending" in text
    assert "; 2 for a usage or configuration error" in text
    assert "; 3 when it synced but conflicts need you (`triage conflicts` lists them)" in text
    text = " ".join(run_cli("--help").stdout.split())
    assert "Exit status: 0 success; 1 failure" in text and "3 sync only" in text
