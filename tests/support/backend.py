"""What tests read straight from the server's database, past its API: how many rows each
table holds, and which open leads each rep owns. The product never asks either."""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from sqlalchemy import func, select

from triage import domain
from triage.server import models


def row_counts(backend: Any) -> dict[str, int]:
    """The number of leads, events and users in the backend's database."""
    with backend.db.read() as s:
        leads = s.execute(select(func.count()).select_from(models.Lead)).scalar_one()
        events = s.execute(select(func.count()).select_from(models.Event)).scalar_one()
        users = s.execute(select(func.count()).select_from(models.User)).scalar_one()
    return {"leads": leads, "events": events, "users": users}


def open_leads_by_rep(backend: Any) -> dict[str, set[str]]:
    """Open leads by owner email: what each rep's queue should hold."""
    with backend.db.read() as s:
        rows = s.execute(
            select(models.User.email, models.Lead.id)
            .join(models.User, models.User.id == models.Lead.owner_id)
            .where(models.Lead.status == domain.Status.OPEN.value)
        ).all()
    out: dict[str, set[str]] = defaultdict(set)
    for email, lead_id in rows:
        out[email].add(lead_id)
    return dict(out)
