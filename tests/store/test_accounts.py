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


def test_a_version_8_store_gets_its_accounts(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    conn = sqlite3.connect(path, isolation_level=None)
    for migrate in store_module._MIGRATIONS[:8]:
        migrate(conn)
    conn.execute("PRAGMA user_version = 8")
    columns = [c for c in store_module.rows._LEAD_COLUMNS if c != "account_key"]
    for lead in (cobalt(1), cobalt(2)):
        row, server = store_module.rows._lead_row(lead)
        values = [v for c, v in zip(store_module.rows._LEAD_COLUMNS, row, strict=True)
                  if c != "account_key"]  # fmt: skip
        conn.execute(
            f"INSERT INTO leads ({', '.join(columns)}) VALUES ({','.join('?' * len(columns))})",
            values,
        )
        conn.execute("INSERT INTO lead_server (id, version, json) VALUES (?, ?, ?)", server)
    conn.close()
    with Store.open(path) as store:
        assert store.account_of(cobalt(1).id).others == {"open": 1}
