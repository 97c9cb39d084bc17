"""The queue: the filter language as SQL, sorted pages, counts, ids."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from triage import domain
from triage.domain import Status
from triage.store.common import (
    _BANT_COLUMNS,
    _chunks,
    _from_epoch,
    _like,
    _marks,
    _name_ids,
)
from triage.store.records import (
    Account,
    ActionError,
    QueueRow,
)
from triage.store.rows import _QUEUE_COLUMNS, _suggestion_of

_ORDER = {
    "sla": "sla_sort, score DESC, id",  # longest on the SLA clock first (most urgent)
    "score": "score DESC, sla_sort, id",
    "age": "sla_at DESC, id DESC",  # newest on the rep's clock first; unknown last
    "name": "name_key, id",
    "company": "company_key, name_key, id",
    # grouped by account (A to Z by its key, none last), each account's most urgent first
    "account": "account_sort, sla_sort, score DESC, id",
}

_INDEXED_SORTS = ("sla", "score", "account")  # and reversed: SQLite walks the index backwards
REVERSED = "-"  # "-score": the score sort the other way round (lowest first)


def _attribute_clauses(flt: domain.Filter, clauses: list[str], params: list[Any]) -> None:
    """`attr:KEY=VALUE` and `attr:KEY`, on attributes_key ({key: folded text}, JSON). A key
    is lowercase letters, digits and _ (domain.attribute_key): safe in a JSON path. And
    `account:`, on account_key (the other column a lead's import data decides)."""
    for key, wanted in flt.attributes:
        if wanted is None:
            clauses.append("json_type(attributes_key, ?) IS NOT NULL")
            params.append(f'$."{key}"')
        else:
            clauses.append("json_extract(attributes_key, ?) = ?")
            params += [f'$."{key}"', wanted]
    if flt.account:  # `account:` (domain.account_key), indexed
        accounts = list(dict.fromkeys(flt.account))
        clauses.append(f"account_key IN ({_marks(len(accounts))})")
        params.extend(accounts)


def _token_clauses(flt: domain.Filter, now: datetime | None) -> tuple[list[str], list[Any]]:
    """The WHERE terms of a filter's tokens (source:, campaign:, score:, bant:, age:, attr:,
    account:), and their parameters."""
    clauses: list[str] = []
    params: list[Any] = []
    if flt.source:
        sources = list(dict.fromkeys(domain.fold(s) for s in flt.source))
        clauses.append(f"source_key IN ({_marks(len(sources))})")
        params.extend(sources)
    if flt.campaign:
        likes = " OR ".join("campaign_key LIKE ? ESCAPE '\\'" for _ in flt.campaign)
        clauses.append(f"({likes})")
        params.extend(_like(domain.fold(c)) for c in flt.campaign)
    if flt.score_lt is not None:
        clauses.append("+score < ?")
        params.append(flt.score_lt)
    if flt.score_gt is not None:
        clauses.append("+score > ?")
        params.append(flt.score_gt)
    for key, answer in flt.bant:
        column = _BANT_COLUMNS.get(key)
        if column is not None:
            clauses.append(f"{column} = ?")
            params.append(answer)
    if flt.age_gt_hours is not None or flt.age_lt_hours is not None:
        t = (now or domain.utcnow()).timestamp()
        if flt.age_gt_hours is not None:
            clauses.append("+sla_at < ?")
            params.append(t - flt.age_gt_hours * 3600)
        if flt.age_lt_hours is not None:
            clauses.append("(sla_at IS NULL OR +sla_at > ?)")
            params.append(t - flt.age_lt_hours * 3600)
    _attribute_clauses(flt, clauses, params)
    return clauses, params


def _terms(order: str) -> list[tuple[str, bool]]:
    """An ORDER BY clause as (column, descending) terms."""
    out = []
    for term in order.split(","):
        column, _, direction = term.strip().partition(" ")
        out.append((column, direction.upper() == "DESC"))
    return out


def _after(column: str, descending: bool, value: Any) -> tuple[str, list[Any]]:
    """The rows that sort after `value` on one term (SQLite sorts NULL first, ascending)."""
    if value is None:
        return ("0", []) if descending else (f"{column} IS NOT NULL", [])
    if descending:
        return f"({column} < ? OR {column} IS NULL)", [value]
    return f"{column} > ?", [value]


def _keyset(order: str, values: Sequence[Any], step: int) -> tuple[str, list[Any], str]:
    """(condition, parameters, order) for the rows after (step 1) or before (step -1) the
    row whose sort values are `values`, nearest first."""
    terms = [(c, d if step > 0 else not d) for c, d in _terms(order)]
    ors: list[str] = []
    params: list[Any] = []
    for i, (column, descending) in enumerate(terms):
        ands = [f"{c} IS ?" for c, _ in terms[:i]]
        params.extend(values[:i])
        condition, more = _after(column, descending, values[i])
        ors.append(" AND ".join([*ands, condition]))
        params.extend(more)
    nearest = ", ".join(f"{c} {'DESC' if d else 'ASC'}" for c, d in terms)
    return "(" + " OR ".join(f"({o})" for o in ors) + ")", params, nearest


class QueueMixin:
    """Filtered, sorted, paged in SQL."""

    def _where(
        self, flt: domain.Filter, now: datetime | None, sort: str = "sla"
    ) -> tuple[str, list[Any]]:
        """The WHERE clause of a filter, its parameters bound.

        No filter terms and an indexed sort: the query walks the sort's index and
        stops at the page (under a millisecond). Otherwise the indexed columns are
        written `+col`, so that SQLite uses no index: it scans the compact table once and
        sorts the matches, a bounded cost (about 30 ms at 100k leads) whatever the
        filter. Walking the index instead costs a lookup per skipped row: 200 ms
        and more when the filter matches little.

        Filter semantics: free words must all appear (in name, company, title,
        email or campaign); several source: tokens match any of them, exactly,
        several campaign: tokens any of them, as a substring (both ignore case);
        `age:` counts on the SLA clock (domain.sla_start); a lead without one is age 0.
        """
        indexed = sort.removeprefix(REVERSED) in _INDEXED_SORTS
        scan = "+" if self._has_terms(flt) or not indexed else ""
        # The terms in this order: SQLite tests a row's terms in the order written and stops
        # at the first that fails. The tokens first (each rules out most rows), then the
        # status (most rows of a store are open), the free words last: the substring search
        # reads only the rows the comparisons let through (source:tradeshow score:>20 acme
        # at 100,000 leads: the LIKE on 16,000 rows, not on 100,000; 72 -> 47 ms of CPU).
        clauses, params = _token_clauses(flt, now)
        statuses = list(dict.fromkeys(flt.status)) or [Status.OPEN.value]
        if len(statuses) == 1:
            clauses.append(f"{scan}status = ?")
        else:
            clauses.append(f"{scan}status IN ({_marks(len(statuses))})")
        params.extend(statuses)
        for word in flt.text:
            clauses.append("search LIKE ? ESCAPE '\\'")
            params.append(_like(domain.fold(word)))
        return " AND ".join(clauses), params

    @staticmethod
    def _has_terms(flt: domain.Filter) -> bool:
        return bool(
            flt.text or flt.source or flt.campaign or flt.bant or flt.attributes or flt.account
            or flt.score_lt is not None or flt.score_gt is not None
            or flt.age_gt_hours is not None or flt.age_lt_hours is not None
        )  # fmt: skip

    @staticmethod
    def _order(sort: str) -> str:
        """The ORDER BY of a sort; "-name" reverses every term of "name" (its tie-breaks
        and where unknown values go included: exactly the reverse order)."""
        try:
            order = _ORDER[sort.removeprefix(REVERSED)]
        except KeyError:
            known = ", ".join(_ORDER)
            message = f"unknown sort {sort!r} (known: {known}, each may start with -)"
            raise ValueError(message) from None
        if not sort.startswith(REVERSED):
            return order
        return ", ".join(f"{c} {'ASC' if d else 'DESC'}" for c, d in _terms(order))

    def queue_page(
        self,
        flt: domain.Filter,
        sort: str,
        offset: int,
        limit: int,
        now: datetime | None = None,
    ) -> list[QueueRow]:
        """One page of the queue, filtered and sorted in SQL."""
        where, params = self._where(flt, now, sort)
        order = self._order(sort)
        # The page's ids first (from the sort's index, which holds the primary key of
        # this WITHOUT ROWID table), then their columns: OFFSET skips rows without
        # reading them in full.
        sql = (
            f"SELECT {_QUEUE_COLUMNS} FROM leads WHERE id IN "
            f"(SELECT id FROM leads WHERE {where} ORDER BY {order} LIMIT ? OFFSET ?) "
            f"ORDER BY {order}"
        )
        with self._read() as conn:
            rows = conn.execute(sql, (*params, max(0, limit), max(0, offset))).fetchall()
        return [
            QueueRow(
                id=r[0],
                name=r[1],
                title=r[2],
                company=r[3],
                source=r[4],
                campaign=r[5],
                score=r[6],
                mql_at=_from_epoch(r[7]),
                status=r[8],
                bant=(r[9], r[10], r[11], r[12]),
                pending=bool(r[15]),
                sla_at=_from_epoch(r[13]),
                account=r[14],
                suggestion=_suggestion_of(r[16], r[17]),
            )  # fmt: skip
            for r in rows
        ]

    def any_suggestion(self, threshold: float) -> bool:
        """Does any open lead carry a suggestion at or above `threshold` (the policy's)?
        One probe of the leads_suggested index, whatever the size of the queue."""
        sql = "SELECT 1 FROM leads WHERE status = 'open' AND suggestion_confidence >= ? LIMIT 1"
        with self._read() as conn:
            return conn.execute(sql, (threshold,)).fetchone() is not None

    def queue_count(self, flt: domain.Filter, now: datetime | None = None) -> int:
        where, params = self._where(flt, now)
        with self._read() as conn:
            return conn.execute(f"SELECT count(*) FROM leads WHERE {where}", params).fetchone()[0]

    def account_counts(
        self, flt: domain.Filter, accounts: Sequence[str | None], now: datetime | None = None
    ) -> dict[str | None, int]:
        """{account key: its leads that `flt` matches} for these accounts (None: the leads
        without one): the grouped queue's account labels, a page's accounts at a time, on
        the account's index."""
        where, params = self._where(flt, now)
        keys = [a for a in dict.fromkeys(accounts) if a is not None]
        out: dict[str | None, int] = {}
        with self._read() as conn:
            if keys:
                out.update(
                    conn.execute(
                        f"SELECT account_key, count(*) FROM leads WHERE {where} "
                        f"AND account_key IN ({_marks(len(keys))}) GROUP BY account_key",
                        (*params, *keys),
                    ).fetchall()
                )
            if None in accounts:
                sql = f"SELECT count(*) FROM leads WHERE {where} AND account_key IS NULL"
                out[None] = conn.execute(sql, params).fetchone()[0]
        return out

    def queue_ids(self, flt: domain.Filter, sort: str, now: datetime | None = None) -> list[str]:
        """Every id the filter matches, in queue order (for "mark all visible")."""
        where, params = self._where(flt, now, sort)
        sql = f"SELECT id FROM leads WHERE {where} ORDER BY {self._order(sort)}"
        with self._read() as conn:
            return [r[0] for r in conn.execute(sql, params)]

    def next_in_queue(
        self,
        lead_id: str,
        flt: domain.Filter,
        sort: str,
        *,
        step: int = 1,
        now: datetime | None = None,
    ) -> str | None:
        """The lead after `lead_id` in the queue's order (`step=-1`: before it), or None at
        the end. `lead_id` need not match the filter any more (a lead just decided has left
        the open queue): its place is where its sort values put it."""
        order = self._order(sort)
        columns = [c for c, _ in _terms(order)]
        with self._read() as conn:
            found = conn.execute(
                f"SELECT {', '.join(columns)} FROM leads WHERE id = ?", (lead_id,)
            ).fetchone()
            if found is None:
                return None
            where, params = self._where(flt, now, sort)
            beyond, more, nearest = _keyset(order, found, step)
            sql = f"SELECT id FROM leads WHERE {where} AND {beyond} ORDER BY {nearest} LIMIT 1"
            row = conn.execute(sql, (*params, *more)).fetchone()
        return None if row is None else row[0]

    def account_of(self, lead_id: str) -> Account | None:
        """The lead's account and the other leads of it in this store (the rep's own),
        counted by status: the account's leads counted on its index alone (account_key,
        status), less the lead itself; and the other leads with its email (possible
        duplicates, on the email's index). None: the lead has no account and no
        same-email lead (an account's `key` is None when only the email is shared)."""
        with self._read() as conn:
            found = conn.execute(
                "SELECT account_key, company, status, email_key FROM leads WHERE id = ?",
                (lead_id,),
            ).fetchone()
            if found is None:
                return None
            key, company, status, email = found
            counts: dict[str, int] = {}
            if key is not None:
                counts = dict(
                    conn.execute(
                        "SELECT status, count(*) FROM leads WHERE account_key = ? GROUP BY status",
                        (key,),
                    ).fetchall()
                )
                counts[status] -= 1  # not the lead itself
            same = 0
            if email is not None:
                query = "SELECT count(*) FROM leads WHERE email_key = ?"
                same = conn.execute(query, (email,)).fetchone()[0] - 1
        if key is None and not same:
            return None
        others = {k: n for k, n in counts.items() if n}
        return Account(key, company or key or "", others, same_email=same)

    def resolve_ids(self, refs: Sequence[str]) -> dict[str, str]:
        """{reference: lead id} for the references that name a lead in the store, by its
        id or by its external id (the marketing system's, `HS-2011`); the others are left
        out. A lead's own id wins over another lead's external id. Raises ActionError
        (`ambiguous_id`) for an external id that several leads carry."""
        refs = list(dict.fromkeys(refs))
        found: dict[str, str] = {}
        with self._read() as conn:
            for chunk in _chunks(refs):
                found.update(
                    (r[0], r[0])
                    for r in conn.execute(
                        f"SELECT id FROM leads WHERE id IN ({_marks(len(chunk))})", chunk
                    )
                )
            rest = [r for r in refs if r not in found]
            by_external: dict[str, list[str]] = {}
            for chunk in _chunks(rest):
                for external_id, lead_id in conn.execute(
                    "SELECT external_id, id FROM leads "
                    f"WHERE external_id IN ({_marks(len(chunk))}) ORDER BY id",
                    chunk,
                ):
                    by_external.setdefault(external_id, []).append(lead_id)
        several = {e: ids for e, ids in by_external.items() if len(ids) > 1}
        if several:
            named = [f"{e} ({', '.join(ids)})" for e, ids in several.items()]
            raise ActionError(
                "ambiguous_id",
                f"external id(s) of several leads: {_name_ids(named)}; use the lead id",
            )
        found.update((e, ids[0]) for e, ids in by_external.items())
        return found
