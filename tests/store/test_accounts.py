"""A lead's account in the store: the other leads of it by status (one indexed query), the
`account:` filter, and a version-8 store migrated with its accounts filled in."""

from __future__ import annotations

import sqlite3
from dataclasses import replace
from pathlib import Path

import triage.store as store_module
from tests.support.factories import NOW, make_lead
from triage import domain
from triage.store import Store


def cobalt(i: int, email: str | None = None, company: str = "Cobalt Insurance") -> domain.Lead:
    lead = make_lead(i)
    return replace(lead, email=email or f"p{i}@cobalt-insurance.com", company=company)


def test_the_other_leads_of_an_account_by_status(tmp_path: Path) -> None:
    with Store.open(tmp_path / "t.db") as store:
        store.save_policy(domain.DEFAULT_POLICY)
        leads = [
            cobalt(1),
            cobalt(2),
            cobalt(3),
            cobalt(4, "z@gmail.com", "Other Co"),
            make_lead(5),
        ]
        store.apply_pull(leads, [], 1)
        store.decide([leads[1].id], "accept", at=NOW)
        account = store.account_of(leads[0].id)
        assert account is not None
        assert (account.key, account.name) == ("cobalt-insurance.com", "Cobalt Insurance")
        assert account.others == {"accepted": 1, "open": 1} and account.count == 2
        # free mail: the company's account, which no other lead shares
        alone = store.account_of(leads[3].id)
        assert alone.key == "other" and alone.count == 0
        assert store.account_of("nope") is None
        flt = domain.parse_filter("account:cobalt-insurance.com")
        assert store.queue_ids(flt, "sla", now=NOW) == store.queue_ids(
            domain.parse_filter("cobalt"), "sla", now=NOW
        )
        assert set(store.queue_ids(flt, "sla", now=NOW)) == {leads[0].id, leads[2].id}
        with store._read() as conn:
            sql = "SELECT status, count(*) FROM leads WHERE account_key = ? AND id != ? GROUP BY status"
            plan = " ".join(r[-1] for r in conn.execute("EXPLAIN QUERY PLAN " + sql, ("x", "y")))
        assert "leads_account" in plan


def old_store(path: Path, version: int) -> sqlite3.Connection:
    """A store file made by schema `version`, open for writing its rows."""
    conn = sqlite3.connect(path, isolation_level=None)
    for migrate in store_module._MIGRATIONS[:version]:
        migrate(conn)
    conn.execute(f"PRAGMA user_version = {version}")
    return conn


def test_a_version_8_store_gets_its_accounts(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    conn = old_store(path, 8)
    insert_old_rows(
        conn,
        (cobalt(1), cobalt(2)),
        later=("account_key", "email_key", "account_sort", "suggestion", "suggestion_confidence"),
    )
    with Store.open(path) as store:
        assert store.account_of(cobalt(1).id).others == {"open": 1}


def insert_old_rows(conn: sqlite3.Connection, leads, *, later: tuple[str, ...]) -> None:
    """Write `leads` as an older store had them: without the columns added `later`."""
    columns = [c for c in store_module.rows._LEAD_COLUMNS if c not in later]
    for lead in leads:
        row, server = store_module.rows._lead_row(lead)
        values = [v for c, v in zip(store_module.rows._LEAD_COLUMNS, row, strict=True)
                  if c not in later]  # fmt: skip
        conn.execute(
            f"INSERT INTO leads ({', '.join(columns)}) VALUES ({','.join('?' * len(columns))})",
            values,
        )
        conn.execute("INSERT INTO lead_server (id, version, json) VALUES (?, ?, ?)", server)
    conn.close()


def test_leads_with_one_email_are_possible_duplicates(tmp_path: Path) -> None:
    with Store.open(tmp_path / "t.db") as store:
        store.save_policy(domain.DEFAULT_POLICY)
        leads = [
            cobalt(1),
            cobalt(2, " P1@Cobalt-Insurance.com"),  # the same email, as another form typed it
            cobalt(3),
            replace(make_lead(4), email="jo@gmail.com", company=None),  # free mail, no company
            replace(make_lead(5), email="JO@gmail.com", company=None),
            replace(make_lead(6), email="solo@gmail.com", company=None),
        ]
        store.apply_pull(leads, [], 1)
        store.decide([leads[1].id], "reject", reason="duplicate", at=NOW)
        first = store.account_of(leads[0].id)
        assert first.same_email == 1 and first.others == {"rejected": 1, "open": 1}
        assert store.account_of(leads[2].id).same_email == 0
        # no account (free mail, no company), but the email is shared: still said
        free = store.account_of(leads[3].id)
        assert free.key is None and free.count == 0 and free.same_email == 1
        assert store.account_of(leads[5].id) is None
        with store._read() as conn:
            sql = "SELECT count(*) FROM leads WHERE email_key = ?"
            plan = " ".join(r[-1] for r in conn.execute("EXPLAIN QUERY PLAN " + sql, ("x",)))
        assert "leads_email" in plan


def test_a_version_10_store_gets_its_email_keys(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    conn = old_store(path, 10)
    insert_old_rows(
        conn,
        (cobalt(1), cobalt(2, "p1@cobalt-insurance.com")),
        later=("email_key", "account_sort", "suggestion", "suggestion_confidence"),
    )
    with Store.open(path) as store:
        assert store.account_of(cobalt(1).id).same_email == 1
