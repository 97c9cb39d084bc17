"""The suggestion travels: a model trained on the server, leads imported for a rep, the
rep's sync pulls them into the store, and the lead's screen (the detail, and the preview
pane beside the queue) shows one line: "Suggested: reject, Not our ideal customer
profile, 97%: title Student; ...". The policy's switch and threshold are obeyed on the
device too (a suggestion pulled before the policy changed is not shown), and a client
that does not know the field (an older one) still syncs the same leads."""

from __future__ import annotations

import re
from dataclasses import replace

import httpx

from tests.server.test_suggest_model import history
from tests.support.client import device
from tests.support.factories import lead_row
from tests.support.tui import build_app, until
from triage import domain, protocol
from triage.screens.detail import LeadDetailScreen
from triage.server.suggest import train
from triage.widgets.preview import LeadPreview

LINE = re.compile(
    r"Suggested: reject, Not our ideal customer profile, (\d+)%: ([^\n]*title Student[^\n]*)"
)


def _students(live, n: int = 5) -> None:
    live.upsert([lead_row(i, title="Student", source="content", score=10) for i in range(n)])


async def test_a_trained_models_suggestion_reaches_the_lead_screen(live_sqlite, tmp_path):
    train.train(live_sqlite.backend.db, history(600))
    _students(live_sqlite)
    dev = device(tmp_path, live_sqlite, live_sqlite.ann)
    assert dev.sync().ok
    store = dev.open()
    try:
        lead = store.lead(sorted(dev.open_ids())[0])
        assert lead.suggestion is not None and lead.suggestion.reason == "not_icp_fit"
        assert "title Student" in lead.suggestion.factors
        app = build_app(store)
        async with app.run_test(size=(160, 40)) as pilot:
            pane = app.query_one("#preview", LeadPreview)
            await until(pilot, lambda: pane.current)
            flowed = " ".join(pane.text().split())  # the pane wraps the line
            assert "Suggested: reject, Not our ideal customer profile, " in flowed, flowed
            assert "title Student" in flowed
            await pilot.press("enter")
            assert isinstance(app.screen, LeadDetailScreen)
            facts = str(app.screen.query_one("#lead-facts").render())
            found = LINE.search(facts)
            assert found, facts
            shown = store.lead(app.screen.lead_id).suggestion
            assert int(found.group(1)) == round(shown.confidence * 100)
            assert found.group(2) == "; ".join(shown.factors)
    finally:
        store.close()


async def test_the_device_obeys_the_policy_it_holds(live_sqlite, tmp_path):
    train.train(live_sqlite.backend.db, history(600))
    _students(live_sqlite, 2)
    dev = device(tmp_path, live_sqlite, live_sqlite.ann)
    assert dev.sync().ok
    store = dev.open()
    try:
        # marketing turned suggestions off; the device learns it before any lead comes again
        store.save_policy(replace(store.policy(), suggestions=domain.Suggestions(False)))
        app = build_app(store)
        async with app.run_test(size=(120, 40)) as pilot:
            await pilot.press("enter")
            facts = str(app.screen.query_one("#lead-facts").render())
            assert "Suggested" not in facts and "Contact" in facts
    finally:
        store.close()


class _OldLeadWire(protocol.Wire):
    """What a client from before "suggestions" reads of a lead (a few of its fields)."""

    id: str
    version: int
    status: str


def test_an_older_client_reads_the_same_pull(live_sqlite):
    train.train(live_sqlite.backend.db, history(600))
    _students(live_sqlite, 3)
    health = live_sqlite.anon.get("/v1/health").json()
    assert "suggestions" in health["features"]
    r = live_sqlite.ann.get("/v1/sync/pull", params={"cursor": 0})
    assert r.status_code == 200
    leads = r.json()["leads"]
    assert all(lead["suggestion"]["outcome"] == "reject" for lead in leads)
    old = [_OldLeadWire.model_validate(lead) for lead in leads]
    assert len(old) == 3 and not hasattr(old[0], "suggestion")
    # and the policy as an older client parses it: what it knows, nothing more
    policy = httpx.get(
        live_sqlite.url + "/v1/policy",
        headers={"Authorization": f"Bearer {live_sqlite.ann.token}"},
    ).json()
    assert protocol.PolicyWire.model_validate(policy).to_domain().suggestions.enabled
