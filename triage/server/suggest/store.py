"""The model's data in the server's database: each decision's snapshot (written by the push
that applies the decision, in its transaction), the decisions to learn from, and the
trained models.

The trained model lives in the database (table `suggestmodel`), not in a file beside it:
the database is what a Triage server has (SQLite or PostgreSQL, one or many instances),
so every instance serves the same model, and `triage server backup`/`restore` carry it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import delete, select
from sqlmodel import Session

from triage.server import models
from triage.server.db import executemany, insert_rows
from triage.server.models_suggest import DecisionFeatures, SuggestModel
from triage.server.suggest.features import SNAPSHOT_FIELDS, snapshot

LEAD = models.Lead.__table__
TABLE = DecisionFeatures.__table__
_PROFILE = (LEAD.c.id, *(LEAD.c[name] for name in SNAPSHOT_FIELDS))
_INSERT = insert_rows(TABLE, tuple(c.name for c in TABLE.columns))
_CHUNK = 500


@dataclass(frozen=True, slots=True)
class Decision:
    """One past decision: the lead as it was (a snapshot), its outcome and reason."""

    snapshot: dict[str, Any]
    outcome: str
    reason: str | None = None
    at: datetime | None = None


def record(s: Session, events: Sequence[dict[str, Any]]) -> None:
    """Snapshot the leads of a push's decide events (their seq set) as they stand now, in
    the push's transaction; an undo removes the snapshot of the decision it undoes."""
    decided = [e for e in events if e["kind"] == "decide"]
    if decided:
        ids = sorted({e["lead_id"] for e in decided})
        profiles: dict[str, dict[str, Any]] = {}
        for start in range(0, len(ids), _CHUNK):
            chunk = ids[start : start + _CHUNK]
            for row in s.execute(select(*_PROFILE).where(LEAD.c.id.in_(chunk))):
                profiles[row.id] = snapshot(row)
        executemany(s, _INSERT, [
            {"seq": e["seq"], "lead_id": e["lead_id"], "decision_id": e.get("decision_id"),
             "outcome": e["outcome"], "reason": e.get("reason"),
             "decided_at": e["effective_at"], "features": profiles.get(e["lead_id"], {})}
            for e in decided
        ])  # fmt: skip
    for e in events:
        if e["kind"] == "reopen" and e.get("decision_id"):
            s.execute(
                delete(TABLE).where(
                    TABLE.c.lead_id == e["lead_id"],
                    TABLE.c.decision_id == e["decision_id"],
                    TABLE.c.seq < e["seq"],
                )
            )


def decisions(s: Session) -> list[Decision]:
    """Every decision with a snapshot, oldest first."""
    rows = s.execute(
        select(TABLE.c.features, TABLE.c.outcome, TABLE.c.reason, TABLE.c.decided_at).order_by(
            TABLE.c.seq
        )
    )
    return [Decision(r.features, r.outcome, r.reason, r.decided_at) for r in rows]


def save_model(s: Session, row: SuggestModel, keep: int = 5) -> int:
    """Store a trained model; the latest `keep` stay. Its id."""
    s.add(row)
    s.flush()
    assert row.id is not None
    old = s.execute(select(SuggestModel.id).order_by(SuggestModel.id.desc()).offset(keep)).scalars()
    stale = list(old)
    if stale:
        s.execute(delete(SuggestModel).where(SuggestModel.id.in_(stale)))
    return row.id


def latest_model(s: Session) -> SuggestModel | None:
    return s.execute(
        select(SuggestModel).order_by(SuggestModel.id.desc()).limit(1)
    ).scalar_one_or_none()
