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

from sqlalchemy import bindparam, delete, insert, select
from sqlmodel import Session

from triage.domain import Suggestions
from triage.server import models
from triage.server.db import executemany
from triage.server.models_suggest import DecisionFeatures, SuggestModel
from triage.server.suggest.features import SNAPSHOT_FIELDS, snapshot

LEAD = models.Lead.__table__
TABLE = DecisionFeatures.__table__
_DECISION = ("seq", "lead_id", "decision_id", "outcome", "reason", "decided_at")
# One decision's row: its event's values, the lead's fields copied from its row by the
# database (a push decodes no JSON for it).
_BINDS = {name: bindparam(name, type_=TABLE.c[name].type) for name in _DECISION}
_INSERT = insert(TABLE).from_select(
    [*_DECISION, *SNAPSHOT_FIELDS],
    select(*_BINDS.values(), *(LEAD.c[name] for name in SNAPSHOT_FIELDS)).where(
        LEAD.c.id == _BINDS["lead_id"]
    ),
)
# The same, with the suggestion the lead carried (the policy shows suggestions): what the
# rep was shown, beside the threshold then.
_THRESHOLD = bindparam("suggestion_threshold", type_=TABLE.c.suggestion_threshold.type)
_INSERT_SUGGESTED = insert(TABLE).from_select(
    [*_DECISION, *SNAPSHOT_FIELDS, "suggestion", "suggestion_threshold"],
    select(
        *_BINDS.values(), *(LEAD.c[name] for name in SNAPSHOT_FIELDS), LEAD.c.suggestion,
        _THRESHOLD,
    ).where(LEAD.c.id == _BINDS["lead_id"]),
)  # fmt: skip


@dataclass(frozen=True, slots=True)
class Decision:
    """One past decision: the lead as it was (a snapshot), its outcome and reason."""

    snapshot: dict[str, Any]
    outcome: str
    reason: str | None = None
    at: datetime | None = None


def record(s: Session, events: Sequence[dict[str, Any]], shows: Suggestions | None = None) -> None:
    """Snapshot the leads of a push's decide events (their seq set) as they stand now, in
    the push's transaction (the database copies the lead's columns, and its suggestion
    while the policy `shows` suggestions); an undo removes the snapshot of the decision it
    undoes."""
    extra = {}
    statement = _INSERT
    if shows is not None and shows.enabled:
        statement, extra = _INSERT_SUGGESTED, {"suggestion_threshold": shows.threshold}
    executemany(s, statement, [
        {"seq": e["seq"], "lead_id": e["lead_id"], "decision_id": e.get("decision_id"),
         "outcome": e["outcome"], "reason": e.get("reason"), "decided_at": e["effective_at"],
         **extra}
        for e in events if e["kind"] == "decide"
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
    columns = [TABLE.c[name] for name in (*SNAPSHOT_FIELDS, "outcome", "reason", "decided_at")]
    rows = s.execute(select(*columns).order_by(TABLE.c.seq))
    return [Decision(snapshot(r), r.outcome, r.reason, r.decided_at) for r in rows]


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
