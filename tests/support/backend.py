"""What tests read straight from the server's database, past its API: how many rows each
table holds, and which open leads each rep owns (the product never asks either); a backend
opened for a few lines, and a rep's push made in-process."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import func, select

from triage import domain
from triage.protocol import MutationEnvelope
from triage.server import models
from triage.server.service import Backend
from triage.server.services.common import _caller


@contextmanager
def opened(url: str) -> Iterator[Backend]:
    """The server's backend on the database at `url`, closed at the end."""
    backend = Backend.open(url)
    try:
        yield backend
    finally:
        backend.close()


def push_as(
    backend: Backend, email: str, client_id: str, mutations: list[dict[str, Any]]
) -> list[dict[str, Any]]:
    """The rep `email` pushes these mutations (as on the wire) from `client_id`: the results."""
    with backend.db.read() as s:
        caller = _caller(backend._reps_by_email(s, [email])[email])
    envelopes = [MutationEnvelope.model_validate(m) for m in mutations]
    return backend.push(caller, client_id, envelopes)["results"]


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
