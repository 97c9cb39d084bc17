"""Shared pieces of the TUI tests: a store of deterministic leads, a frozen clock, the app.

Imported by the tests/test_tui_*.py modules (the fixtures are imported by name).
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from triage import domain
from triage.app import TriageApp, make_app
from triage.config import Settings
from triage.store import Store

NOW = datetime(2026, 11, 20, 15, 0, tzinfo=timezone.utc)

FIRST = ("Jane", "Omar", "Lena", "Ravi", "Chloe", "Mateo", "Yuki", "Sven", "Amara", "Priya",
         "Tom", "Ines", "Kofi", "Mia", "Dmitri", "Sofia", "Liam", "Hana", "Noah", "Zara")  # fmt: skip
LAST = ("Doe", "Haddad", "Fischer", "Patel", "Martin", "Garcia", "Tanaka", "Berg", "Okafor",
        "Singh", "Walsh", "Moreau", "Mensah", "Novak", "Ivanov", "Rossi", "Byrne", "Kim",
        "Cohen", "Ali")  # fmt: skip
COMPANIES = ("Acme Robotics", "Globex Logistics", "Initech", "Umbrella Health", "Hooli Cloud",
             "Stark Materials", "Wayne Freight", "Wonka Foods", "Tyrell Biotech",
             "Cyberdyne Systems", "Soylent Labs")  # fmt: skip
TITLES = ("VP Operations", "Head of IT", "CTO", "Procurement Manager", "Data Engineer",
          "Director of Sales", "CFO", "Student")  # fmt: skip
SOURCES = ("webinar", "tradeshow", "content", "paid_search", "referral")
CAMPAIGNS = ("q4-launch", "roadshow-emea", "ebook-2026", "retargeting", "partner-week")
INDUSTRIES = ("Manufacturing", "Logistics", "Software", "Healthcare", "Retail")
SIZES = ("11-50", "51-200", "201-1000", "1001-5000")
COUNTRIES = ("DE", "FR", "GB", "US", "JP", "IN", "BR")


def make_lead(i: int, now: datetime = NOW) -> domain.Lead:
    """Lead i, the same on every run: spread ages (fresh .. 3x SLA), scores, sources."""
    first, last = FIRST[i % len(FIRST)], LAST[(i * 7) % len(LAST)]
    company = COMPANIES[(i * 3) % len(COMPANIES)]
    bant: dict[str, str] = {}
    if i % 5 == 1:
        bant["budget"] = "yes"
    if i % 7 == 3:
        bant["authority"] = "no"
    if i % 4 == 2:
        bant["need"] = "yes"
    mql_at = now - timedelta(minutes=(i * 97) % (72 * 60) + 10)
    return domain.Lead(
        id=f"L{i:06d}",
        external_id=f"ext-{i}",
        name=f"{first} {last}",
        email=f"{first.lower()}.{last.lower()}{i}@{company.split()[0].lower()}.example",
        phone=f"+49 30 {1000000 + i * 37:07d}",
        title=TITLES[i % len(TITLES)],
        company=company,
        industry=INDUSTRIES[i % len(INDUSTRIES)],
        company_size=SIZES[i % len(SIZES)],
        country=COUNTRIES[i % len(COUNTRIES)],
        source=SOURCES[i % len(SOURCES)],
        campaign=CAMPAIGNS[(i // 2) % len(CAMPAIGNS)],
        score=(i * 37) % 101,
        mql_at=mql_at,
        assigned_at=mql_at + timedelta(minutes=5),
        owner="ann@example.com",
        evidence={
            "budget": "Form: $50k-100k" if i % 3 else "Pricing page visited 4 times",
            "need": "Downloaded the route-planning ebook",
            **({"timing": "Said: evaluating this quarter"} if i % 2 else {}),
        },
        activities=(
            domain.Activity(mql_at - timedelta(days=3), "web_visit", "Pricing page, 3 pages"),
            domain.Activity(mql_at - timedelta(days=1), "form", "Requested a demo"),
            domain.Activity(mql_at, "mql", f"Scored {(i * 37) % 101} by marketing"),
        ),
        bant=bant,
    )


def seed_store(path: Path, n: int = 60, *, now: datetime = NOW, chunk: int = 5000) -> Store:
    store = Store.open(path)
    store.set_me("ann@example.com", "Ann Rep", "rep")
    store.save_policy(domain.DEFAULT_POLICY)
    for start in range(0, n, chunk):
        leads = [make_lead(i, now) for i in range(start, min(n, start + chunk))]
        store.apply_pull(leads, [], cursor=start + len(leads))
    return store


def build_app(store: Store, **settings_kw) -> TriageApp:
    return make_app(
        store=store,
        settings=Settings(
            server_url="https://triage.example.com", token="test-token", **settings_kw
        ),
        db_path=store.path,
        clock=lambda: NOW,
        sync=False,
    )


async def until(pilot, predicate, timeout: float = 5.0) -> None:
    """Let the app run until `predicate()` holds (a worker's result arrived, ...)."""
    import time

    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError("timed out waiting for the app")
        await pilot.pause(0.02)


@pytest.fixture(name="store")
def store_fixture(tmp_path: Path):
    """A store of 60 deterministic open leads (import `store_fixture` to use `store`)."""
    s = seed_store(tmp_path / "triage.db", 60)
    yield s
    s.close()


@pytest.fixture(name="app")
def app_fixture(store: Store) -> TriageApp:
    """The app over `store`, frozen clock, no sync (import `app_fixture` to use `app`)."""
    return build_app(store)


def make_conflict(store: Store, lead_index: int = 5) -> str:
    """Reject lead `lead_index` locally, then have the server answer `already_decided`
    with its own version of the lead (accepted by bob). Returns the lead id."""
    from dataclasses import replace

    from triage.store import PushResult

    lead = make_lead(lead_index)
    store.decide([lead.id], "reject", reason="no_budget", at=NOW)
    (item,) = [i for i in store.pending() if i.lead_id == lead.id]
    server = replace(
        lead,
        version=lead.version + 1,
        status=domain.Status.ACCEPTED,
        decision=domain.Decision(domain.Outcome.ACCEPT, None, None, NOW, by="bob@example.com"),
    )
    store.apply_push_results([PushResult(item.seq, "conflict", "already_decided", lead=server)])
    return lead.id


def table_of(app):
    """The queue's lead table."""
    from triage.widgets.lead_table import LeadTable

    return app.query_one("#leads", LeadTable)


def open_ids(store: Store) -> list[str]:
    return store.queue_ids(domain.Filter(), "sla", now=NOW)


def messages(app) -> list[str]:
    return [n.message for n in app._notifications]
