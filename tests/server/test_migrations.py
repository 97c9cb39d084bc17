"""The server's schema migrations: a deployed database keeps every lead, decision, token and
cursor through an upgrade, whether it was made by release 0.1.0's `create_all` or by the
baseline revision; the schema at head is exactly the models'; a newer schema is refused.

The deployed database is tests/server/fixtures/release-0.1.0 (made by that release's own
code through its HTTP API; see make_release_fixture.py there), loaded into a fresh SQLite
file or PostgreSQL schema.
"""

from __future__ import annotations

import json
import uuid
from datetime import date, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Date, DateTime, MetaData, text, update
from sqlmodel import SQLModel

from tests.support.cli import run_cli
from triage.server import migrate
from triage.server.db import Database
from triage.server.live import ServerThread
from triage.server.service import Backend

RELEASE = Path(__file__).parent / "fixtures" / "release-0.1.0"
DATA = json.loads((RELEASE / "data.json").read_text())
EXPECT = json.loads((RELEASE / "expect.json").read_text())


def _value(column: Any, value: Any) -> Any:
    if value is None:
        return None
    if isinstance(column.type, DateTime):
        return datetime.fromisoformat(value)
    if isinstance(column.type, Date):
        return date.fromisoformat(value)
    return value


def load_release(url: str, made_by: str) -> None:
    """The 0.1.0 database in an empty one: its schema made by 0.1.0's `create_all`
    (`made_by="create_all"`) or by our baseline revision (`"baseline"`), then its rows."""
    db = Database(url)
    try:
        if made_by == "create_all":
            dialect = "sqlite" if db.is_sqlite else "postgresql"
            ddl = (RELEASE / f"schema.{dialect}.sql").read_text()
            with db.write_engine.begin() as conn:
                for statement in ddl.split(";\n\n"):
                    if statement.strip():
                        conn.exec_driver_sql(statement.strip().rstrip(";"))
        else:
            assert migrate.upgrade(db, migrate.BASELINE).applied == (migrate.BASELINE,)
        meta = MetaData()
        meta.reflect(db.write_engine)
        with db.write_engine.begin() as conn:
            for name, rows in DATA.items():
                table = meta.tables[name]
                values = [{k: _value(table.c[k], v) for k, v in row.items()} for row in rows]
                if name == "counter" and made_by == "baseline":  # the migration seeded it
                    conn.execute(update(table).values(value=values[0]["value"]))
                    continue
                conn.execute(table.insert(), values)
            if not db.is_sqlite:  # as pg_restore leaves them: past the rows' ids
                for table in ("user", "mutationlog"):
                    conn.execute(
                        text(
                            f"SELECT setval(pg_get_serial_sequence('\"{table}\"', 'id'), "
                            f'(SELECT max(id) FROM "{table}"))'
                        )
                    )
    finally:
        db.dispose()


def _pull(http: httpx.Client, token: str, cursor: int, client_id: str | None = None) -> dict:
    params: dict[str, Any] = {"cursor": cursor, "limit": 1000}
    if client_id:
        params["client_id"] = client_id
    r = http.get("/v1/sync/pull", params=params, headers={"Authorization": f"Bearer {token}"})
    assert r.status_code == 200, r.text
    return r.json()


def _same_leads(got: list[dict], expected: list[dict]) -> None:
    """Every field 0.1.0 sent is sent the same (newer optional fields may be added)."""
    assert len(got) == len(expected)
    for g, e in zip(got, expected, strict=True):
        assert {k: g.get(k) for k in e} == e


@pytest.mark.parametrize("made_by", ["create_all", "baseline"])
def test_a_release_database_upgrades_with_nothing_lost(db_url: str, made_by: str) -> None:
    load_release(db_url, made_by)
    backend = Backend.open(db_url)  # what `triage server run` does first
    assert backend.migration is not None
    assert backend.migration.stamped is (made_by == "create_all")
    assert backend.migration.after == migrate.head()
    assert backend.migration.applied[-1] == migrate.head()
    thread = ServerThread(backend).start()
    tokens, ann_client = EXPECT["tokens"], EXPECT["ann_client_id"]
    ann, bob, mo = (tokens[e] for e in ("ann@example.com", "bob@example.com", "mo@example.com"))
    try:
        with httpx.Client(base_url=thread.url, timeout=30) as http:
            health = http.get("/v1/health").json()
            assert health["epoch"] == 1 and uuid.UUID(health["server_id"])
            # every token still works, and names its user
            for who, token in tokens.items():
                r = http.get("/v1/me", headers={"Authorization": f"Bearer {token}"})
                assert r.status_code == 200 and r.json()["email"] == who.split("#")[0]
            # the queues, from scratch and from the rep's saved cursor
            full = _pull(http, ann, 0, ann_client)
            _same_leads(full["leads"], EXPECT["ann_full_pull"]["leads"])
            assert full["cursor"] == EXPECT["ann_full_pull"]["cursor"] and full["last_seq"] == 7
            assert not full["reset"]
            since = _pull(http, ann, EXPECT["ann_cursor"], ann_client)
            assert (since["leads"], since["revoked"]) == ([], []) and not since["reset"]
            _same_leads(_pull(http, bob, 0)["leads"], EXPECT["bob_full_pull"]["leads"])
            # the mutation log: a resent push is answered from it, with no second effect
            resent = [
                {
                    "seq": r["seq"],
                    "lead_id": "whatever",
                    "type": "reopen",
                    "at": "2026-11-22T00:00:00Z",
                }
                for r in EXPECT["push_results"]
            ]
            auth = {"Authorization": f"Bearer {ann}"}
            r = http.post(
                "/v1/sync/push", json={"client_id": ann_client, "mutations": resent}, headers=auth
            ).json()
            assert [(x["status"], x["stored"], x["error"]) for x in r["results"]] == [
                ("duplicate", x["status"], x["error"]) for x in EXPECT["push_results"]
            ]
            # the feedback stream and the counts of the report, as before
            feedback = http.get(
                "/v1/feedback", params={"cursor": 0}, headers={"Authorization": f"Bearer {mo}"}
            ).json()
            expected = EXPECT["feedback"]  # every field 0.1.0 sent, sent the same
            assert {k: feedback[k] for k in expected if k != "events"} == {
                k: v for k, v in expected.items() if k != "events"
            }
            _same_leads(feedback["events"], expected["events"])
            report = http.get(
                "/v1/reports/qualification", headers={"Authorization": f"Bearer {mo}"}
            ).json()
            counts = ("key", "mqls", "open", "accepted", "rejected", "nurtured")
            assert [{k: row[k] for k in counts} for row in report["rows"]] == [
                {k: row[k] for k in counts} for row in EXPECT["report_by_campaign"]["rows"]
            ]
            # and work goes on: a new decision gets a change number past the old ones
            open_id = next(x["id"] for x in full["leads"] if x["status"] == "open")
            new = [{"seq": 8, "lead_id": open_id, "type": "decide", "outcome": "accept",
                    "at": "2026-11-30T10:00:00Z"}]  # fmt: skip
            r = http.post(
                "/v1/sync/push", json={"client_id": ann_client, "mutations": new}, headers=auth
            ).json()
            assert r["results"][0]["status"] == "applied" and r["last_seq"] == 8
            after = _pull(http, ann, full["cursor"], ann_client)
            assert [x["id"] for x in after["leads"]] == [open_id]
            assert after["cursor"] > EXPECT["ann_full_pull"]["cursor"]
            # a user added after the upgrade gets a fresh id (the id sequences were kept)
            created = backend.add_user("cy@example.com", None, "rep")[0]
            assert created.id > max(u["id"] for u in DATA["user"])
    finally:
        thread.stop()
        backend.close()


def test_the_schema_at_head_is_exactly_the_models(db_url: str) -> None:
    db = Database(db_url)
    try:
        made = migrate.upgrade(db)
        assert made.created and made.applied[0] == migrate.BASELINE
        with db.write_engine.connect() as conn:
            diff = compare_metadata(
                MigrationContext.configure(conn, opts={"compare_type": True}), SQLModel.metadata
            )
        assert diff == []
        again = migrate.upgrade(db)
        assert again.applied == () and not again.created and again.after == migrate.head()
    finally:
        db.dispose()


def test_a_schema_from_a_newer_triage_is_refused_and_left_alone(db_url: str) -> None:
    db = Database(db_url)
    try:
        migrate.upgrade(db)
        with db.write_engine.begin() as conn:
            conn.execute(text("UPDATE alembic_version SET version_num = '9999_from_the_future'"))
        with pytest.raises(migrate.SchemaError, match="newer than this triage"):
            migrate.upgrade(db)
        with db.write_engine.connect() as conn:
            found = conn.execute(text("SELECT version_num FROM alembic_version")).scalar()
        assert found == "9999_from_the_future"
    finally:
        db.dispose()
    ran = run_cli("server", "users", "--db", db_url, check=False)
    assert ran.returncode == 1 and "newer than this triage" in ran.stderr
    assert "Traceback" not in ran.stderr


def test_migrate_prints_its_sql_and_changes_nothing_then_runs(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'server.db'}"
    load_release(url, "create_all")
    shown = run_cli("server", "migrate", "--db", url, "--sql", check=True)
    assert "stamped as 0001_baseline" in shown.stdout
    assert "CREATE TABLE serverinfo" in shown.stdout and "CREATE TABLE lead (" not in shown.stdout
    db = Database(url)
    try:
        assert migrate.current(db) == migrate.BASELINE  # --sql ran nothing
    finally:
        db.dispose()
    ran = run_cli("server", "migrate", "--db", url, check=True)
    assert "upgraded from 0001_baseline (a release 0.1.0 database)" in ran.stdout
    assert migrate.head() in ran.stdout
    ran = run_cli("server", "migrate", "--db", url, check=True)
    assert "(current)" in ran.stdout
    shown = run_cli("server", "migrate", "--db", url, "--sql", check=True)
    assert "nothing to run" in shown.stdout
    empty = f"sqlite:///{tmp_path / 'empty.db'}"
    ran = run_cli("server", "migrate", "--db", empty, check=True)
    assert "no schema yet; created it" in ran.stdout
