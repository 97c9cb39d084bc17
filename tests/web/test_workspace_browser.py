"""The workspace as marketing ops use it, in Chromium."""

from __future__ import annotations

import csv
import io
import re

import httpx
import pytest

from tests.web.conftest import Workspace, sign_in


def api(ws: Workspace, path: str, **params: str) -> dict:
    r = httpx.get(ws.url + path, params=params,
                  headers={"Authorization": f"Bearer {ws.marketing_token}"})  # fmt: skip
    assert r.status_code == 200, r.text
    return r.json()


def pct(x: float | None) -> str:
    return "–" if x is None else f"{100 * x:.0f}%"


def hours(x: float | None) -> str:
    if x is None:
        return "–"
    return f"{x:.1f} h" if x < 48 else f"{x / 24:.1f} d"


def shown_figures(page) -> dict[str, str]:  # type: ignore[no-untyped-def]
    out = {}
    for card in page.locator("[data-figure]").all():
        out[card.get_attribute("data-figure")] = card.locator(".value").inner_text().strip()
    return out


def expected(f: dict) -> dict[str, str]:
    return {
        "mqls_received": str(f["mqls_received"]), "decided": str(f["decided"]),
        "accepted": str(f["accepted"]), "rejected": str(f["rejected"]),
        "nurtured": str(f["nurtured"]), "acceptance_rate": pct(f["acceptance_rate"]),
        "median_hours_to_decision": hours(f["median_hours_to_decision"]),
        "sla_compliance": pct(f["sla_compliance"]), "open_past_sla": str(f["open_past_sla"]),
    }  # fmt: skip


def test_sign_in_the_overview_equals_the_api_change_the_range_sign_out(
    page, workspace: Workspace
) -> None:  # fmt: skip
    sign_in(page, workspace)
    page.wait_for_url("**/web/")
    data = api(workspace, "/v1/reports/overview", preset="30d")
    assert shown_figures(page) == expected(data["figures"])
    assert int(shown_figures(page)["decided"]) > 0
    page.click("button[name=preset][value='7d']")
    page.wait_for_url(re.compile(r".*preset=7d.*"))
    week = api(workspace, "/v1/reports/overview", preset="7d")
    assert shown_figures(page) == expected(week["figures"])
    assert page.get_by_test_id("period").inner_text().startswith("Last 7 days")
    # the weekly table says the same as the trend endpoint
    rows = page.locator("table.num tbody tr").all()
    trend = api(workspace, "/v1/reports/trend", preset="7d")["weeks"]
    assert [r.locator("td").nth(2).inner_text() for r in rows] == [str(w["decided"]) for w in trend]
    page.click("text=Sign out")
    page.wait_for_url("**/web/signin?signed_out=1")
    page.goto(workspace.url + "/web/reps")
    assert "/web/signin" in page.url


def test_a_rep_token_is_refused(page, workspace: Workspace) -> None:
    sign_in(page, workspace, workspace.rep_token)
    assert page.locator("h1").inner_text() == "This is a rep's token"


@pytest.mark.slow
def test_a_custom_range(page, workspace: Workspace) -> None:
    sign_in(page, workspace)
    page.fill("input[name=start]", "2026-01-01")
    page.fill("input[name=end]", "2026-12-31")
    page.click("form.period .custom button")
    page.wait_for_url(re.compile(r".*start=2026-01-01.*"))
    data = api(workspace, "/v1/reports/overview", start="2026-01-01", end="2026-12-31")
    assert shown_figures(page) == expected(data["figures"])


@pytest.mark.slow
def test_a_campaign_through_to_a_leads_history(page, workspace: Workspace) -> None:
    sign_in(page, workspace)
    page.goto(workspace.url + "/web/campaigns?preset=90d")
    first = page.locator("table.breakdown tbody tr").first
    campaign = first.locator("th a").inner_text()
    first.locator("th a").click()
    page.wait_for_url(re.compile(r".*/web/leads\?.*outcome=decided.*"))
    assert f"campaign: {campaign}" in page.locator(".chips").inner_text()
    page.locator("table tbody tr a").first.click()
    page.wait_for_url(re.compile(r".*/web/leads/[0-9a-f]+$"))
    timeline = page.locator("ol.timeline").inner_text()
    assert "decide" in timeline and "assigned" in timeline and "imported" in timeline


def test_cross_by_an_attribute_then_a_leads_attributes(page, workspace: Workspace) -> None:
    sign_in(page, workspace)
    page.goto(workspace.url + "/web/campaigns?preset=90d")
    page.select_option("select[name=cross]", "attr:lifecycle_stage")
    page.click("form.dims button[type=submit]")
    page.wait_for_url(re.compile(r".*cross=attr%3Alifecycle_stage.*"))
    assert "× Attribute: lifecycle_stage" in page.locator("h1").inner_text()
    rows = page.locator("table.breakdown tbody tr")
    shown = {(r.locator("th").inner_text(), r.locator("td").first.inner_text())
             for r in rows.all()}  # fmt: skip
    api_rows = api(workspace, "/v1/reports/breakdown", preset="90d",
                   cross="attr:lifecycle_stage")["rows"]  # fmt: skip
    assert shown == {(r["key"], r["cross"] or "(none)") for r in api_rows}
    assert {r["cross"] for r in api_rows} >= {"lead", "marketingqualifiedlead"}
    # a lead's page lists its attributes, typed
    page.goto(workspace.url + "/web/leads?" + "q=corp")
    page.locator("table tbody tr a").first.click()
    page.wait_for_url(re.compile(r".*/web/leads/[0-9a-f]+$"))
    table = page.locator("table.attributes").inner_text()
    assert "lifecycle_stage" in table and "unsubscribed" in table and "number" in table


@pytest.mark.slow
def test_download_a_csv_and_parse_it(page, workspace: Workspace) -> None:
    sign_in(page, workspace)
    page.goto(workspace.url + "/web/campaigns?preset=90d")
    with page.expect_download() as info:
        page.click("a.csv")
    text = open(info.value.path(), encoding="utf-8").read()
    rows = list(csv.reader(io.StringIO(text)))
    assert rows[0][:3] == ["campaign", "mqls_received", "decided"]
    assert any(h.startswith("rejected: No budget") for h in rows[0])
    api_rows = api(workspace, "/v1/reports/breakdown", preset="90d")["rows"]
    assert len(rows) - 1 == len(api_rows)
    assert all(not r[0].startswith("=") for r in rows[1:])  # formulas are quoted


@pytest.mark.slow
def test_a_bad_policy_shows_its_line_errors_then_a_good_one_applies(
    page, workspace: Workspace, tmp_path
) -> None:  # fmt: skip
    bad = tmp_path / "bad.toml"
    bad.write_text('sla_hours = -1\n\n[[reject_reasons]]\ncode = "Bad Code"\n')
    sign_in(page, workspace)
    page.goto(workspace.url + "/web/policy")
    page.set_input_files("input[name=file]", str(bad))
    page.click("form[action='/web/policy'] button")
    problems = page.locator(".problem").all_inner_texts()
    assert problems[0].startswith("line 1: sla_hours") and problems[1].startswith("line 4:")
    good = tmp_path / "good.toml"
    good.write_text('sla_hours = 36\ntimezone = "Europe/Berlin"\n')
    page.set_input_files("input[name=file]", str(good))
    page.click("form[action='/web/policy'] button")
    assert "SLA 24 h -> 36 h" in page.locator(".check").inner_text()
    page.click("form[action='/web/policy/confirm'] button")
    assert "Saved as version" in page.locator("[role=status]").inner_text()
    assert api(workspace, "/v1/policy")["sla_hours"] == 36


@pytest.mark.slow
def test_an_import_dry_run_with_a_bad_row(page, workspace: Workspace, tmp_path) -> None:
    f = tmp_path / "leads.csv"
    f.write_text("external_id,name,email\nb-1,Ann,ann@x.example\nb-2,Bo,not-an-email\n")
    before = api(workspace, "/v1/reports/leads", q="b-1")["total"]
    sign_in(page, workspace)
    page.goto(workspace.url + "/web/import")
    page.set_input_files("input[name=file]", str(f))
    page.click("form[action='/web/import'] button")
    text = page.locator(".check").inner_text()
    assert "1 bad row of 2" in text and "line 3" in text
    f.write_text("external_id,name,email\nb-1,Ann,ann@x.example\n")
    page.set_input_files("input[name=file]", str(f))
    page.click("form[action='/web/import'] button")
    assert "1 would be created" in page.get_by_test_id("dry-run").inner_text()
    assert api(workspace, "/v1/reports/leads", q="b-1")["total"] == before  # nothing yet
    page.click("form[action='/web/import/confirm'] button")
    assert "1 created" in page.locator(".check").inner_text()


@pytest.mark.slow
def test_reassign_by_filter(page, workspace: Workspace) -> None:
    r = httpx.post(workspace.url + "/v1/assignments", json={
        "mode": "move", "from_rep": "cat@example.com", "to_rep": "dev@example.com"},
        headers={"Authorization": f"Bearer {workspace.marketing_token}"})  # fmt: skip
    count = r.json()["count"]
    assert count > 0
    sign_in(page, workspace)
    page.goto(workspace.url + "/web/assign")
    form = page.locator("form:has(input[value=move])")
    form.locator("select[name=from_rep]").select_option("cat@example.com")
    form.locator("select[name=to_rep]").select_option("dev@example.com")
    form.locator("button").click()
    assert page.get_by_test_id("plan").inner_text().startswith(f"{count} lead")
    page.click("form[action='/web/assign/confirm'] button")
    assert page.get_by_test_id("assigned").inner_text().startswith(f"Assigned {count} lead")
    reps = {r["rep"]: r for r in api(workspace, "/v1/reports/reps")["rows"]}
    assert reps["cat@example.com"]["open"] == 0


PAGES = ("", "campaigns", "reasons", "segments?min_leads=1", "suggestions", "notes", "reps", "nurture", "leads",
         "policy", "import", "assign", "pack")  # fmt: skip


def test_no_page_is_wider_than_a_phone(browser, workspace: Workspace) -> None:
    """At 390 px nothing but a table or a chart (each scrolls in its own box) is wider than
    the screen: the export form's format list once pushed the import page to 509 px."""
    page = browser.new_page(viewport={"width": 390, "height": 844})
    try:
        sign_in(page, workspace)
        page.wait_for_url("**/web/")
        for name in PAGES:
            page.goto(f"{workspace.url}/web/{name}")
            wide = page.evaluate(
                """() => [...document.querySelectorAll('main *')]
                    .filter(e => !e.closest('.table-wrap, .chart-box'))
                    .filter(e => e.getBoundingClientRect().right > innerWidth + 1)
                    .map(e => e.tagName)"""
            )
            assert (name, page.evaluate("document.documentElement.scrollWidth"), wide) == (
                name, 390, []
            )  # fmt: skip
    finally:
        page.close()


def test_webhooks_add_test_redeliver_rotate_remove(page, workspace: Workspace, tmp_path) -> None:
    from tests.server.test_webhook_cli import _readme_snippet
    from tests.support.factories import lead_row
    from tests.support.receiver import Receiver

    readme_ok = _readme_snippet()
    sign_in(page, workspace)
    page.goto(workspace.url + "/web/webhooks")
    assert "No webhooks yet" in page.locator("[data-testid=webhooks]").inner_text()
    with Receiver(tmp_path / "got.jsonl") as receiver:
        page.fill("input[name=url]", "http://crm.example.com/hooks")  # not https: refused
        page.click("form[action='/web/webhooks/add'] button[type=submit]")
        assert "use https://" in page.locator("[role=alert]").inner_text()
        assert "No webhooks yet" in page.locator("[data-testid=webhooks]").inner_text()

        page.fill("input[name=url]", receiver.url)
        page.check("input[name=events][value='lead.assigned']")
        page.click("form[action='/web/webhooks/add'] button[type=submit]")
        secret = page.locator("[data-testid=secret]").inner_text()
        assert secret.startswith("whsec_")
        page.goto(workspace.url + "/web/webhooks")  # shown once: never again
        assert secret not in page.content()
        row = page.locator("[data-testid=webhooks] tbody tr").first
        assert receiver.url in row.inner_text() and "active" in row.inner_text()
        hook = int(row.locator("td").first.inner_text())

        row.locator(f"form[action='/web/webhooks/{hook}/test'] button").click()
        assert "took a signed webhook.test event: 200 OK" in page.locator(
            "[data-testid=message]").inner_text()  # fmt: skip
        (got,) = receiver.records()
        assert readme_ok(secret, got["headers"]["triage-signature"], got["body"].encode())

        workspace.backend.upsert_leads([lead_row(9001, owner="ann@example.com")])
        page.goto(workspace.url + f"/web/webhooks?show={hook}")
        deliveries = page.locator("[data-testid=deliveries] tbody tr")
        assert deliveries.count() == 1 and "lead.assigned" in deliveries.first.inner_text()
        deliveries.first.locator("button", has_text="Redeliver").click()
        assert "will be sent again to webhook" in page.locator("[data-testid=message]").inner_text()

        row = page.locator("[data-testid=webhooks] tbody tr").first
        row.locator("select[name=overlap]").select_option("24")
        row.locator(f"form[action='/web/webhooks/{hook}/rotate'] button").click()
        new = page.locator("[data-testid=secret]").inner_text()
        assert new.startswith("whsec_") and new != secret
        assert "two secrets until" in page.locator("[data-testid=webhooks]").inner_text()
        page.locator(f"form[action='/web/webhooks/{hook}/test'] button").click()
        last = receiver.records()[-1]
        for key in (new, secret):
            assert readme_ok(key, last["headers"]["triage-signature"], last["body"].encode())

        # a form without its CSRF token changes nothing
        refused = page.request.post(workspace.url + f"/web/webhooks/{hook}/remove", form={})
        assert refused.status == 403
        assert workspace.backend.webhooks()[0].id == hook

        page.goto(workspace.url + "/web/webhooks")
        page.locator(f"form[action='/web/webhooks/{hook}/remove'] button").click()
        assert f"Removed webhook {hook}" in page.locator("[data-testid=message]").inner_text()
        assert workspace.backend.webhooks() == []


def test_an_export_through_an_uploaded_map_file(page, workspace: Workspace, tmp_path) -> None:
    from datetime import date, timedelta

    crm = tmp_path / "crm.toml"
    crm.write_text('[columns]\nexternal_id = "Kontakt-ID"\nemail = "E-Mail"\n'
                   '[export]\nid = "Kontakt-ID"\nstatus = "Status"\nreason = "Grund"\n'
                   'note = "Notiz"\n[outcomes]\naccept = "Angenommen"\nreject = "Abgelehnt"\n'
                   'nurture = "Später"\n[reasons]\nno_budget = "Kein Budget"\n',
                   encoding="utf-8")  # fmt: skip
    bare = tmp_path / "bare.toml"
    bare.write_text('[columns]\nexternal_id = "Kontakt-ID"\n', encoding="utf-8")
    since = (date.today() - timedelta(days=90)).isoformat()
    sign_in(page, workspace)
    page.goto(workspace.url + "/web/import")
    form = page.locator("form[action='/web/export']")
    form.locator("input[name=since]").fill(since)
    form.locator("select[name=format]").select_option("hubspot")
    form.locator("input[name=mapfile]").set_input_files(str(crm))
    with page.expect_download() as info:
        form.locator("button[type=submit]").click()
    rows = list(csv.reader(io.StringIO(open(info.value.path(), encoding="utf-8").read())))
    assert rows[0] == ["Kontakt-ID", "Status", "Grund", "Notiz"]
    assert len(rows) > 1 and {r[1] for r in rows[1:]} <= {"Angenommen", "Abgelehnt", "Später"}
    assert "Kein Budget" in {r[2] for r in rows[1:]}

    page.goto(workspace.url + "/web/import")
    form = page.locator("form[action='/web/export']")
    form.locator("input[name=since]").fill(since)
    form.locator("select[name=format]").select_option("salesforce")
    form.locator("input[name=mapfile]").set_input_files(str(bare))
    form.locator("button[type=submit]").click()
    assert "the map has no [export] section" in page.locator("[role=alert]").inner_text()
