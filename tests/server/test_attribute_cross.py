"""The campaigns & sources cross-tab crossed by a lead attribute (`cross=attr:KEY`), figures
by hand, on SQLite and PostgreSQL; the key checked against the known ones; a lead's page
lists its attributes, escaped and typed.

Campaign "spring", all assigned to ann, MQLs a day old, decided now:

| lead | segment   | partner | employees | what ann did          |
| A    | retail    | true    | 250       | accept                |
| B    | retail    | false   | 12.5      | reject no_budget      |
| C    | wholesale | true    |           | nurture timing_later  |
| D    |           |         |           | reject no_need        |
| E    | retail    |         |           | open                  |
"""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta, timezone
from typing import Any

from alembic import command
from sqlalchemy import select

from tests.conftest import Live
from tests.server.test_web import signed_in
from tests.support.factories import lead_row
from triage.server import migrate, models
from triage.server.services.imports import ImportOptions

NOW = datetime.now(timezone.utc).replace(microsecond=0)
ATTRS = {
    "A": {"segment": "retail", "partner": True, "employees": 250},
    "B": {"segment": "retail", "partner": False, "employees": 12.5},
    "C": {"segment": "wholesale", "partner": True},
    "D": None,
    "E": {"segment": "retail", "note_html": "<b>bold</b> & more"},
}


def _z(dt: datetime) -> str:
    return dt.isoformat().replace("+00:00", "Z")


def _setup(live: Live) -> dict[str, str]:
    rows = []
    for n, name in enumerate("ABCDE", 1):
        extra = {"attributes": ATTRS[name]} if ATTRS[name] else {}
        rows.append(lead_row(n, campaign="spring", mql_at=_z(NOW - timedelta(days=1)), **extra))
    live.upsert(rows)
    ids = {name: live.backend.lead(f"ext-{n}")["id"] for n, name in enumerate("ABCDE", 1)}
    decide = [("A", "accept", None), ("B", "reject", "no_budget"),
              ("C", "nurture", "timing_later"), ("D", "reject", "no_need")]  # fmt: skip
    mutations = [
        {"seq": i, "lead_id": ids[name], "type": "decide", "outcome": outcome, "at": _z(NOW),
         **({"reason": reason} if reason else {})}
        for i, (name, outcome, reason) in enumerate(decide, 1)
    ]  # fmt: skip
    r = live.ann.post("/v1/sync/push", json={"client_id": str(uuid.uuid4()),
                                             "mutations": mutations})  # fmt: skip
    assert [x["status"] for x in r.json()["results"]] == ["applied"] * 4, r.text
    return ids


def _crossed(live: Live, key: str) -> dict[Any, tuple[int, ...]]:
    r = live.mo.get("/v1/reports/breakdown", params={"preset": "7d", "cross": f"attr:{key}"})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["cross"] == f"attr:{key}"
    return {
        row["cross"]: (row["mqls_received"], row["decided"], row["accepted"], row["rejected"],
                       row["nurtured"], row["open"])
        for row in body["rows"] if row["key"] == "spring"
    }  # fmt: skip


def test_the_breakdown_crossed_by_an_attribute(live: Live) -> None:
    _setup(live)
    #              received, decided, accepted, rejected, nurtured, open
    assert _crossed(live, "segment") == {
        "retail": (3, 2, 1, 1, 0, 1),
        "wholesale": (1, 1, 0, 0, 1, 0),
        None: (1, 1, 0, 1, 0, 0),
    }
    assert _crossed(live, "partner") == {
        "true": (2, 2, 1, 0, 1, 0),
        "false": (1, 1, 0, 1, 0, 0),
        None: (2, 1, 0, 1, 0, 1),
    }
    assert _crossed(live, "employees") == {
        "250": (1, 1, 1, 0, 0, 0),
        "12.5": (1, 1, 0, 1, 0, 0),
        None: (3, 2, 0, 1, 1, 1),
    }
    r = live.mo.get("/v1/reports/breakdown", params={"cross": "attr:segment"})
    retail = next(row for row in r.json()["rows"] if row["cross"] == "retail")
    assert retail["reject_reasons"] == [{"code": "no_budget", "label": "No budget", "count": 1}]
    assert live.mo.get("/v1/reports/attributes").json() == {
        "keys": ["employees", "note_html", "partner", "segment"]
    }


def test_an_unknown_attribute_is_refused(live: Live) -> None:
    _setup(live)
    for cross in ("attr:nope", "attr:segment') OR 1=1 --", "attr:$.segment", "attr:", "nothing"):
        r = live.mo.get("/v1/reports/breakdown", params={"cross": cross})
        assert r.status_code == 400, (cross, r.text)
        assert r.json()["error"] == "bad_report_request"
        assert "unknown" in r.json()["detail"]


def test_the_pages_show_attributes(live: Live) -> None:
    ids = _setup(live)
    c, _ = signed_in(live.url, live.mo.token)
    try:
        page = c.get("/web/campaigns", params={"preset": "7d", "cross": "attr:segment"})
        assert page.status_code == 200, page.text
        assert '<option value="attr:segment" selected>Attribute: segment</option>' in page.text
        assert '<td class="text">wholesale</td>' in page.text
        bad = c.get("/web/campaigns", params={"cross": "attr:nope"})
        assert bad.status_code == 200 and "unknown attribute &#39;nope&#39;" in bad.text
        lead = c.get(f"/web/leads/{ids['A']}").text
        assert '<code>partner</code></th><td class="yes-no">yes</td>' in lead
        assert '<code>employees</code></th><td class="number">250</td>' in lead
        e = c.get(f"/web/leads/{ids['E']}").text
        assert "&lt;b&gt;bold&lt;/b&gt; &amp; more" in e and "<b>bold</b>" not in e
        assert "<h2>Attributes</h2>" not in c.get(f"/web/leads/{ids['D']}").text
        history = live.mo.get(f"/v1/reports/leads/{ids['B']}").json()
        assert history["lead"]["attributes"] == ATTRS["B"]
    finally:
        c.close()


def _narrow(live: Live) -> dict[str, dict[str, str]]:
    """The leadattribute rows: {lead id: {key: value}}."""
    t = models.LeadAttribute
    with live.backend.db.read() as s:
        rows = s.execute(select(t.lead_id, t.key, t.value)).all()
    out: dict[str, dict[str, str]] = {}
    for lead_id, key, value in rows:
        out.setdefault(lead_id, {})[key] = value
    return out


def _from_json(live: Live) -> dict[str, dict[str, str]]:
    """The same made from each lead's JSON (the rule the crossing showed)."""
    with live.backend.db.read() as s:
        leads = s.execute(select(models.Lead.id, models.Lead.attributes)).all()
    return {i: {k: str(v).lower() if isinstance(v, bool) else str(v) for k, v in a.items()}
            for i, a in leads if a}  # fmt: skip


def test_the_narrow_table_follows_imports_updates_and_recycling(live: Live) -> None:
    mql = _z(NOW - timedelta(days=2))
    live.upsert([
        lead_row(1, mql_at=mql, attributes={"segment": "retail", "employees": 250}),
        lead_row(2, mql_at=mql, attributes={"segment": "retail", "partner": True}),
        lead_row(3, mql_at=mql, attributes={"band": 2.5}),
        lead_row(4, mql_at=mql),
    ])  # fmt: skip
    ids = {n: live.backend.lead(f"ext-{n}")["id"] for n in range(1, 5)}
    assert _narrow(live) == {
        ids[1]: {"segment": "retail", "employees": "250"},
        ids[2]: {"segment": "retail", "partner": "true"},
        ids[3]: {"band": "2.5"},
    }
    # Re-imported: a value changed and one removed, all removed, one unchanged, one added.
    live.upsert([
        lead_row(1, mql_at=mql, attributes={"segment": "wholesale"}),
        lead_row(2, mql_at=mql, attributes={}),
        lead_row(3, mql_at=mql, attributes={"band": 2.5}),
        lead_row(4, mql_at=mql, attributes={"partner": False}),
    ])  # fmt: skip
    assert _narrow(live) == {
        ids[1]: {"segment": "wholesale"},
        ids[3]: {"band": "2.5"},
        ids[4]: {"partner": "false"},
    }
    # Recycled: lead 3 rejected, then a newer MQL with other attributes (a new cycle).
    r = live.ann.post("/v1/sync/push", json={"client_id": str(uuid.uuid4()), "mutations": [
        {"seq": 1, "lead_id": ids[3], "type": "decide", "outcome": "reject", "at": _z(NOW),
         "reason": "no_budget"}]})  # fmt: skip
    assert r.json()["results"][0]["status"] == "applied", r.text
    live.upsert(
        [lead_row(3, campaign="spring", mql_at=_z(NOW), attributes={"band": 3.5, "stage": "mql"})]
    )
    assert live.backend.lead(ids[3])["status"] == "open"  # a new cycle
    assert _narrow(live)[ids[3]] == {"band": "3.5", "stage": "mql"}
    assert _narrow(live) == _from_json(live)
    assert _crossed(live, "stage") == {"mql": (1, 0, 0, 0, 0, 1)}


def test_the_migration_fills_the_narrow_table_from_the_json(live: Live) -> None:
    _setup(live)
    before = _narrow(live)
    crossed = {key: _crossed(live, key) for key in ("segment", "partner", "employees")}
    assert len(before) == 4 and before == _from_json(live)
    db = live.backend.db
    with db.migration_lock() as conn:
        command.downgrade(migrate._config(conn), "0019_job_lease")
    assert migrate.upgrade(db).applied[0] == "0020_lead_attribute"
    assert _narrow(live) == before
    assert {key: _crossed(live, key) for key in crossed} == crossed


def test_the_narrow_table_follows_a_duplicate_updated_in_the_same_file(live: Live) -> None:
    """`on_duplicate=update`: a row updates the lead an earlier row of the same file made
    (written once, as it ends); a dry run writes nothing."""
    dup = dict(email="same@corp.example", mql_at=_z(NOW))
    rows = [lead_row(1, attributes={"segment": "retail", "band": 1}, **dup),
            lead_row(2, attributes={"segment": "wholesale"}, **dup)]  # fmt: skip
    live.backend.import_leads(rows, dry_run=True)
    assert _narrow(live) == {}
    done = live.backend.import_leads(rows, options=ImportOptions(on_duplicate="update"))
    assert (done.created, len(done.linked)) == (1, 1)
    assert _narrow(live) == {live.backend.lead("ext-1")["id"]: {"segment": "wholesale"}}
