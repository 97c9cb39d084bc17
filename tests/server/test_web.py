"""The workspace over plain HTTP: sign-in and sessions, CSRF on every form, the security
headers, CSV downloads, the docs page, and the chart palette's contrast."""

from __future__ import annotations

import csv
import io
import re
from pathlib import Path

import httpx
import pytest

from tests.conftest import Live
from tests.support.factories import lead_row
from triage.server.live import ServerThread
from triage.server.service import Backend
from triage.server.web import charts, sessions

TEMPLATES = Path(__file__).resolve().parents[2] / "triage" / "server" / "web" / "templates"


def _csrf(html: str) -> str:
    found = re.search(r'name="csrf" value="([^"]+)"', html)
    assert found, html[:500]
    return found.group(1)


def signed_in(url: str, token: str) -> tuple[httpx.Client, httpx.Response]:
    c = httpx.Client(base_url=url, timeout=30)
    form = c.get("/web/signin")
    r = c.post("/web/signin", data={"csrf": _csrf(form.text), "token": token, "next": "/web/"})
    return c, r


def test_sign_in_makes_a_session_that_ends_with_its_token(live: Live) -> None:
    c, r = signed_in(live.url, live.mo.token)
    assert r.status_code == 303 and r.headers["location"] == "/web/"
    cookie = r.headers["set-cookie"]
    assert "triage_session=" in cookie and "HttpOnly" in cookie and "SameSite=lax" in cookie
    assert "Secure" not in cookie  # plain http on loopback
    assert live.mo.token not in cookie and live.mo.token not in r.headers["location"]
    page = c.get("/web/")
    assert page.status_code == 200 and "Acceptance rate" in page.text
    live.backend.revoke_tokens(live.mo.email)
    gone = c.get("/web/")
    assert gone.status_code == 303 and gone.headers["location"].startswith("/web/signin")
    c.close()


def test_a_deactivated_user_is_signed_out_and_sign_out_ends_the_session(live: Live) -> None:
    c, _ = signed_in(live.url, live.mo.token)
    page = c.get("/web/reps")
    assert page.status_code == 200
    r = c.post("/web/signout", data={"csrf": _csrf(page.text)})
    assert r.status_code == 303 and c.get("/web/").status_code == 303
    c2, _ = signed_in(live.url, live.mo.token)
    assert c2.get("/web/").status_code == 200
    live.backend.set_active(live.mo.email, False)
    assert c2.get("/web/").status_code == 303


def test_a_reps_token_is_refused_with_a_clear_page(live: Live) -> None:
    c, r = signed_in(live.url, live.ann.token)
    assert r.status_code == 403
    assert "This is a rep&#39;s token" in r.text and "triage_session" not in r.headers.get(
        "set-cookie", ""
    )
    _, bad = signed_in(live.url, "trg_not-a-token")
    assert bad.status_code == 401 and "unknown, revoked or expired" in bad.text


def test_every_form_needs_its_csrf_token(live: Live) -> None:
    c, _ = signed_in(live.url, live.mo.token)
    for path, data in (
        ("/web/signout", {}),
        ("/web/import", {}),
        ("/web/policy", {"text": "sla_hours = 5"}),
        ("/web/policy/confirm", {"text": "sla_hours = 5"}),
        ("/web/assign/confirm", {"mode": "move"}),
        ("/web/signout", {"csrf": "forged"}),
    ):
        r = c.post(path, data=data)
        assert r.status_code == 403 and "security token" in r.text, path
    assert live.backend.policy().sla_hours == 24
    assert c.get("/web/").status_code == 200  # still signed in
    # the sign-in form has its own (a cookie and a field that must match)
    anon = httpx.Client(base_url=live.url)
    r = anon.post("/web/signin", data={"token": live.mo.token})
    assert r.status_code == 403 and "set-cookie" not in r.headers


def test_a_single_use_sign_in_code(live: Live) -> None:
    code, _ = sessions.new_code(live.backend, live.mo.email)
    c = httpx.Client(base_url=live.url)
    form = c.get("/web/signin")
    r = c.post("/web/signin/code", data={"csrf": _csrf(form.text), "code": code.lower()})
    assert r.status_code == 303 and c.get("/web/").status_code == 200
    again = httpx.Client(base_url=live.url)
    form = again.get("/web/signin")
    r = again.post("/web/signin/code", data={"csrf": _csrf(form.text), "code": code})
    assert r.status_code == 401  # used once already
    with pytest.raises(Exception, match="is a rep"):
        sessions.new_code(live.backend, "ann@example.com")


def test_secure_cookies_behind_https(tmp_path: Path) -> None:
    backend = Backend.open(f"sqlite:///{tmp_path / 's.db'}")
    _, token, _ = backend.add_user("mo@example.com", None, "marketing")
    from fastapi.testclient import TestClient

    from triage.server.app import create_app

    client = TestClient(
        create_app(backend, public_url="https://triage.example.com"),
        base_url="https://triage.example.com",
    )
    form = client.get("/web/signin")
    r = client.post("/web/signin", data={"csrf": _csrf(form.text), "token": token},
                    follow_redirects=False)  # fmt: skip
    assert "Secure" in r.headers["set-cookie"]
    backend.close()


def test_security_headers_and_no_inline_script_or_style(live: Live) -> None:
    r = live.anon.get("/web/signin")
    csp = r.headers["content-security-policy"]
    assert "script-src 'self'" in csp and "unsafe-inline" not in csp
    assert "style-src 'self'" in csp and "frame-ancestors 'none'" in csp
    assert r.headers["x-content-type-options"] == "nosniff"
    for template in TEMPLATES.glob("*.html"):
        text = template.read_text()
        assert not re.search(r"<script(?![^>]*\bsrc=)", text), template.name
        assert " style=" not in text and "<style" not in text, template.name
        assert "http://" not in text and "https://" not in text, template.name


def test_docs_work_offline(live: Live) -> None:
    page = live.anon.get("/docs")
    assert page.status_code == 200
    srcs = re.findall(r'(?:src|href)="([^"]+)"', page.text)
    assert srcs and all(s.startswith("/") for s in srcs)
    for s in srcs:
        assert live.anon.get(s).status_code == 200, s
    spec = live.anon.get("/openapi.json").json()
    assert spec["components"]["securitySchemes"]["token"] == {
        "type": "http", "scheme": "bearer", "description": spec["components"][
            "securitySchemes"]["token"]["description"],
    }  # fmt: skip
    for path in ("/v1/reports/overview", "/v1/reports/breakdown", "/v1/imports", "/v1/policy"):
        ops = spec["paths"][path]
        op = ops.get("post") or ops["get"]
        assert op["security"] == [{"token": []}], path
    assert spec["paths"]["/v1/reports/qualification"]["get"]["security"] == [{"token": []}]
    row = spec["components"]["schemas"]["ReportRow"]["properties"]["reasons"]
    assert row.get("deprecated") is True


def test_csv_downloads_are_formula_safe_with_a_column_per_reason(live: Live) -> None:
    live.upsert([lead_row(1, campaign='=HYPERLINK("http://x","y")'), lead_row(2)])
    ids = [live.backend.lead(f"ext-{n}")["id"] for n in (1, 2)]
    import uuid

    r = live.ann.post("/v1/sync/push", json={"client_id": str(uuid.uuid4()), "mutations": [
        {"seq": 1, "lead_id": ids[0], "type": "decide", "outcome": "reject", "reason": "no_need",
         "at": "2026-01-01T00:00:00Z"},
        {"seq": 2, "lead_id": ids[1], "type": "decide", "outcome": "nurture",
         "reason": "timing_later", "at": "2026-01-01T00:00:00Z"},
    ]})  # fmt: skip
    assert r.status_code == 200
    c, _ = signed_in(live.url, live.mo.token)
    got = c.get("/web/campaigns.csv", params={"preset": "7d"})
    assert got.headers["content-type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(got.text)))
    assert rows[0][-2:] == [
        "rejected: No need (no_need)",
        "nurtured: Timing: buying later (timing_later)",
    ]
    by = {r[0]: r for r in rows[1:]}
    assert '\'=HYPERLINK("http://x","y")' in by
    assert by['\'=HYPERLINK("http://x","y")'][-2:] == ["1", "0"]
    for path in ("/web/trend.csv", "/web/reasons.csv", "/web/notes.csv", "/web/reps.csv",
                 "/web/nurture.csv", "/web/leads.csv"):  # fmt: skip
        r = c.get(path)
        assert r.status_code == 200 and r.headers["content-type"].startswith("text/csv"), path


def test_every_page_renders(live: Live) -> None:
    live.upsert([lead_row(n) for n in range(5)])
    c, _ = signed_in(live.url, live.mo.token)
    lead = live.backend.lead("ext-1")["id"]
    for path in ("/web/", "/web/campaigns?by=source&cross=country", "/web/reasons",
                 "/web/segments", "/web/segments?min_leads=1&min_rejected=0",
                 "/web/notes", "/web/reps", "/web/nurture?days=90", "/web/leads?q=person",
                 f"/web/leads/{lead}", "/web/policy", "/web/import", "/web/assign",
                 "/web/pack?preset=quarter", "/web/?start=2026-01-01&end=2026-03-31",
                 "/web/?start=nonsense"):  # fmt: skip
        r = c.get(path)
        assert r.status_code == 200, (path, r.text[:300])
    assert "Person 1" in c.get(f"/web/leads/{lead}").text


def test_the_palette_has_3_to_1_contrast_against_the_background() -> None:
    for name, colour in charts.PALETTE.items():
        assert charts.contrast(colour, charts.BACKGROUND) >= 3, name
    assert charts.contrast("#000000", "#ffffff") == pytest.approx(21)


def test_the_demo_server_thread_serves_the_workspace(tmp_path: Path) -> None:
    backend = Backend.open(f"sqlite:///{tmp_path / 's.db'}")
    with ServerThread(backend) as t:
        assert httpx.get(t.url + "/web/signin").status_code == 200
    backend.close()


@pytest.mark.slow
def test_x_forwarded_proto_is_believed_only_from_the_proxies_named(tmp_path: Path) -> None:
    """`server run --forwarded-allow-ips`: a proxy named there makes the cookie Secure with
    X-Forwarded-Proto: https; without the flag the header is ignored."""
    import socket
    import subprocess
    import sys
    import time

    db = f"sqlite:///{tmp_path / 's.db'}"
    backend = Backend.open(db)
    _, token, _ = backend.add_user("mo@example.com", None, "marketing")
    backend.close()

    def cookie_with(extra: list[str]) -> str:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        proc = subprocess.Popen(
            [sys.executable, "-m", "triage", "server", "run", "--db", db, "--port", str(port),
             "--log-level", "warning", *extra],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        try:
            url = f"http://127.0.0.1:{port}"
            for _ in range(200):
                try:
                    httpx.get(url + "/v1/health", timeout=1)
                    break
                except httpx.TransportError:
                    time.sleep(0.05)
            headers = {"X-Forwarded-Proto": "https"}
            c = httpx.Client(base_url=url, headers=headers)
            form = c.get("/web/signin")
            csrf = _csrf(form.text)
            c.cookies.set("triage_signin", form.cookies.get("triage_signin") or "", path="/web/")
            r = c.post("/web/signin", data={"csrf": csrf, "token": token})
            return r.headers.get("set-cookie", "")
        finally:
            proc.terminate()
            proc.wait(10)

    assert "Secure" in cookie_with(["--forwarded-allow-ips", "127.0.0.1"])
    assert "Secure" not in cookie_with([])
