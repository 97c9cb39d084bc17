"""Marketing's actions over JSON: an import's dry run writes nothing and names every bad
row; a policy file's problems come with their lines; assignment by filter counts first."""

from __future__ import annotations

from tests.conftest import Live
from tests.support.backend import open_leads_by_rep, row_counts
from tests.support.factories import lead_row

CSV = (
    "external_id,name,email,campaign,owner\r\n"
    "x-1,Ada,ada@a.example,spring,ann@example.com\r\n"
    "x-2,Bea,not-an-email,spring,\r\n"
    "x-3,Cy,cy@c.example,spring,nobody@example.com\r\n"
    "x-4,Di,di@d.example,autumn,\r\n"
)


def test_import_dry_run_names_bad_rows_and_writes_nothing(live: Live) -> None:
    r = live.mo.post("/v1/imports", params={"format": "csv"}, content=CSV.encode())
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["ok"] is False and body["dry_run"] is True
    assert [p["row"] for p in body["problems"]] == ["line 3", "line 4"]
    assert row_counts(live.backend)["leads"] == 0
    good = "\r\n".join(CSV.split("\r\n")[:2] + [CSV.split("\r\n")[4]]) + "\r\n"
    r = live.mo.post("/v1/imports", params={"format": "csv"}, content=good.encode())
    assert (r.json()["ok"], r.json()["created"]) == (True, 2)
    assert row_counts(live.backend)["leads"] == 0  # still a dry run
    r = live.mo.post("/v1/imports", params={"format": "csv", "dry_run": "false"}, content=good)
    assert (r.json()["created"], row_counts(live.backend)["leads"]) == (2, 2)
    again = live.mo.post("/v1/imports", params={"format": "csv"}, content=good).json()
    assert (again["created"], again["updated"], again["unchanged"]) == (0, 0, 2)
    assert live.ann.post("/v1/imports", content=good).status_code == 403


def test_policy_problems_come_with_their_lines(live: Live) -> None:
    bad = (
        'sla_hours = 0\n\n[[reject_reasons]]\ncode = "ok"\n\n[[reject_reasons]]\ncode = "Not OK"\n'
    )
    body = live.mo.post("/v1/policy", content=bad).json()
    assert body["ok"] is False
    assert [e["line"] for e in body["errors"]] == [1, 7]
    good = 'sla_hours = 48\ntimezone = "Europe/Berlin"\n'
    body = live.mo.post("/v1/policy", content=good).json()
    assert body["ok"] and body["changed"] and "SLA 24 h -> 48 h" in body["changes"]
    assert live.backend.policy().version == 1  # a dry run
    body = live.mo.post("/v1/policy", params={"dry_run": "false"}, content=good).json()
    assert body["version"] == 2 and live.backend.policy().timezone == "Europe/Berlin"
    assert live.mo.get("/v1/policy").json()["timezone"] == "Europe/Berlin"


def test_assign_by_filter(live: Live) -> None:
    live.upsert([lead_row(n) for n in range(3)])
    live.upsert([lead_row(n, owner=None, campaign="fair") for n in range(10, 15)])
    move = {"mode": "move", "from_rep": "ann@example.com", "to_rep": "bob@example.com"}
    r = live.mo.post("/v1/assignments", json=move)
    assert r.json() == {"mode": "move", "count": 3, "by_rep": {"bob@example.com": 3},
                        "dry_run": True}  # fmt: skip
    assert open_leads_by_rep(live.backend).get("bob@example.com") is None
    r = live.mo.post("/v1/assignments", json={**move, "dry_run": False})
    assert r.json()["count"] == 3 and len(open_leads_by_rep(live.backend)["bob@example.com"]) == 3
    # the lead's history: imported, assigned (to ann, then moved to bob)
    lead = live.backend.lead("ext-1")["id"]
    timeline = live.mo.get(f"/v1/reports/leads/{lead}").json()["timeline"]
    kinds = [t["kind"] for t in timeline]
    assert kinds == ["mql", "imported", "assigned"], kinds  # imported with ann, moved to bob
    assert [t.get("to") for t in timeline if t["kind"] == "assigned"] == ["bob@example.com"]
    # ann's next pull says the leads left her
    pulled = live.ann.get("/v1/sync/pull", params={"cursor": 1}).json()
    assert len(pulled["revoked"]) == 3
    rr = {"mode": "round_robin", "campaign": "fair",
          "reps": ["ann@example.com", "bob@example.com"]}  # fmt: skip
    assert live.mo.post("/v1/assignments", json=rr).json()["by_rep"] == {
        "ann@example.com": 3, "bob@example.com": 2,
    }  # fmt: skip
    done = live.mo.post("/v1/assignments", json={**rr, "dry_run": False}).json()
    assert done["count"] == 5
    assert len(open_leads_by_rep(live.backend)["ann@example.com"]) == 3
    bad = live.mo.post("/v1/assignments", json={**rr, "reps": ["mo@example.com"]})
    assert bad.status_code == 404 and bad.json()["error"] == "unknown_rep"
