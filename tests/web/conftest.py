"""Browser tests of the marketing workspace: Playwright driving Debian's Chromium against a
real server (a ServerThread on a free loopback port) over seeded data.

Without /usr/bin/chromium the tests skip, saying how to get it (`apt-get install -y
chromium`); with CI set they fail instead. When a test fails, every page is captured at
1280x800 and 390x844 into tests/web/.screenshots/ (git-ignored), and the paths printed.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--no-sandbox", "--disable-background-networking", "--disable-component-update"]
SHOTS = Path(__file__).parent / ".screenshots"
PAGES = ("/web/", "/web/campaigns", "/web/reasons", "/web/notes", "/web/reps", "/web/nurture",
         "/web/leads", "/web/policy", "/web/import", "/web/assign", "/web/pack",
         "/web/segments", "/web/suggestions", "/web/webhooks")  # fmt: skip
SIZES = ((1280, 800), (390, 844))


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if Path(str(item.fspath)).parent == Path(__file__).parent:
            item.add_marker(pytest.mark.browser)
            item.add_marker(pytest.mark.slow)  # a real Chromium, 5-11 s a test: not the fast lane


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args: dict) -> dict:
    if not Path(CHROMIUM).exists():
        why = (f"the browser tests need Debian's Chromium at {CHROMIUM}: "
               "apt-get install -y chromium (.ci/run installs it)")  # fmt: skip
        if os.environ.get("CI"):
            pytest.fail(why)
        pytest.skip(why)
    return {**browser_type_launch_args, "executable_path": CHROMIUM, "args": ARGS}


@pytest.fixture(scope="session")
def browser_context_args(browser_context_args: dict) -> dict:
    return {**browser_context_args, "viewport": {"width": 1280, "height": 800},
            "accept_downloads": True}  # fmt: skip


@dataclass
class Workspace:
    url: str
    backend: object
    marketing_token: str
    rep_token: str


@pytest.fixture(scope="module")
def workspace(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Workspace]:
    from tests.support.workspace import seed
    from triage.server.live import ServerThread
    from triage.server.service import Backend

    path = tmp_path_factory.mktemp("workspace") / "server.db"
    backend = Backend.open(f"sqlite:///{path}")
    _, marketing, _ = backend.add_user("mo@example.com", "Mo Marketing", "marketing")
    seed(backend, 600, events_per_lead=1.2)
    _, rep = backend.rotate_token("ann@example.com")[:2]
    thread = ServerThread(backend).start()
    try:
        yield Workspace(thread.url, backend, marketing, rep)
    finally:
        thread.stop()
        backend.close()


def sign_in(page, ws: Workspace, token: str | None = None) -> None:  # type: ignore[no-untyped-def]
    page.goto(ws.url + "/web/signin")
    page.fill("#token", token or ws.marketing_token)
    page.click("form[action='/web/signin'] button[type=submit]")


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo) -> Iterator[None]:
    outcome = yield
    report = outcome.get_result()
    setattr(item, f"rep_{report.when}", report)


@pytest.fixture(autouse=True)
def screenshots_on_failure(request: pytest.FixtureRequest) -> Iterator[None]:
    yield
    failed = getattr(request.node, "rep_call", None)
    if failed is None or not failed.failed or "workspace" not in request.fixturenames:
        return
    ws = request.getfixturevalue("workspace")
    browser = request.getfixturevalue("browser")
    folder = SHOTS / re.sub(r"[^A-Za-z0-9_.-]+", "_", request.node.name)
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for width, height in SIZES:
        context = browser.new_context(viewport={"width": width, "height": height})
        page = context.new_page()
        try:
            sign_in(page, ws)
            for path in PAGES:
                page.goto(ws.url + path)
                name = path.strip("/").replace("/", "-") or "web"
                target = folder / f"{name}-{width}x{height}.png"
                page.screenshot(path=str(target), full_page=True)
                written.append(target)
        finally:
            context.close()
    print("\nscreenshots of every page:\n" + "\n".join(f"  {p}" for p in written))
