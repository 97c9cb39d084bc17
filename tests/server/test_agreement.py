"""How often reps agreed with the suggestion (GET /v1/reports/agreement, /web/suggestions):
each decision's feature row keeps the suggestion the rep was shown (migration 0018), and
the report counts, per rep and campaign, the decisions with one and those that followed
it; with the latest model's held-out figures. Figures checked by hand."""

from __future__ import annotations

import uuid
from dataclasses import replace

from tests.server.test_suggest_model import history
from tests.server.test_web import signed_in
from tests.support.backend import push_as
from tests.support.factories import lead_row
from triage import domain
from triage.server.suggest import train


def decide(live, email: str, ids: list[str], outcome: str, reason: str | None = None) -> None:
    muts = [{"seq": i + 1, "lead_id": lead, "type": "decide", "outcome": outcome,
             "reason": reason, "at": "2026-11-30T10:00:00Z"}
            for i, lead in enumerate(ids)]  # fmt: skip
    results = push_as(live.backend, email, str(uuid.uuid4()), muts)
    assert {r["status"] for r in results} == {"applied"}, results


def world(live) -> None:
    """A model that rejects students (not our ideal customer profile). Ann, campaign
    spring: 3 students rejected as not_icp_fit (agreed), 1 accepted (not). Bob, campaign
    fall: 2 students rejected for no budget (the outcome agreed, the reason not), then one
    decided while the policy turned suggestions off (not shown: not counted)."""
    train.train(live.backend.db, history(600))
    rows = [lead_row(n, title="Student", source="content", score=5, campaign="spring")
            for n in range(4)]  # fmt: skip
    rows += [lead_row(n, owner="bob@example.com", title="Student", source="content", score=5,
                      campaign="fall") for n in range(4, 7)]  # fmt: skip
    live.upsert(rows)
    ids = [live.backend.lead(f"ext-{n}")["id"] for n in range(7)]
    decide(live, "ann@example.com", ids[0:3], "reject", "not_icp_fit")
    decide(live, "ann@example.com", ids[3:4], "accept")
    decide(live, "bob@example.com", ids[4:6], "reject", "no_budget")
    policy = live.backend.policy()
    live.backend.set_policy(replace(policy, version=policy.version + 1,
                                    suggestions=domain.Suggestions(enabled=False)))  # fmt: skip
    decide(live, "bob@example.com", ids[6:7], "reject", "not_icp_fit")


def test_agreement_by_rep_and_campaign_with_the_models_figures(live) -> None:
    world(live)
    r = live.mo.get("/v1/reports/agreement", params={"preset": "30d"})
    assert r.status_code == 200, r.text
    data = r.json()
    assert data["overall"] == {"key": "all", "decided": 7, "shown": 6, "agreed": 3,
                               "agreed_outcome": 5, "agreement_rate": 0.5,
                               "outcome_agreement_rate": 0.8333}  # fmt: skip
    reps = {x["key"]: (x["decided"], x["shown"], x["agreed"], x["agreed_outcome"])
            for x in data["by_rep"]}  # fmt: skip
    assert reps == {"ann@example.com": (4, 4, 3, 3), "bob@example.com": (3, 2, 0, 2)}
    campaigns = {x["key"]: x["agreement_rate"] for x in data["by_campaign"]}
    assert campaigns == {"spring": 0.75, "fall": 0.0}
    assert data["suggestions"] == {"enabled": False, "threshold": 0.6}
    model = data["model"]
    assert model["model"] == 1 and model["decisions"] == 600
    assert model["accuracy"] >= 0.9 and model["roc_auc"] >= 0.95
    assert model["split"]["method"] == "stratified" and model["split"]["test"] == 150
    assert model["trained_at"][:2] == "20"

    other = live.mo.get("/v1/reports/agreement", params={"start": "2020-01-01",
                                                         "end": "2020-01-31"})  # fmt: skip
    assert other.json()["overall"]["decided"] == 0  # another period: none of them
    assert live.ann.get("/v1/reports/agreement").status_code == 403  # marketing's report
    bad = live.mo.get("/v1/reports/agreement", params={"start": "someday"})
    assert bad.status_code == 400 and "dates like" in bad.json()["detail"]


def test_an_undone_decision_does_not_count(live) -> None:
    train.train(live.backend.db, history(600))
    live.upsert([lead_row(0, title="Student", source="content", score=5)])
    lead_id = live.backend.lead("ext-0")["id"]
    client = str(uuid.uuid4())
    push_as(live.backend, "ann@example.com", client, [
        {"seq": 1, "lead_id": lead_id, "type": "decide", "outcome": "accept",
         "at": "2026-11-30T10:00:00Z"},
        {"seq": 2, "lead_id": lead_id, "type": "reopen", "at": "2026-11-30T10:01:00Z"},
    ])  # fmt: skip
    data = live.mo.get("/v1/reports/agreement").json()
    assert data["overall"]["decided"] == 0 and data["by_rep"] == []


def test_the_suggestions_page(live) -> None:
    web, _ = signed_in(live.url, live.mo.token)
    empty = web.get("/web/suggestions")
    assert empty.status_code == 200 and "No model yet" in empty.text
    world(live)
    page = web.get("/web/suggestions", params={"preset": "30d"})
    assert page.status_code == 200, page.text
    text = page.text
    assert 'id="agreement-rate">50%<' in text
    assert "6 of 7 decisions were shown a suggestion" in text
    assert "ann@example.com" in text and "spring" in text
    assert "Model 1, trained " in text and "on 600 decisions" in text
    assert "The policy turns suggestions off now" in text
