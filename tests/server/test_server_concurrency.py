"""The pull cursor never strands a change, whatever the writers do meanwhile.

Replicache's warning: a bare database sequence can commit out of order (T1 takes
5, T2 takes 6 and commits, a reader moves its cursor to 6, then T1 commits 5 and
it is never seen). The server makes every writer lock one counter row first, so
change numbers commit in order. These tests run on SQLite and on PostgreSQL.
"""

from __future__ import annotations

import random
import threading
import time
import uuid

import pytest

from tests.support.backend import open_leads_by_rep
from tests.support.factories import lead_row
from triage.server.db import SeqAllocator


def _pull_page(actor, cursor: int, view: set[str], limit: int, client_id: str) -> tuple[int, bool]:
    """One page applied to `view` the way a client applies it, in change order."""
    r = actor.get(
        "/v1/sync/pull", params={"cursor": cursor, "limit": limit, "client_id": client_id}
    )
    assert r.status_code == 200, r.text
    page = r.json()
    assert len(page["leads"]) + len(page["revoked"]) <= limit
    if page["reset"]:
        view.clear()
    for lead in page["leads"]:
        if lead["status"] == "open" and lead["owner"] == actor.email:
            view.add(lead["id"])
        else:
            view.discard(lead["id"])
    for lead_id in page["revoked"]:
        view.discard(lead_id)
    return page["cursor"], page["has_more"]


def _pull_all(actor, cursor: int, view: set[str], limit: int, client_id: str) -> int:
    while True:
        cursor, has_more = _pull_page(actor, cursor, view, limit, client_id)
        if not has_more:
            return cursor


@pytest.mark.parametrize("seed", [1, 2])
@pytest.mark.slow  # 3 writers x 70 rounds
def test_rep_view_converges_under_concurrent_writers(live, seed):
    rng = random.Random(seed)
    ext_pool = [f"c{seed}-{i}" for i in range(60)]
    live.upsert([lead_row(i, owner="ann@example.com", external_id=ext_pool[i]) for i in range(20)])
    owners = ["ann@example.com", "bob@example.com"]
    rounds_per_writer = 70
    writers = 3
    errors: list[str] = []

    def writer(wid: int) -> None:
        wrng = random.Random(seed * 100 + wid)
        try:
            for _ in range(rounds_per_writer):
                if wrng.random() < 0.5:
                    rows = []
                    for ext in wrng.sample(ext_pool, wrng.randint(1, 5)):
                        row = lead_row(int(ext.split("-")[1]), owner=None, external_id=ext)
                        row["score"] = wrng.randint(0, 100)
                        if wrng.random() < 0.7:
                            row["owner"] = wrng.choice(owners)
                        rows.append(row)
                    r = live.mo.post("/v1/leads", json={"leads": rows})
                else:
                    known = open_leads_by_rep(live.backend)
                    ids = sorted(set().union(*known.values())) if known else []
                    if not ids:
                        continue
                    r = live.mo.post(
                        f"/v1/leads/{wrng.choice(ids)}/assign", json={"owner": wrng.choice(owners)}
                    )
                if r.status_code != 200:
                    errors.append(r.text)
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(repr(exc))

    threads = [threading.Thread(target=writer, args=(w,)) for w in range(writers)]
    for t in threads:
        t.start()
    view: set[str] = set()
    cursor = 0
    client_id = str(uuid.uuid4())
    pulls = 0
    # The rep keeps pulling small pages while the writers run.
    while any(t.is_alive() for t in threads):
        cursor, _ = _pull_page(live.ann, cursor, view, rng.choice([1, 2, 3, 5]), client_id)
        pulls += 1
    for t in threads:
        t.join()
    assert not errors, errors[:3]
    cursor = _pull_all(live.ann, cursor, view, limit=3, client_id=client_id)
    expected = open_leads_by_rep(live.backend).get("ann@example.com", set())
    assert pulls > 20  # the pulls really did interleave with the writes
    assert view == expected
    # Bob, starting from nothing, gets exactly his set too.
    bob_view: set[str] = set()
    _pull_all(live.bob, 0, bob_view, limit=4, client_id=str(uuid.uuid4()))
    assert bob_view == open_leads_by_rep(live.backend).get("bob@example.com", set())


def test_writers_serialise_on_the_counter(live):
    """A second writer cannot take a change number until the first has committed."""
    db = live.backend.db
    first_has_seq = threading.Event()
    release_first = threading.Event()
    got: dict[str, float] = {}

    def first() -> None:
        with db.write() as s:
            alloc = SeqAllocator(s)
            got["first_seq"] = alloc.next()
            alloc.close()
            first_has_seq.set()
            release_first.wait(5)
            got["first_commit"] = time.monotonic()

    def second() -> None:
        first_has_seq.wait(5)
        with db.write() as s:
            got["second_in"] = time.monotonic()
            alloc = SeqAllocator(s)
            got["second_seq"] = alloc.next()
            alloc.close()

    t1 = threading.Thread(target=first)
    t2 = threading.Thread(target=second)
    t1.start()
    t2.start()
    first_has_seq.wait(5)
    time.sleep(0.3)
    # While the first writer holds its number uncommitted, a reader's cursor stays behind it.
    r = live.ann.get("/v1/sync/pull", params={"cursor": 0})
    assert r.json()["cursor"] < got["first_seq"]
    assert "second_in" not in got
    release_first.set()
    t1.join(10)
    t2.join(10)
    assert got["second_in"] >= got["first_commit"]
    assert got["second_seq"] == got["first_seq"] + 1


def test_a_plain_sequence_would_strand_a_change(pg_url):
    """Why the counter lock exists: with a bare PostgreSQL sequence, the failure is real.

    T1 takes number 1 and stays open; T2 takes 2 and commits; a reader's cursor
    moves to 2; T1 commits 1 behind the cursor, and that change is never pulled.
    """
    import psycopg

    with (
        psycopg.connect(pg_url) as t1,
        psycopg.connect(pg_url) as t2,
        psycopg.connect(pg_url, autocommit=True) as reader,
    ):
        reader.execute("CREATE TABLE naive (seq BIGSERIAL PRIMARY KEY, what TEXT)")
        t1.execute("INSERT INTO naive (what) VALUES ('slow writer')")
        t2.execute("INSERT INTO naive (what) VALUES ('fast writer')")
        t2.commit()
        cursor = reader.execute("SELECT max(seq) FROM naive").fetchone()[0]
        t1.commit()
        missed = reader.execute("SELECT what FROM naive WHERE seq > %s", (cursor,)).fetchall()
        all_rows = reader.execute("SELECT count(*) FROM naive").fetchone()[0]
    assert cursor == 2 and all_rows == 2
    assert missed == []  # the slow writer's change sits behind the cursor: stranded
