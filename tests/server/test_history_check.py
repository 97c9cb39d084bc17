"""The server's side of "a queue survives a server restore" (SQLite and PostgreSQL):

- every pull, push and feedback answer says who answered (server_id, epoch) and gives
  the digest of the change at its cursor; a cursor whose digest no longer matches (the
  history went back, then moved on) or whose change-log row was pruned answers reset;
- a decision keeps the identity of its first sending (`origin`): sent again, it applies
  once; its events carry a stable event_id and decision_id;
- a reopen names the decision it undoes (`reopens`) and undoes no other;
- lookup answers the caller's leads in any status, and says nothing of the others;
- backup and restore mark the history as gone back (epoch) and the old cursors reset.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from sqlalchemy import update

from tests.conftest import Live
from tests.server.test_server_api import accept, cid, ids_of, mut, pull, push, reject
from tests.support.backend import row_counts
from tests.support.cli import run_cli
from tests.support.factories import lead_row
from triage.server import models
from triage.server.backups import prune_changelog
from triage.server.db import utcnow
from triage.server.live import ServerThread
from triage.server.service import Backend


def _seed(live: Live) -> list[str]:
    live.upsert([lead_row(n) for n in range(1, 6)] + [lead_row(6, owner="bob@example.com")])
    return ids_of(live, [f"ext-{n}" for n in range(1, 7)])


def test_answers_name_the_server_and_a_moved_history_answers_reset(live: Live) -> None:
    _seed(live)
    health = live.anon.get("/v1/health").json()
    assert {"history_check", "origin", "lookup"} <= set(health["features"])
    first = pull(live.ann, 0)
    assert (first["server_id"], first["epoch"]) == (health["server_id"], 1)
    digest = first["cursor_digest"]
    assert isinstance(digest, str) and len(digest) == 12
    me = live.ann.get("/v1/me").json()
    assert (me["server_id"], me["epoch"]) == (health["server_id"], 1)
    # the same history: nothing new, no reset
    again = pull(live.ann, first["cursor"], digest=digest)
    assert (again["leads"], again["reset"]) == ([], False)
    assert again["cursor_digest"] == digest
    # a digest that is not the one of that change: another history, start again from 0
    other = pull(live.ann, first["cursor"], digest="0" * 12)
    assert other["reset"] is True and len(other["leads"]) == 5
    # and a pull without a digest (an older client) is served as before
    assert pull(live.ann, first["cursor"])["reset"] is False
    # a push answer says who answered too
    body = push(live.ann, cid(), [accept(1, first["leads"][0]["id"])])
    assert (body["server_id"], body["epoch"]) == (health["server_id"], 1)


def test_a_cursor_whose_change_was_pruned_answers_reset(live: Live) -> None:
    _seed(live)
    first = pull(live.ann, 0)
    live.upsert([lead_row(7)])  # a newer change, so the cursor's row is not the newest
    with live.backend.db.bookkeeping() as s:
        s.execute(update(models.ChangeLog).values(at=utcnow() - timedelta(days=100)))
    assert prune_changelog(live.backend.db, keep_days=90) > 0
    r = pull(live.ann, first["cursor"], digest=first["cursor_digest"])
    assert r["reset"] is True and len(r["leads"]) == 6


def test_a_decision_sent_again_with_its_origin_applies_once(live: Live) -> None:
    ids = _seed(live)
    laptop = cid()
    body = push(live.ann, laptop, [reject(1, ids[0], note="said no")])
    assert body["results"][0]["lead"]["decision"]["id"] == f"{laptop}:1"
    # after a restore the same decision comes again, numbered anew by the same client
    resent = reject(2, ids[0], note="said no", origin={"client_id": laptop, "seq": 1})
    body = push(live.ann, laptop, [resent])
    assert body["results"][0]["status"] == "applied"  # it stands already: no second effect
    events = [e for e in live.mo.get("/v1/feedback").json()["events"] if e["lead_id"] == ids[0]]
    assert [(e["kind"], e["event_id"], e["decision_id"]) for e in events] == [
        ("decide", f"decide:{laptop}:1", f"{laptop}:1")
    ]
    # on a lead where the server lost it, the same origin makes the same identity
    body = push(live.ann, laptop, [accept(3, ids[1], origin={"client_id": laptop, "seq": 77})])
    assert body["results"][0]["lead"]["decision"]["id"] == f"{laptop}:77"
    # a decision with another identity on a decided lead is still a conflict
    body = push(live.ann, cid(), [accept(1, ids[0])])
    assert (body["results"][0]["status"], body["results"][0]["error"]) == (
        "conflict", "already_decided",
    )  # fmt: skip


def test_a_reopen_undoes_only_the_decision_it_names(live: Live) -> None:
    ids = _seed(live)
    phone, laptop = cid(), cid()
    push(live.ann, phone, [accept(1, ids[0])])  # the phone's decision stands
    body = push(live.ann, laptop, [mut(1, ids[0], "reopen", reopens=f"{laptop}:9")])
    assert (body["results"][0]["status"], body["results"][0]["error"]) == (
        "conflict", "not_own_decision",
    )  # fmt: skip
    assert live.backend.lead(ids[0])["status"] == "accepted"
    body = push(live.ann, laptop, [mut(2, ids[0], "reopen", reopens=f"{phone}:1")])
    assert body["results"][0]["status"] == "applied"
    reopen = live.mo.get("/v1/feedback").json()["events"][-1]
    assert (reopen["kind"], reopen["decision_id"]) == ("reopen", f"{phone}:1")
    assert reopen["event_id"] == f"reopen:{phone}:1"


def test_lookup_answers_the_callers_leads_in_any_status_and_nothing_else(live: Live) -> None:
    ids = _seed(live)
    client = cid()
    push(live.ann, client, [reject(1, ids[0])])
    r = live.ann.post(
        "/v1/sync/lookup",
        params={"client_id": client},
        json={"lead_ids": [ids[0], ids[1], ids[5], "no-such-lead"]},
    )
    assert r.status_code == 200, r.text
    body = r.json()
    assert [x["id"] for x in body["leads"]] == [ids[0], ids[1]]
    assert body["leads"][0]["status"] == "rejected"
    assert body["missing"] == [ids[5], "no-such-lead"]  # bob's: nothing said of it
    assert body["last_seq"] == 1
    assert live.mo.post("/v1/sync/lookup", json={"lead_ids": []}).status_code == 403
    too_many = {"lead_ids": [f"x{i}" for i in range(1001)]}
    assert live.ann.post("/v1/sync/lookup", json=too_many).status_code == 422


def test_backup_then_restore_marks_the_history_as_gone_back(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'server.db'}"
    backend = Backend.open(url)
    _, token, _ = backend.add_user("ann@example.com", None, "rep")
    backend.upsert_leads([lead_row(n) for n in range(1, 4)])
    backend.close()
    run_cli("server", "backup", str(tmp_path / "monday.db"), "--db", url, check=True)
    backend = Backend.open(url)
    backend.upsert_leads([lead_row(n) for n in range(4, 8)])  # after the backup
    with ServerThread(backend) as thread:
        import httpx

        with httpx.Client(base_url=thread.url, headers={"Authorization": f"Bearer {token}"}) as c:
            seen = c.get("/v1/sync/pull", params={"cursor": 0}).json()
    backend.close()
    assert len(seen["leads"]) == 7 and seen["epoch"] == 1
    ran = run_cli("server", "restore", str(tmp_path / "monday.db"), "--db", url, check=True)
    assert "epoch 3" in ran.stdout  # above the backup's (2) and the replaced one's (1)
    backend = Backend.open(url)
    backend.upsert_leads([lead_row(n) for n in range(20, 30)])  # the counter moves past
    with ServerThread(backend) as thread:
        import httpx

        with httpx.Client(base_url=thread.url, headers={"Authorization": f"Bearer {token}"}) as c:
            after = c.get(
                "/v1/sync/pull",
                params={"cursor": seen["cursor"], "digest": seen["cursor_digest"]},
            ).json()
    backend.close()
    assert after["epoch"] == 3 and after["reset"] is True
    assert {x["external_id"] for x in after["leads"]} == {
        *(f"ext-{n}" for n in range(1, 4)), *(f"ext-{n}" for n in range(20, 30)),
    }  # fmt: skip
    assert run_cli("server", "backup", str(tmp_path / "monday.db"), "--db", url).returncode == 1


def test_backup_and_restore_on_postgresql(pg_url: str, tmp_path: Path) -> None:
    """pg_dump and pg_restore (the PostgreSQL client tools), for one schema."""
    backend = Backend.open(pg_url)
    backend.add_user("ann@example.com", None, "rep")
    backend.upsert_leads([lead_row(n) for n in range(1, 4)])
    backend.close()
    dump = tmp_path / "monday.dump"
    run_cli("server", "backup", str(dump), "--db", pg_url, check=True)
    assert dump.stat().st_mode & 0o077 == 0
    backend = Backend.open(pg_url)
    backend.upsert_leads([lead_row(n) for n in range(4, 8)])
    backend.close()
    ran = run_cli("server", "restore", str(dump), "--db", pg_url, check=True)
    assert "epoch 2" in ran.stdout  # the dump keeps epoch 1; above both
    backend = Backend.open(pg_url)
    try:
        assert row_counts(backend)["leads"] == 3
        assert backend.current_epoch() == 2
        backend.upsert_leads([lead_row(9)])  # and it works on
    finally:
        backend.close()
