"""What an import from marketing's systems shows the rep in the lead's detail: a possible
duplicate (rejected as `duplicate` in two keys), "back from nurture" with the reason's label
and date, the attributes of marketing's file, and no number for an unscored lead."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timezone

from tests.support.tui import NOW, build_app, make_lead
from triage import domain
from triage.screens.detail import LeadDetailScreen
from triage.store import Store

SIZE = (120, 40)


def _store(tmp_path, *leads: domain.Lead) -> Store:
    store = Store.open(tmp_path / "triage.db")
    store.set_me("ann@example.com", "Ann Rep", "rep")
    store.save_policy(domain.DEFAULT_POLICY)
    store.apply_pull(list(leads), [], cursor=1)
    return store


def _facts(app) -> str:
    return str(app.screen.query_one("#lead-facts").render())


async def test_the_detail_shows_duplicate_new_cycle_and_attributes(tmp_path) -> None:
    nurtured = domain.PastDecision(
        domain.Outcome.NURTURE, "timing_later", datetime(2026, 11, 5, 12, tzinfo=timezone.utc),
        "ann@example.com",
    )  # fmt: skip
    lead = replace(
        make_lead(1, NOW), score=None, history=(nurtured,),
        duplicate_of={"id": "x1", "external_id": "HS-1", "name": "Jane Doe",
                      "owner": "bob@example.com"},
        attributes={"segment": "Retail", "employees": 250, "vip": True},
    )  # fmt: skip
    store = _store(tmp_path, lead)
    app = build_app(store)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("enter")
        assert isinstance(app.screen, LeadDetailScreen)
        facts = _facts(app)
        assert "possible duplicate of HS-1 Jane Doe (bob@example.com)" in facts
        assert "back from nurture: Timing: buying later, 2026-11-05" in facts
        assert "segment: Retail · employees: 250 · vip: true" in facts
        assert "score none" in facts and "score 0" not in facts
        await pilot.press("r", "6")  # reject, reason 6: duplicate
        await pilot.pause()
    decided = store.lead(lead.id)
    assert decided.status == domain.Status.REJECTED and decided.decision.reason == "duplicate"
    store.close()


async def test_a_plain_lead_shows_none_of_it(tmp_path) -> None:
    store = _store(tmp_path, make_lead(2, NOW))
    app = build_app(store)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("enter")
        facts = _facts(app)
        assert "duplicate" not in facts and "back from" not in facts
        assert "Imported" not in facts
    store.close()
