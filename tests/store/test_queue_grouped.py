"""The queue grouped by account (the "account" sort): an account's leads together, accounts
A to Z by key (none last), each account's most urgent first; walked on an index; next and
previous follow it; a page's accounts counted; a version-11 store gets the sort column."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from tests.store.test_accounts import insert_old_rows, old_store
from tests.support.factories import NOW, make_lead
from triage import domain
from triage.store import Store


def lead(i: int, email: str | None, company: str | None) -> domain.Lead:
    return replace(make_lead(i), email=email, company=company)


LEADS = [
    lead(1, "a@zeta.example", "Zeta"),
    lead(2, "b@acme.example", "Acme"),
    lead(3, "c@gmail.com", None),  # free mail, no company: no account
    lead(4, "d@zeta.example", "Zeta"),
    lead(5, "e@acme.example", "Acme"),
    lead(6, "f@mid.example", "Mid"),
]


def test_the_account_sort_groups_an_accounts_leads_and_follows_next(tmp_path: Path) -> None:
    with Store.open(tmp_path / "t.db") as store:
        store.save_policy(domain.DEFAULT_POLICY)
        store.apply_pull(LEADS, [], cursor=1)
        flt = domain.Filter()
        rows = store.queue_page(flt, "account", 0, 100, now=NOW)
        accounts = [r.account for r in rows]
        assert accounts == ["acme.example"] * 2 + ["mid.example"] + ["zeta.example"] * 2 + [None]
        sla = store.queue_ids(flt, "sla", now=NOW)
        for key in ("acme.example", "zeta.example"):  # inside an account: the SLA order
            inside = [r.id for r in rows if r.account == key]
            assert inside == [i for i in sla if i in inside]
        ids = [r.id for r in rows]
        assert store.queue_ids(flt, "account", now=NOW) == ids
        assert store.queue_ids(flt, "-account", now=NOW) == ids[::-1]
        for before, after in zip(ids, ids[1:], strict=False):
            assert store.next_in_queue(before, flt, "account", now=NOW) == after
            assert store.next_in_queue(after, flt, "account", step=-1, now=NOW) == before
        counts = store.account_counts(flt, [*accounts, "nobody.example"], now=NOW)
        assert counts == {"acme.example": 2, "mid.example": 1, "zeta.example": 2, None: 1}
        store.decide([LEADS[0].id], "accept", at=NOW)
        assert store.account_counts(flt, ["zeta.example"], now=NOW) == {"zeta.example": 1}
        with store._read() as conn:  # the unfiltered queue walks an index, no sorting
            where, params = store._where(flt, NOW, "account")
            sql = f"SELECT id FROM leads WHERE {where} ORDER BY {store._order('account')}"
            plan = " ".join(r[-1] for r in conn.execute("EXPLAIN QUERY PLAN " + sql, params))
        assert "leads_group" in plan and "TEMP B-TREE" not in plan


def test_a_version_11_store_gets_its_account_order(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    conn = old_store(path, 11)
    insert_old_rows(conn, LEADS, later=("account_sort", "suggestion", "suggestion_confidence"))
    conn.close()
    with Store.open(path) as store:
        rows = store.queue_page(domain.Filter(), "account", 0, 100, now=NOW)
        assert [r.account for r in rows][-2:] == ["zeta.example", None]
