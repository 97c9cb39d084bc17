"""The Suggestions page in Chromium: how often reps agreed with the suggestion, per rep
and per campaign, as /v1/reports/agreement says, beside the model's held-out figures.
(A module of its own: its workspace gets a model and decisions the other pages' tests do
not expect.)"""

from __future__ import annotations

import re
import uuid

from tests.server.test_suggest_model import history
from tests.support.backend import push_as
from tests.support.factories import lead_row
from tests.web.conftest import Workspace, sign_in
from tests.web.test_workspace_browser import api, pct
from triage.server.suggest import train


def _agreeing(ws: Workspace) -> None:
    """A model that rejects students; ann follows it on 3 of her 4 students."""
    backend = ws.backend
    train.train(backend.db, history(600))
    backend.upsert_leads([lead_row(9000 + n, title="Student", source="content", score=5,
                                   campaign="browser-spring") for n in range(4)])  # fmt: skip
    ids = [backend.lead(f"ext-{9000 + n}")["id"] for n in range(4)]
    muts = [{"seq": i + 1, "lead_id": lead, "type": "decide",
             "outcome": "reject" if i < 3 else "accept",
             "reason": "not_icp_fit" if i < 3 else None, "at": "2026-11-30T10:00:00Z"}
            for i, lead in enumerate(ids)]  # fmt: skip
    assert {r["status"] for r in push_as(backend, "ann@example.com", str(uuid.uuid4()), muts)} == {
        "applied"
    }


def test_the_suggestions_page_says_what_the_report_says(page, workspace: Workspace) -> None:
    _agreeing(workspace)
    sign_in(page, workspace)
    page.wait_for_url("**/web/")
    page.click("nav >> text=Suggestions")
    page.wait_for_url(re.compile(r".*/web/suggestions.*"))
    data = api(workspace, "/v1/reports/agreement", preset="30d")
    assert data["overall"]["shown"] >= 4
    assert page.locator("#agreement-rate").inner_text() == pct(data["overall"]["agreement_rate"])
    model = data["model"]
    assert page.locator("#model-accuracy").inner_text() == f"{model['accuracy']:.2f}"
    assert page.locator("#model-auc").inner_text() == f"{model['roc_auc']:.2f}"
    campaign = page.locator("table.agreement").nth(1).locator("tr", has_text="browser-spring")
    cells = [c.inner_text() for c in campaign.locator("td").all()]
    assert cells == ["browser-spring", "4", "4", "3", "75%", "75%"]
    page.click("button[name=preset][value='7d']")
    page.wait_for_url(re.compile(r".*preset=7d.*"))
    week = api(workspace, "/v1/reports/agreement", preset="7d")
    assert page.locator("#agreement-rate").inner_text() == pct(week["overall"]["agreement_rate"])
