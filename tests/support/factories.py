"""The one lead factory of the tests and the benchmarks.

- `make_lead(i)`: lead number i as the client's store holds it (a `domain.Lead`), the same
  on every run: spread ages (fresh to three times the SLA), scores, sources, campaigns,
  evidence and activities. `make_leads(start, stop)` makes a range of them.
- `lead_row(n)`: lead number n as a marketing import row (what `POST /v1/leads` and
  `triage server import` take).
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta, timezone
from typing import Any

from triage import domain

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


def make_lead(i: int, now: datetime = NOW, **changes: Any) -> domain.Lead:
    """Lead i, the same on every run; `changes` replace fields (`id=`, `score=`, ...)."""
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
    lead = domain.Lead(
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
    return replace(lead, **changes) if changes else lead


def make_leads(start: int, stop: int, now: datetime = NOW) -> list[domain.Lead]:
    return [make_lead(i, now) for i in range(start, stop)]


def lead_row(n: int, owner: str | None = "ann@example.com", **extra: Any) -> dict[str, Any]:
    """Import row n: `owner` a rep's email (None: unassigned); `extra` adds or replaces keys."""
    row: dict[str, Any] = {
        "external_id": f"ext-{n}",
        "name": f"Person {n}",
        "email": f"p{n}@corp{n % 7}.example",
        "company": f"Corp {n % 7}",
        "title": "VP Operations",
        "campaign": f"campaign-{n % 3}",
        "source": ["webinar", "tradeshow", "content"][n % 3],
        "score": n % 101,
        "mql_at": "2026-11-20T09:00:00Z",
    }
    if owner:
        row["owner"] = owner
    row.update(extra)
    return row
