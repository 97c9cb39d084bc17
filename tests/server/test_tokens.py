"""Tokens have a lifecycle: listed (never the secret), revoked, rotated, expired; users
deactivated, activated, their role changed. A refused token gets 401 at once on every
instance (checked against the database on each request); a token's last use is written
through the bookkeeping path, at most once a minute; add-user on an existing user
refuses and points to `token rotate`."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
from sqlalchemy import select, update

from tests.support.cli import Ran, run_cli
from tests.support.factories import lead_row
from triage.server import models
from triage.server.db import SeqAllocator, utcnow
from triage.server.live import ServerThread
from triage.server.service import Backend, hash_token


def server(db: str, *argv: str, check: bool | None = True) -> Ran:
    return run_cli("server", *argv, "--db", db, check=check)


def token_of(ran: Ran) -> str:
    """The one secret a command prints: its last stdout line, and nowhere else."""
    lines = ran.stdout.splitlines()
    token = lines[-1]
    assert token.startswith("trg_") and len(lines) == 1
    assert token not in ran.stderr
    return token


@contextmanager
def instances(db: str, n: int = 2) -> Iterator[list[str]]:
    """`n` server instances on one database, as behind a load balancer."""
    backends = [Backend.open(db) for _ in range(n)]
    threads = [ServerThread(b).start() for b in backends]
    try:
        yield [t.url for t in threads]
    finally:
        for t in threads:
            t.stop()
        for b in backends:
            b.close()


def me(url: str, token: str) -> int:
    return httpx.get(url + "/v1/me", headers={"Authorization": f"Bearer {token}"}).status_code


def test_add_user_on_an_existing_user_refuses_and_points_to_rotate(db_url: str) -> None:
    first = token_of(server(db_url, "add-user", "ann@example.com"))
    again = server(db_url, "add-user", "Ann@Example.com", check=False)
    assert again.returncode == 1 and again.stdout == ""
    assert "already exists" in again.stderr and "token rotate ann@example.com" in again.stderr
    listed = server(db_url, "token", "list").stdout
    assert len(listed.strip().splitlines()) == 2  # the header and the one token
    with instances(db_url, 1) as [url]:
        assert me(url, first) == 200


def test_token_list_shows_ids_never_secrets(db_url: str) -> None:
    ann = token_of(server(db_url, "add-user", "ann@example.com"))
    token_of(server(db_url, "add-user", "mo@example.com", "--role", "marketing"))
    with instances(db_url, 1) as [url]:
        assert me(url, ann) == 200
    out = server(db_url, "token", "list").stdout
    header, *rows = out.splitlines()
    assert header.split()[:4] == ["id", "user", "created", "last"]
    assert len(rows) == 2
    assert "trg_" not in out and hash_token(ann) not in out and hash_token(ann)[:10] not in out
    ann_row = next(r for r in rows if "ann@example.com" in r)
    public_id = ann_row.split()[0]
    assert 6 <= len(public_id) <= 16 and public_id not in ann
    assert "never" not in ann_row.split("Z")[1]  # used: a last-use time, not "never"
    mo_row = next(r for r in rows if "mo@example.com" in r)
    assert "never" in mo_row and mo_row.rstrip().endswith("active")
    only = server(db_url, "token", "list", "mo@example.com").stdout
    assert "ann@" not in only and "mo@example.com" in only
    missing = server(db_url, "token", "list", "zed@example.com", check=False)
    assert missing.returncode == 1 and "no user zed@example.com" in missing.stderr


def _id_of(db: str, email: str) -> str:
    rows = server(db, "token", "list", email).stdout.splitlines()[1:]
    return rows[-1].split()[0]


def test_revoke_and_deactivate_are_401_at_once_on_every_instance(db_url: str) -> None:
    ann = token_of(server(db_url, "add-user", "ann@example.com"))
    bob = token_of(server(db_url, "add-user", "bob@example.com"))
    token_of(server(db_url, "add-user", "mo@example.com", "--role", "marketing"))
    backend = Backend.open(db_url)
    try:
        backend.upsert_leads([lead_row(1, owner="bob@example.com")])
        lead_id = backend.lead("ext-1")["id"]
    finally:
        backend.close()
    with instances(db_url) as urls:
        assert [me(u, ann) for u in urls] == [200, 200]
        ran = server(db_url, "token", "revoke", _id_of(db_url, "ann@example.com"))
        assert "revoked" in ran.stdout
        assert [me(u, ann) for u in urls] == [401, 401]
        assert "revoked" in server(db_url, "token", "list", "ann@example.com").stdout

        assert [me(u, bob) for u in urls] == [200, 200]
        ran = server(db_url, "user", "deactivate", "bob@example.com")
        assert "1 open lead(s) stay assigned" in ran.stdout
        assert [me(u, bob) for u in urls] == [401, 401]
        assert "deactivated" in server(db_url, "users").stdout
        # their leads stay theirs until marketing reassigns them; no new lead goes to them
        backend = Backend.open(db_url)
        try:
            assert backend.lead(lead_id)["owner"] == "bob@example.com"
        finally:
            backend.close()
        refused = server(db_url, "assign", "ext-1", "ann@example.com", check=True)
        assert "assigned to ann@example.com" in refused.stdout
        back = server(db_url, "assign", "ext-1", "bob@example.com", check=False)
        assert back.returncode == 1 and "deactivated" in back.stderr
        server(db_url, "user", "activate", "bob@example.com")
        assert [me(u, bob) for u in urls] == [200, 200]


def test_revoke_every_token_of_a_user_and_unknown_ids(db_url: str) -> None:
    ann = token_of(server(db_url, "add-user", "ann@example.com"))
    second = token_of(server(db_url, "token", "rotate", "ann@example.com"))
    ran = server(db_url, "token", "revoke", "--user", "ann@example.com")
    assert "revoked 1 token(s)" in ran.stdout  # the first was revoked by the rotation
    with instances(db_url, 1) as [url]:
        assert (me(url, ann), me(url, second)) == (401, 401)
    nope = server(db_url, "token", "revoke", "ffffffffff", check=False)
    assert nope.returncode == 1 and "no token with id" in nope.stderr
    both = server(db_url, "token", "revoke", "x", "--user", "ann@example.com", check=False)
    assert both.returncode == 2


def test_rotate_issues_one_new_token_and_revokes_the_old(db_url: str) -> None:
    old = token_of(server(db_url, "add-user", "ann@example.com"))
    ran = server(db_url, "token", "rotate", "ann@example.com")
    new = token_of(ran)
    assert new != old and "1 older token(s) revoked" in ran.stderr
    with instances(db_url, 1) as [url]:
        assert (me(url, old), me(url, new)) == (401, 200)
    nobody = server(db_url, "token", "rotate", "zed@example.com", check=False)
    assert nobody.returncode == 1 and nobody.stdout == ""


def test_tokens_expire(db_url: str) -> None:
    ran = server(db_url, "add-user", "ann@example.com", "--expires", "90d")
    ann = token_of(ran)
    assert "valid until" in ran.stderr
    rotated = server(db_url, "add-user", "bob@example.com")
    bob = token_of(rotated)
    bob2 = token_of(server(db_url, "token", "rotate", "bob@example.com", "--expires", "36h"))
    listed = server(db_url, "token", "list").stdout
    expiry = (utcnow() + timedelta(days=90)).strftime("%Y-%m-%d")
    assert expiry in next(r for r in listed.splitlines() if "ann@" in r)
    backend = Backend.open(db_url)
    try:
        with instances(db_url, 1) as [url]:
            assert (me(url, ann), me(url, bob), me(url, bob2)) == (200, 401, 200)
            with backend.db.bookkeeping() as s:  # ninety days later
                s.execute(
                    update(models.Token)
                    .where(models.Token.hash == hash_token(ann))
                    .values(expires_at=utcnow() - timedelta(seconds=1))
                )
            assert me(url, ann) == 401
        assert "expired" in server(db_url, "token", "list", "ann@example.com").stdout
    finally:
        backend.close()
    for bad in ("90", "0d", "-5d", "soon", "1y"):
        ran = server(db_url, "add-user", "cy@example.com", f"--expires={bad}", check=False)
        assert ran.returncode == 2 and "lifetime" in ran.stderr, bad


def test_roles_change_but_a_rep_with_open_leads_stays_a_rep(db_url: str) -> None:
    ann = token_of(server(db_url, "add-user", "ann@example.com"))
    token_of(server(db_url, "add-user", "cy@example.com"))
    backend = Backend.open(db_url)
    try:
        backend.upsert_leads([lead_row(1)])
    finally:
        backend.close()
    refused = server(db_url, "user", "role", "ann@example.com", "marketing", check=False)
    assert refused.returncode == 1 and "owns 1 open lead(s)" in refused.stderr
    assert (
        "cy@example.com is now marketing"
        in server(db_url, "user", "role", "cy@example.com", "marketing").stdout
    )
    cy = token_of(server(db_url, "token", "rotate", "cy@example.com"))
    with instances(db_url, 1) as [url]:
        r = httpx.get(url + "/v1/me", headers={"Authorization": f"Bearer {cy}"})
        assert r.json()["role"] == "marketing"
        assert me(url, ann) == 200
    bad = server(db_url, "user", "role", "ann@example.com", "boss", check=False)
    assert bad.returncode == 2


def test_last_use_is_bookkeeping_and_at_most_once_a_minute(
    db_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    backend = Backend.open(db_url)
    ann = backend.add_user("ann@example.com", None, "rep")[1]
    writes: list[int] = []
    real = backend.db.bookkeeping

    def counted(**kw):
        writes.append(1)
        return real(**kw)

    monkeypatch.setattr(backend.db, "bookkeeping", counted)

    def last_used():
        with backend.db.read() as s:
            return s.execute(
                select(models.Token.last_used_at).where(models.Token.hash == hash_token(ann))
            ).scalar_one()

    try:
        with ServerThread(backend) as thread:
            assert last_used() is None
            for _ in range(5):
                assert me(thread.url, ann) == 200
            assert len(writes) == 1  # one write for five requests
            first = last_used()
            assert first is not None
            with real() as s:  # a minute and more later
                s.execute(
                    update(models.Token)
                    .where(models.Token.hash == hash_token(ann))
                    .values(last_used_at=utcnow() - timedelta(seconds=61))
                )
            assert me(thread.url, ann) == 200
            assert len(writes) == 2
            with backend.db.read() as s:  # and it took no change number
                assert s.execute(select(models.Counter.value)).scalar_one() == 0
    finally:
        backend.close()


def test_last_use_does_not_wait_for_a_writer(db_url: str) -> None:
    """A push or an import holds the counter's lock (PostgreSQL) or the database's one
    write lock (SQLite); a request whose token's last use is due goes through meanwhile:
    bookkeeping never takes the counter's lock, and on SQLite the last use is left for a
    later request rather than waited for."""
    backend = Backend.open(db_url)
    ann = backend.add_user("ann@example.com", None, "rep")[1]
    holding, release = threading.Event(), threading.Event()

    def long_writer() -> None:
        with backend.db.write() as s:
            SeqAllocator(s).next()
            holding.set()
            release.wait(30)

    writer = threading.Thread(target=long_writer)
    try:
        with ServerThread(backend) as thread:
            writer.start()
            assert holding.wait(10)
            r = httpx.get(
                thread.url + "/v1/me", headers={"Authorization": f"Bearer {ann}"}, timeout=10
            )
            assert r.status_code == 200 and writer.is_alive() and not release.is_set()
            release.set()
            writer.join(30)
            assert me(thread.url, ann) == 200
            with backend.db.read() as s:  # written now, if it was left for later
                assert s.execute(
                    select(models.Token.last_used_at).where(models.Token.hash == hash_token(ann))
                ).scalar_one()
    finally:
        release.set()
        if writer.is_alive():
            writer.join(30)
        backend.close()


def test_a_0_1_0_database_keeps_its_tokens_with_public_ids(tmp_path: Path) -> None:
    from tests.server.test_migrations import EXPECT, load_release

    url = f"sqlite:///{tmp_path / 'server.db'}"
    load_release(url, "create_all")
    out = server(url, "token", "list").stdout.splitlines()[1:]
    ids = [row.split()[0] for row in out]
    assert len(ids) == len(EXPECT["tokens"]) and len(set(ids)) == len(ids)
    assert all(row.rstrip().endswith("active") for row in out)
