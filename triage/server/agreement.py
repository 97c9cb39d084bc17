"""How often reps agreed with the suggestion they were shown, per rep and per campaign, for
a period; beside the model's own figures (held out when it was trained).

A decision counts when its feature row (triage.server.suggest.store) recorded a suggestion
the rep could see: one whose confidence reached the policy's threshold at the decision
(migration 0018; decisions before it, or made while the policy turned suggestions off,
have none). `agreed`: the same outcome and, for a rejection or a nurture, the same reason;
`agreed_outcome`: the same outcome. Undone decisions have no feature row: they do not
count. The period is the decision's time (the rep's, clamped), in the organisation's zone.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from typing import Any

from sqlalchemy import select
from sqlalchemy.engine import Connection

from triage.server import models
from triage.server.models_suggest import DecisionFeatures, SuggestModel
from triage.server.reports import Context, Period

FEATURES = DecisionFeatures.__table__
EVENT = models.Event.__table__
USER = models.User.__table__
MODEL = SuggestModel.__table__


def shown(suggestion: Any, threshold: float | None) -> dict[str, Any] | None:
    """The recorded suggestion if the rep could see it, else None."""
    if not isinstance(suggestion, dict) or threshold is None:
        return None
    confidence = suggestion.get("confidence")
    if not isinstance(confidence, int | float) or confidence < threshold:
        return None
    return suggestion


def _row(key: str, counts: Counter) -> dict[str, Any]:
    n = counts["shown"]
    return {
        "key": key,
        "decided": counts["decided"],
        "shown": n,
        "agreed": counts["agreed"],
        "agreed_outcome": counts["agreed_outcome"],
        "agreement_rate": round(counts["agreed"] / n, 4) if n else None,
        "outcome_agreement_rate": round(counts["agreed_outcome"] / n, 4) if n else None,
    }


def agreement(conn: Connection, ctx: Context, p: Period) -> dict[str, Any]:
    q = (
        select(FEATURES.c.outcome, FEATURES.c.reason, FEATURES.c.campaign,
               FEATURES.c.suggestion, FEATURES.c.suggestion_threshold, USER.c.email)
        .select_from(FEATURES.join(EVENT, EVENT.c.seq == FEATURES.c.seq)
                     .join(USER, USER.c.id == EVENT.c.user_id))
        .where(FEATURES.c.decided_at >= p.start_utc, FEATURES.c.decided_at < p.end_utc)
    )  # fmt: skip
    groups: dict[str, dict[str, Counter]] = {"rep": defaultdict(Counter),
                                             "campaign": defaultdict(Counter)}  # fmt: skip
    total: Counter = Counter()
    for outcome, reason, campaign, suggestion, threshold, rep in conn.execute(q):
        x = shown(suggestion, threshold)
        keys = (("rep", rep), ("campaign", campaign or "(none)"))
        for counts in (total, *(groups[g][k] for g, k in keys)):
            counts["decided"] += 1
            if x is None:
                continue
            same = x.get("outcome") == outcome
            counts["shown"] += 1
            counts["agreed_outcome"] += same
            counts["agreed"] += same and (outcome == "accept" or x.get("reason") == reason)
    by = {
        g: sorted((_row(k, c) for k, c in rows.items()), key=lambda r: (-r["shown"], r["key"]))
        for g, rows in groups.items()
    }
    return {
        "period": p.to_dict(),
        "suggestions": {
            "enabled": ctx.policy.suggestions.enabled,
            "threshold": ctx.policy.suggestions.threshold,
        },  # fmt: skip
        "overall": _row("all", total),
        "by_rep": by["rep"],
        "by_campaign": by["campaign"],
        "model": model_figures(conn),
    }


def model_figures(conn: Connection) -> dict[str, Any] | None:
    """The latest model: when it was trained, on how many decisions, and its held-out
    figures of then (accuracy, ROC AUC of accept against the rest, macro-F1, the split);
    None before any model."""
    row = conn.execute(
        select(MODEL.c.id, MODEL.c.created_at, MODEL.c.decisions, MODEL.c.summary)
        .order_by(MODEL.c.id.desc())
        .limit(1)
    ).first()
    if row is None:
        return None
    evaluation = (row.summary or {}).get("evaluation") or {}
    return {
        "model": row.id,
        "trained_at": row.created_at.isoformat(),
        "decisions": row.decisions,
        "accuracy": evaluation.get("accuracy"),
        "roc_auc": evaluation.get("roc_auc_accept"),
        "macro_f1": evaluation.get("macro_f1"),
        "split": evaluation.get("split"),
    }
