"""`triage decide` and its neighbours as a rep types them: the marketing system's ids
(`HS-2011`) as well as the server's, bounded `--limit`, help for every command, and
refusals that say the right thing once."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest

from tests.support.cli import queue_path, run_cli
from tests.support.client import decisions_per_lead
from tests.support.factories import lead_row, make_leads
from triage.store import Store


def _rep(live, tmp_path: Path, n: int = 6) -> Path:
    """A rep's home, logged in and synced, with leads HS-2000 ... assigned."""
    live.upsert([lead_row(i, external_id=f"HS-{2000 + i}") for i in range(n)])
    home = tmp_path / "home"
    token = live.ann.token + "\n"
    run_cli("login", "--server", live.url, "--token", "-", home=home, stdin=token, check=True)
    run_cli("sync", home=home, check=True)
    return home


def _ids_by_external(home: Path) -> dict[str, str]:
    with Store.open(queue_path(home)) as store:
        return {store.lead(i).external_id: i for i in store.queue_ids(_everything(), "sla")}


def _everything():
    from triage.domain import Filter

    return Filter()


def test_decide_takes_external_ids_and_lead_ids_alike(live_sqlite, tmp_path):
    home = _rep(live_sqlite, tmp_path)
    ids = _ids_by_external(home)
    assert "HS-2011" not in ids and ids["HS-2001"] != "HS-2001"
    r = run_cli("decide", "reject", "HS-2001", ids["HS-2002"], "--reason", "no_budget", home=home)
    assert r.returncode == 0, r.stderr
    assert "rejected 2 lead(s)" in r.stdout
    # the same lead named both ways is one decision
    r = run_cli("decide", "accept", "HS-2003", ids["HS-2003"], home=home)
    assert r.returncode == 0 and "accepted 1 lead(s)" in r.stdout, r.stderr
    # from stdin, as a script pipes them
    r = run_cli("decide", "nurture", "-", "--reason", "timing_later", home=home, stdin="HS-2004\n")
    assert r.returncode == 0 and "returned to nurture 1 lead(s)" in r.stdout, r.stderr
    run_cli("sync", home=home, check=True)
    decided = [ids[f"HS-200{i}"] for i in (1, 2, 3, 4)]
    assert decisions_per_lead(live_sqlite.backend) == dict.fromkeys(decided, 1)
    assert live_sqlite.backend.lead(ids["HS-2001"])["decision"]["reason"] == "no_budget"


def test_an_unknown_id_of_either_kind_changes_nothing(live_sqlite, tmp_path):
    home = _rep(live_sqlite, tmp_path)
    r = run_cli("decide", "accept", "HS-2001", "HS-2011", home=home)
    assert r.returncode == 1 and "HS-2011" in r.stderr and "nothing changed" in r.stderr
    status = json.loads(run_cli("status", "--json", home=home).stdout)
    assert status["pending"] == 0 and status["open"] == 6


def test_a_store_from_before_external_ids_learns_them_on_open(tmp_path):
    """Schema 5 had no external_id column: opening such a file fills it from the leads."""
    db = tmp_path / "triage.db"
    with Store.open(db) as store:
        store.apply_pull(make_leads(0, 5), [], cursor=5)
    conn = sqlite3.connect(db)
    conn.execute("DROP INDEX leads_external")
    conn.execute("ALTER TABLE leads DROP COLUMN external_id")
    conn.execute("ALTER TABLE action_leads DROP COLUMN decision_id")  # schema 7's
    conn.execute("ALTER TABLE leads DROP COLUMN attributes_key")  # schema 8's
    conn.execute("DROP INDEX leads_account")  # schema 9's
    conn.execute("ALTER TABLE leads DROP COLUMN account_key")
    conn.execute("DROP INDEX leads_email")  # schema 11's
    conn.execute("ALTER TABLE leads DROP COLUMN email_key")
    conn.execute("DROP INDEX leads_group")  # schema 12's
    conn.execute("ALTER TABLE leads DROP COLUMN account_sort")
    conn.execute("DROP INDEX leads_suggested")  # schema 13's
    conn.execute("ALTER TABLE leads DROP COLUMN suggestion")
    conn.execute("ALTER TABLE leads DROP COLUMN suggestion_confidence")
    conn.execute("PRAGMA user_version = 5")
    conn.commit()
    conn.close()
    r = run_cli("decide", "reject", "ext-3", "--reason", "no_need", home=tmp_path)
    assert r.returncode == 0 and "rejected 1 lead(s)" in r.stdout, r.stderr
    with Store.open(db) as store:
        assert store.lead("L000003").status == "rejected"
        assert store.resolve_ids(["ext-1", "L000002", "nope"]) == {
            "ext-1": "L000001",
            "L000002": "L000002",
        }


@pytest.mark.parametrize("limit", ["-5", "0", "many"])
def test_queue_refuses_a_limit_below_one(tmp_path, limit):
    r = run_cli("queue", "--limit", limit, home=tmp_path)
    assert r.returncode == 2 and "--limit" in r.stderr, r.stderr


@pytest.mark.parametrize("command", ["status", "reasons", "conflicts", "sync", "queue", "decide"])
def test_every_client_command_describes_itself_in_its_help(command):
    r = run_cli(command, "--help")
    assert r.returncode == 0
    paragraphs = r.stdout.split("\n\n")
    assert paragraphs[0].startswith("usage:")
    assert not paragraphs[1].startswith(("positional arguments:", "options:")), r.stdout


def test_an_unknown_reason_lists_the_reasons_once(tmp_path):
    with Store.open(tmp_path / "triage.db") as store:
        store.apply_pull(make_leads(0, 2), [], cursor=2)
    r = run_cli("decide", "reject", "L000001", "--reason", "too_expensive", home=tmp_path)
    assert r.returncode == 1 and "unknown reason 'too_expensive'" in r.stderr
    assert r.stderr.count("no_budget") == 1, r.stderr
    r = run_cli("decide", "accept", "L000001", "--reason", "no_budget", home=tmp_path)
    assert r.returncode == 1 and "accept takes no reason" in r.stderr
    assert "reasons for accept" not in r.stderr and ": )" not in r.stderr, r.stderr
    r = run_cli("decide", "nurture", "L000001", home=tmp_path)
    assert r.returncode == 1 and r.stderr.count("timing_later") == 1, r.stderr


def test_reopen_takes_back_an_older_decision_and_the_server_reopens_it(live_sqlite, tmp_path):
    """`triage reopen` reaches past later decisions (undo takes the last only): synced,
    the lead is open on the server and marketing's feedback has a reopen of that very
    decision; the other lead of the same bulk decision stays rejected."""
    home = _rep(live_sqlite, tmp_path)
    ids = _ids_by_external(home)
    run_cli("decide", "reject", "HS-2001", "HS-2002", "--reason", "no_budget", home=home,
            check=True)  # fmt: skip
    run_cli("sync", home=home, check=True)
    run_cli("decide", "accept", "HS-2003", home=home, check=True)  # a later decision
    r = run_cli("reopen", "HS-2002", home=home)
    assert r.returncode == 0 and "reopened 1 lead(s); 2 pending" in r.stdout, r.stderr
    run_cli("sync", home=home, check=True)
    backend = live_sqlite.backend
    assert backend.lead(ids["HS-2002"])["status"] == "open"
    assert backend.lead(ids["HS-2001"])["status"] == "rejected"
    assert backend.lead(ids["HS-2003"])["status"] == "accepted"
    events = [e for e in backend.feedback(0, 100)["events"] if e["lead_id"] == ids["HS-2002"]]
    assert [e["kind"] for e in events] == ["decide", "reopen"]
    assert events[0]["decision_id"] == events[1]["decision_id"]
    # refused: not decided (now), someone else's; nothing changes
    r = run_cli("reopen", "HS-2002", home=home)
    assert r.returncode == 1 and "not decided" in r.stderr and "nothing changed" in r.stderr
    status = json.loads(run_cli("status", "--json", home=home).stdout)
    assert status["pending"] == 0
