"""The corrected figures, each against a hand-computed expectation, on SQLite and PostgreSQL.

One rep, ann, with leads assigned at T0 (100 hours ago) and the policy's SLA of 24 hours:

| lead | what ann did (hours after T0)                         | first decision | standing  |
| A    | accept at +2                                          | 2 h            | accepted  |
| B    | reject no_budget at +30 (its MQL is 500 h before T0)  | 30 h           | rejected  |
| C    | reject at +4, undone at +5, nurture timing_later at +40 | 4 h          | nurtured  |
| D    | reject other ("call back in May") at +50              | 50 h           | rejected  |
| E    | open, assigned 30 h ago                               | past the SLA   |           |
| F    | open, assigned 1 h ago                                |                |           |

Times to decision 2, 4, 30, 50: the median is (4 + 30) / 2 = 17 h (from mql_at, B alone
would have been 530 h). Within 24 h: A and C: SLA compliance 2 / 4 = 0.5. Acceptance rate
1 / 4. Rejection reasons no_budget 1, other 1; the nurture reason timing_later 1, apart.
"""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest
from alembic import command
from sqlalchemy import Float, literal, select, union_all, update

from tests.conftest import Live
from tests.support.factories import lead_row
from triage import domain
from triage.server import migrate, models, reports
from triage.server.db import Database

NOW = datetime.now(timezone.utc).replace(microsecond=0)
T0 = NOW - timedelta(hours=100)


def _z(dt: datetime) -> str:
    return dt.isoformat().replace("+00:00", "Z")


def _setup(live: Live) -> dict[str, str]:
    rows = []
    for n, name in enumerate("ABCDEF", 1):
        mql = T0 - timedelta(hours=500 if name == "B" else 1)
        rows.append(lead_row(n, campaign="spring" if name in "ABC" else "autumn",
                             source="webinar", mql_at=_z(mql)))  # fmt: skip
    live.upsert(rows)
    ids = {name: live.backend.lead(f"ext-{n}")["id"] for n, name in enumerate("ABCDEF", 1)}
    assigned = {name: T0 for name in "ABCD"} | {
        "E": NOW - timedelta(hours=30),
        "F": NOW - timedelta(hours=1),
    }
    with live.backend.db.write() as s:
        for name, at in assigned.items():
            s.execute(update(models.Lead).where(models.Lead.id == ids[name]).values(assigned_at=at))

    def m(seq: int, name: str, hours: float, type: str = "decide", **kw: Any) -> dict:
        return {"seq": seq, "lead_id": ids[name], "type": type,
                "at": _z(T0 + timedelta(hours=hours)), **kw}  # fmt: skip

    mutations = [
        m(1, "A", 2, outcome="accept"),
        m(2, "B", 30, outcome="reject", reason="no_budget"),
        m(3, "C", 4, outcome="reject", reason="no_need"),
        m(4, "C", 5, "reopen"),
        m(
            5,
            "C",
            40,
            outcome="nurture",
            reason="timing_later",
            nurture_until=(NOW + timedelta(days=10)).date().isoformat(),
        ),
        m(6, "D", 50, outcome="reject", reason="other", note="call back in May"),
    ]
    r = live.ann.post(
        "/v1/sync/push", json={"client_id": str(uuid.uuid4()), "mutations": mutations}
    )
    assert [x["status"] for x in r.json()["results"]] == ["applied"] * 6, r.text
    return ids


def test_each_corrected_figure(live: Live) -> None:
    _setup(live)
    r = live.mo.get("/v1/reports/overview", params={"preset": "7d"})
    assert r.status_code == 200, r.text
    f = r.json()["figures"]
    assert (f["decided"], f["accepted"], f["rejected"], f["nurtured"]) == (4, 1, 2, 1)
    assert f["acceptance_rate"] == 0.25
    assert f["median_hours_to_decision"] == pytest.approx(17, abs=0.01)
    assert f["sla_compliance"] == 0.5 and f["decided_within_sla"] == 2
    assert (f["open"], f["open_past_sla"]) == (2, 1)
    assert f["mqls_received"] == 5  # B's MQL is three weeks old: not received this week
    body = r.json()
    assert body["reject_reasons"] == [
        {"code": "no_budget", "label": "No budget", "count": 1},
        {"code": "other", "label": "Other (say why)", "count": 1},
    ]
    assert body["nurture_reasons"] == [
        {"code": "timing_later", "label": "Timing: buying later", "count": 1}
    ]

    # The qualification report (all time) agrees, and keeps the deprecated flat map.
    rows = {
        x["key"]: x
        for x in live.mo.get("/v1/reports/qualification", params={"by": "rep"}).json()["rows"]
    }
    ann = rows["ann@example.com"]
    assert ann["median_hours_to_decision"] == pytest.approx(17, abs=0.01)
    assert ann["sla_compliance"] == 0.5 and ann["open_past_sla"] == 1
    assert ann["reasons"] == {"no_budget": 1, "other": 1, "timing_later": 1}
    assert [x["code"] for x in ann["nurture_reasons"]] == ["timing_later"]

    reps = live.mo.get("/v1/reports/reps", params={"preset": "7d"}).json()["rows"]
    ann = next(x for x in reps if x["rep"] == "ann@example.com")
    assert (ann["decided"], ann["sla_compliance"], ann["open_past_sla"]) == (4, 0.5, 1)
    assert ann["median_hours_to_decision"] == pytest.approx(17, abs=0.01)

    camp = live.mo.get("/v1/reports/breakdown", params={"preset": "7d"}).json()["rows"]
    spring = next(x for x in camp if x["key"] == "spring")
    # A (2 h), B (30 h), C (4 h): median 4 h; within the SLA: A and C
    assert spring["median_hours_to_decision"] == pytest.approx(4, abs=0.01)
    assert (spring["decided"], spring["decided_within_sla"]) == (3, 2)
    assert [x["code"] for x in spring["reject_reasons"]] == ["no_budget"]
    assert [x["code"] for x in spring["nurture_reasons"]] == ["timing_later"]

    notes = live.mo.get("/v1/reports/notes", params={"preset": "7d"}).json()["notes"]
    assert [(n["reason_label"], n["note"]) for n in notes] == [
        ("Other (say why)", "call back in May")
    ]


def test_nurture_due(live: Live) -> None:
    ids = _setup(live)
    due = live.mo.get("/v1/reports/nurture", params={"days": 30}).json()
    assert [(r["lead_id"], r["passed"], r["reason_label"]) for r in due["rows"]] == [
        (ids["C"], False, "Timing: buying later")
    ]
    assert due["total"] == 1
    assert live.mo.get("/v1/reports/nurture", params={"days": 5}).json()["rows"] == []


def test_a_retired_reason_keeps_its_last_label(live: Live) -> None:
    _setup(live)
    relabelled = domain.load_policy_toml(
        '[[reject_reasons]]\ncode = "no_budget"\nlabel = "Budget: none"\n'
        '[[reject_reasons]]\ncode = "other"\nlabel = "Something else"\nnote_required = true\n'
    )
    live.backend.set_policy(relabelled)
    live.backend.set_policy(
        domain.load_policy_toml('[[reject_reasons]]\ncode = "no_budget"\nlabel = "No money"\n')
    )
    body = live.mo.get("/v1/reports/overview", params={"preset": "7d"}).json()
    labels = {x["code"]: x["label"] for x in body["reject_reasons"]}
    assert labels == {"no_budget": "No money", "other": "Something else"}
    history = live.mo.get("/v1/reports/policy").json()["versions"]
    assert [v["version"] for v in history] == [3, 2]
    assert "rejection reason retired: Something else (other)" in history[0]["changes"]


def test_periods_weeks_and_time_zones() -> None:
    at = datetime(2026, 11, 30, 23, 30, tzinfo=timezone.utc)  # a Monday, 00:30 in Berlin
    p = reports.period("Europe/Berlin", "7d", now=at)
    assert (p.start.isoformat(), p.end.isoformat()) == ("2026-11-25", "2026-12-01")
    assert p.start_utc == datetime(2026, 11, 24, 23, 0, tzinfo=timezone.utc)
    q = reports.period("UTC", "quarter", now=at)
    assert (q.start.isoformat(), q.end.isoformat()) == ("2026-10-01", "2026-11-30")
    weeks = reports.weeks(q)
    assert weeks[0][0].isoformat() == "2026-09-28" and weeks[0][0].weekday() == 0
    assert len(weeks) == 10
    # a week that starts across a change of clocks starts at local midnight
    spring = reports.period("Europe/Berlin", start="2026-03-23", end="2026-04-05")
    assert [s.hour for _, s in reports.weeks(spring)] == [23, 22]
    with pytest.raises(reports.ReportError):
        reports.period("UTC", start="2026-02-01", end="2026-01-01")


def test_trend_weeks_add_up_to_the_period(live: Live) -> None:
    _setup(live)
    trend = live.mo.get("/v1/reports/trend", params={"preset": "30d"}).json()["weeks"]
    total = live.mo.get("/v1/reports/overview", params={"preset": "30d"}).json()["figures"]
    assert sum(w["decided"] for w in trend) == total["decided"] == 4
    assert sum(w["mqls_received"] for w in trend) == total["mqls_received"]
    assert all(w["monday"] <= w2["monday"] for w, w2 in zip(trend, trend[1:], strict=False))


def test_the_reason_column_follows_every_decision(live: Live) -> None:
    """`decision_reason` (the reports' index) equals the standing decision's reason after
    decisions, an undo, a decision made again, and a decided lead reassigned with --force."""
    ids = _setup(live)
    live.backend.assign(ids["D"], "ann@example.com", force=True)  # a new cycle: no decision

    def pairs() -> dict[str, tuple[Any, Any]]:
        with live.backend.db.read() as s:
            rows = s.execute(
                models.Lead.__table__.select().where(models.Lead.id.in_(list(ids.values())))
            ).mappings()
            return {
                r["id"]: ((r["decision"] or {}).get("reason"), r["decision_reason"]) for r in rows
            }

    got = pairs()
    assert got[ids["B"]] == ("no_budget", "no_budget")
    assert got[ids["C"]] == ("timing_later", "timing_later")  # after reject, undo, nurture
    assert got[ids["D"]] == (None, None)  # set aside by the reassignment
    assert got[ids["A"]] == (None, None) and got[ids["E"]] == (None, None)


def _first_decided(live: Live, ids: dict[str, str]) -> dict[str, datetime | None]:
    with live.backend.db.read() as s:
        rows = s.execute(
            select(models.Lead.id, models.Lead.first_decided_at).where(
                models.Lead.id.in_(list(ids.values()))
            )
        ).all()
    by_id = {
        lead_id: None if at is None else at.replace(tzinfo=timezone.utc) for lead_id, at in rows
    }
    return {name: by_id[lead_id] for name, lead_id in ids.items()}


def _hours(live: Live, ids: dict[str, str]) -> dict[str, float | None]:
    """Each lead's `decision_hours`, checked against its own columns: hours from its SLA
    clock's start (assigned_at, else mql_at) to first_decided_at; None without the latter."""
    cols = models.Lead.__table__.c
    with live.backend.db.read() as s:
        rows = s.execute(
            select(cols.id, cols.first_decided_at, cols.assigned_at, cols.mql_at,
                   cols.decision_hours).where(cols.id.in_(list(ids.values())))
        ).all()  # fmt: skip
    got = {}
    for lead_id, first, assigned, mql, hours in rows:
        if first is None:
            assert hours is None, lead_id
        else:
            start = (assigned or mql).replace(tzinfo=timezone.utc)
            expected = (first.replace(tzinfo=timezone.utc) - start).total_seconds() / 3600
            assert hours == pytest.approx(expected, abs=1e-5), lead_id  # julianday: ms
        got[lead_id] = hours
    return {name: got[lead_id] for name, lead_id in ids.items()}


def _push(actor: Any, *mutations: dict[str, Any]) -> None:
    r = actor.post(
        "/v1/sync/push", json={"client_id": str(uuid.uuid4()), "mutations": list(mutations)}
    )
    assert [x["status"] for x in r.json()["results"]] == ["applied"] * len(mutations), r.text


def test_the_first_decision_column_follows_every_decision(live: Live) -> None:
    """`first_decided_at` (where the reports' time to decision ends) is the current
    assignment's first decision: after a decision, after one undone and made again, kept
    through an undo, cleared by a reassignment (of an open lead, and of a decided one with
    --force), set by the new owner's decision; and migration 0010's backfill from the
    events gives the same. `decision_hours` (the time to decision as a number) follows it
    at every step, and migration 0015's backfill gives the same."""
    ids = _setup(live)
    at = _first_decided(live, ids)
    assert _hours(live, ids)["A"] == pytest.approx(2) and _hours(live, ids)["B"] == pytest.approx(
        30
    )
    assert at["A"] == T0 + timedelta(hours=2) and at["B"] == T0 + timedelta(hours=30)
    assert at["C"] == T0 + timedelta(hours=4)  # not its standing decision's +40
    assert at["D"] == T0 + timedelta(hours=50) and at["E"] is None and at["F"] is None

    _push(live.ann, {"seq": 1, "lead_id": ids["C"], "type": "reopen", "at": _z(T0 + timedelta(hours=41))},
          {"seq": 2, "lead_id": ids["E"], "type": "decide", "outcome": "accept",
           "at": _z(NOW - timedelta(hours=20))})  # fmt: skip
    assert _first_decided(live, ids)["C"] == T0 + timedelta(hours=4)  # open again: kept
    _hours(live, ids)
    live.backend.assign(ids["C"], "bob@example.com")  # open: no --force needed
    live.backend.assign(ids["D"], "ann@example.com", force=True)  # a new cycle
    at = _first_decided(live, ids)
    assert at["C"] is None and at["D"] is None and at["E"] == NOW - timedelta(hours=20)
    assert _hours(live, ids)["C"] is None and _hours(live, ids)["E"] is not None

    _push(live.bob, {"seq": 1, "lead_id": ids["C"], "type": "decide", "outcome": "reject",
                     "reason": "no_need", "at": _z(datetime.now(timezone.utc))})  # fmt: skip
    at = _first_decided(live, ids)
    with live.backend.db.read() as s:
        decided = s.get(models.Lead, ids["C"]).decided_at.replace(tzinfo=timezone.utc)
    assert at["C"] is not None and at["C"] == decided
    hours = _hours(live, ids)
    assert hours["C"] is not None

    # The backfills: the columns dropped and made again from the events and decisions.
    db = live.backend.db
    with db.migration_lock() as conn:
        command.downgrade(migrate._config(conn), "0010_decision_features")
    assert migrate.upgrade(db).applied[0] == "0011_first_decided_at"
    assert _first_decided(live, ids) == at
    assert _hours(live, ids) == pytest.approx(hours, abs=1e-5)


def _nurture_until(live: Live, ids: dict[str, str]) -> dict[str, tuple[Any, Any]]:
    """Each lead's re-entry date: (its decision's JSON, the nurture_until column)."""
    with live.backend.db.read() as s:
        rows = s.execute(
            select(models.Lead.id, models.Lead.decision, models.Lead.nurture_until).where(
                models.Lead.id.in_(list(ids.values()))
            )
        ).all()
    by_id = {i: ((d or {}).get("nurture_until"), u and u.isoformat()) for i, d, u in rows}
    return {name: by_id[lead_id] for name, lead_id in ids.items()}


def test_the_nurture_date_column_follows_every_decision(live: Live) -> None:
    """`nurture_until` (the nurture list's index) is the standing decision's re-entry date
    after a nurture, an undo, a nurture made again with another date, and a nurtured lead
    reassigned with --force; migration 0011's backfill from the JSON gives the same."""
    ids = _setup(live)
    first = (NOW + timedelta(days=10)).date().isoformat()
    assert _nurture_until(live, ids)["C"] == (first, first)
    assert _nurture_until(live, ids)["B"] == (None, None)
    later = (NOW + timedelta(days=60)).date().isoformat()
    _push(live.ann, {"seq": 1, "lead_id": ids["C"], "type": "reopen", "at": _z(NOW)})
    assert _nurture_until(live, ids)["C"] == (None, None)
    _push(live.ann, {"seq": 1, "lead_id": ids["C"], "type": "decide", "outcome": "nurture",
                     "reason": "timing_later", "nurture_until": later, "at": _z(NOW)},
          {"seq": 2, "lead_id": ids["A"], "type": "reopen", "at": _z(NOW)},
          {"seq": 3, "lead_id": ids["A"], "type": "decide", "outcome": "nurture",
           "reason": "no_response", "nurture_until": first, "at": _z(NOW)})  # fmt: skip
    live.backend.assign(ids["A"], "bob@example.com", force=True)  # set aside: no date
    got = _nurture_until(live, ids)
    assert got["C"] == (later, later) and got["A"] == (None, None)
    assert all(json == column for json, column in got.values())

    db = live.backend.db
    with db.migration_lock() as conn:
        command.downgrade(migrate._config(conn), "0011_first_decided_at")
    assert migrate.upgrade(db).applied[0] == "0012_nurture_until"
    assert _nurture_until(live, ids) == got


def test_the_median_leaves_nulls_out_and_averages_the_middle_two(db_url: str) -> None:
    """reports.median: PostgreSQL's percentile_cont(0.5), SQLite's median() of the engine."""
    db = Database(db_url)
    try:
        with db.read_engine.connect() as conn:
            for xs, expected in (
                ([10.0, None, 1.0, 3.0], 3.0),
                ([50.0, 4.0, None, 30.0, 2.0], 17.0),
                ([None], None),
            ):
                v = union_all(*(select(literal(x, Float).label("x")) for x in xs)).subquery()
                got = conn.execute(select(reports.median(conn.dialect.name, v.c.x))).scalar()
                assert got == expected, xs
    finally:
        db.dispose()


def test_lead_search_finds_any_part_in_any_case_and_reads_wildcards_as_text(live: Live) -> None:
    """/v1/reports/leads?q=: name, email, company or external id, any part, any (ASCII)
    case; % and _ typed are text, not wildcards; a lead's own id matches whole."""
    live.upsert([
        lead_row(1, name="Jane Doe", email="jane@acme.example", company="Acme 50% Off",
                 external_id="HS-77"),
        lead_row(2, name="Omar Haddad", email="omar@globex.example", company="Globex 500",
                 external_id="SF-12"),
        lead_row(3, name="Lena_Fischer", email="lena@initech.example", company="Initech",
                 external_id="X-3"),
    ])  # fmt: skip
    lead_id = live.backend.lead("SF-12")["id"]

    def found(q: str) -> set[str]:
        r = live.mo.get("/v1/reports/leads", params={"q": q})
        assert r.status_code == 200, r.text
        body = r.json()
        assert body["total"] == len(body["leads"])
        return {x["external_id"] for x in body["leads"]}

    assert found("JANE") == {"HS-77"} and found("haddad") == {"SF-12"}
    assert found("ACME.EX") == {"HS-77"}  # email, any part
    assert found("glob") == {"SF-12"} and found("hs-7") == {"HS-77"}
    assert found("50%") == {"HS-77"}  # "Globex 500" has no % after its 50
    assert found("e_d") == set() and found("na_f") == {"X-3"}  # _ is text ("Jane Doe")
    assert found(lead_id) == {"SF-12"} and found("nobody") == set()


def test_a_search_counts_its_matches_up_to_the_cap(live: Live, monkeypatch) -> None:
    """Past SEARCH_COUNT_CAP matches a search says "more than" (counting every match of a
    common word read them all); below it the count is exact; the page of rows is the same."""
    monkeypatch.setattr(reports, "SEARCH_COUNT_CAP", 4)
    live.upsert([lead_row(i, company=f"Widget {i}") for i in range(7)]
                + [lead_row(10 + i, company=f"Gadget {i}") for i in range(3)])  # fmt: skip

    def body(q: str, **more: object) -> dict:
        r = live.mo.get("/v1/reports/leads", params={"q": q, **more})
        assert r.status_code == 200, r.text
        return r.json()

    many = body("widget")
    assert (many["total"], many["total_is_more"], len(many["leads"])) == (4, True, 7)
    few = body("gadget")
    assert (few["total"], few["total_is_more"], len(few["leads"])) == (3, False, 3)
    unsearched = body("")
    assert (unsearched["total"], unsearched["total_is_more"]) == (10, False)
    from tests.server.test_web import signed_in

    web, _ = signed_in(live.url, live.mo.token)
    page = web.get("/web/leads", params={"q": "widget"})
    assert page.status_code == 200 and "More than 4 leads" in page.text
    assert "Next 100" not in page.text  # 7 leads: all on this page
