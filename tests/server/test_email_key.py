"""Duplicates by email fold Unicode case alike on both engines: the `email_key` column
(Python's str.casefold, written with every email) is what an import matches, and
migration 0017's backfill writes the same keys."""

from __future__ import annotations

from typing import Any

from alembic import command
from sqlalchemy import select

from tests.conftest import Live
from tests.support.factories import lead_row
from triage.server import migrate, models


def _row(n: int, email: str, **extra: Any) -> dict[str, Any]:
    return lead_row(n, external_id=f"K-{n}", email=email, **extra)


def _keys(live: Live) -> dict[str, str | None]:
    with live.backend.db.read() as s:
        rows = s.execute(select(models.Lead.external_id, models.Lead.email_key)).all()
    return dict(rows)


def test_emails_that_fold_alike_are_linked_on_both_engines(live: Live) -> None:
    live.upsert([_row(1, "ÉMILE@x.example"), _row(2, "STRASSE@x.example"),
                 _row(3, "ann@x.example")])  # fmt: skip
    assert live.upsert([_row(4, " émile@X.example"), _row(5, "straße@x.example"),
                        _row(6, "anne@x.example")])["created"] == 3  # fmt: skip
    assert live.backend.lead("K-4")["duplicate_of"]["external_id"] == "K-1"
    assert live.backend.lead("K-5")["duplicate_of"]["external_id"] == "K-2"
    assert "duplicate_of" not in live.backend.lead("K-6")  # not the same email
    # an update of a lead's email rewrites its key (the ORM path), and so does the match
    live.upsert([_row(3, "ÖMER@x.example")])
    live.upsert([_row(7, "ömer@x.example")])
    assert live.backend.lead("K-7")["duplicate_of"]["external_id"] == "K-3"
    keys = _keys(live)
    assert keys["K-1"] == keys["K-4"] == "émile@x.example"
    assert keys["K-2"] == keys["K-5"] == "strasse@x.example"
    assert keys["K-3"] == keys["K-7"] == "ömer@x.example"


def test_migration_0017_backfills_the_keys_with_python_casefold(live: Live) -> None:
    # (lower() would not do: "Straße" lowers to "straße" on PostgreSQL, folds to "strasse")
    live.upsert([_row(1, "ÉMILE@x.example"), _row(2, "Straße@x.example"),
                 _row(3, "Plain@X.example"), _row(4, "ǅemal@x.example")])  # fmt: skip
    before = _keys(live)
    assert before["K-2"] == "strasse@x.example" and before["K-4"] == "ǆemal@x.example"
    db = live.backend.db
    with db.migration_lock() as conn:
        command.downgrade(migrate._config(conn), "0016_webhook_secret_rotation")
    assert migrate.upgrade(db).applied[0] == "0017_email_key"
    assert _keys(live) == before
    live.upsert([_row(5, "STRASSE@x.example")])  # the backfilled key is matched
    assert live.backend.lead("K-5")["duplicate_of"]["external_id"] == "K-2"
