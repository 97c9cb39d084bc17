"""A lead's suggestion, made when the lead is assigned and kept with it (`lead.suggestion`,
migration 0014): the model's likeliest outcome, a rejection's likeliest reason, its
confidence and the three factors that weigh most (model.Suggester.suggest).

Made in batches (an import's chunk of new leads at once, a bulk assignment's), by the
latest trained model, loaded from the database on first use and kept per process, keyed by
its row (a retrain is picked up by the next assignment). No scikit-learn import here: the
server starts without it, and the model's pickle brings it in when a lead is first scored.
No model yet, or one this server cannot use: no suggestion, and nothing else changes.

`rescore` refreshes the suggestions of open, assigned leads on purpose (after a retrain);
each lead whose suggestion changed gets a change number, so its rep pulls it.
"""

from __future__ import annotations

import logging
import pickle
import threading
from collections.abc import Sequence
from datetime import datetime
from functools import cache
from importlib import metadata
from typing import Any

from sqlalchemy import select
from sqlmodel import Session

from triage import domain
from triage.server import models
from triage.server.db import Database, SeqAllocator, utcnow
from triage.server.models_suggest import SuggestModel
from triage.server.suggest.features import snapshot

log = logging.getLogger("triage.server")

CHUNK = 1000  # leads scored a batch by rescore (an import scores its own chunks)

_lock = threading.Lock()
_loaded: dict[tuple[int, datetime], Any] = {}  # (model id, made at) -> model or None


@cache
def library() -> str | None:
    """The scikit-learn this server has, as train.LIBRARY says it (without importing it)."""
    try:
        return f"scikit-learn {metadata.version('scikit-learn')}"
    except metadata.PackageNotFoundError:
        return None


def current_model(s: Session) -> tuple[int, Any] | None:
    """The latest model (its id and the unpickled model.Suggester), None without a usable one.
    One small read each call; the model itself is read and unpickled once per process."""
    found = s.execute(
        select(SuggestModel.id, SuggestModel.created_at).order_by(SuggestModel.id.desc()).limit(1)
    ).first()
    if found is None:
        return None
    key = (found.id, found.created_at)
    with _lock:
        if key not in _loaded:
            _loaded.clear()  # one model a process: the latest
            _loaded[key] = _load(s, found.id)
        model = _loaded[key]
    return None if model is None else (found.id, model)


def _load(s: Session, model_id: int) -> Any:
    row = s.execute(
        select(SuggestModel.library, SuggestModel.body).where(SuggestModel.id == model_id)
    ).one()
    if row.library != library():
        log.warning("suggestions: model %s was made by %s, this server has %s; no suggestions "
                    "until `triage server suggest train`", model_id, row.library, library())  # fmt: skip
        return None
    try:
        return pickle.loads(row.body)  # made by this server's `train` only, never a client
    except Exception:  # a model that cannot be read must not stop an import or a sync
        log.exception("suggestions: model %s cannot be loaded; no suggestions", model_id)
        return None


def suggestions(s: Session, leads: Sequence[Any]) -> list[dict[str, Any] | None] | None:
    """A suggestion for each lead (ORM rows or records with the lead's columns), None for
    one the model has none for; None in place of the list when there is no model."""
    if not leads:
        return []
    found = current_model(s)
    if found is None:
        return None
    model_id, model = found
    try:
        made = model.suggest([snapshot(lead) for lead in leads])
    except Exception:  # never stop an assignment for a suggestion
        log.exception("suggestions: model %s failed to score %d leads", model_id, len(leads))
        return None
    return [None if m is None else {**m, "model": model_id} for m in made]


def suggest(s: Session, leads: Sequence[Any]) -> None:
    """Give each lead (being assigned) its suggestion, in one batch; without a model the
    leads keep what they have."""
    made = suggestions(s, leads)
    if made is None:
        return
    for lead, suggestion in zip(leads, made, strict=True):
        models.give_suggestion(lead, suggestion)


def same(a: dict[str, Any] | None, b: dict[str, Any] | None) -> bool:
    """Do two suggestions say the same to a rep (whichever model made them)?"""
    if a is None or b is None:
        return a is b
    return {k: v for k, v in a.items() if k != "model"} == {
        k: v for k, v in b.items() if k != "model"
    }


def rescore(db: Database) -> dict[str, Any]:
    """Suggestions made again for every open, assigned lead by the latest model, in
    transactions of CHUNK leads; a lead whose suggestion changed gets a new version and
    change number (its rep pulls it). Counts (leads, changed, unchanged) and the model's
    id (None: no model to score with, nothing changed)."""
    lead = models.Lead
    counts: dict[str, Any] = {"model": None, "leads": 0, "changed": 0, "unchanged": 0}
    with db.read() as s:
        found = current_model(s)
        if found is None:
            return counts
        counts["model"] = found[0]
        ids = list(s.execute(
            select(lead.id).where(lead.status == domain.Status.OPEN.value,
                                  lead.owner_id.is_not(None)).order_by(lead.id)
        ).scalars())  # fmt: skip
    for start in range(0, len(ids), CHUNK):
        with db.write() as s:
            rows = list(s.execute(
                select(lead).where(lead.id.in_(ids[start : start + CHUNK]),
                                   lead.status == domain.Status.OPEN.value,
                                   lead.owner_id.is_not(None))
            ).scalars())  # fmt: skip
            made = suggestions(s, rows)
            if made is None:
                break
            _renumber(s, rows, made, counts)
        db.give_way()
    return counts


def _renumber(
    s: Session, rows: list[models.Lead], made: list[dict[str, Any] | None], counts: dict
) -> None:
    seqs, now = SeqAllocator(s), utcnow()
    for row, suggestion in zip(rows, made, strict=True):
        counts["leads"] += 1
        if same(row.suggestion, suggestion):
            counts["unchanged"] += 1
            continue
        models.give_suggestion(row, suggestion)
        row.version += 1
        row.seq = seqs.next(row.id, "suggest")
        row.updated_at = now
        counts["changed"] += 1
    seqs.close()


def resend(s: Session, before: domain.Suggestions, after: domain.Suggestions) -> int:
    """The policy's suggestion settings changed (in `s`, the transaction that stores the new
    policy): each open, assigned lead whose suggestion is now shown where it was not, or no
    longer shown, gets a change number, so its rep pulls it as the new policy has it.
    How many."""
    lead = models.Lead
    rows = s.execute(
        select(lead.id, lead.suggestion).where(
            lead.status == domain.Status.OPEN.value, lead.owner_id.is_not(None)
        )
    ).all()
    moved = [
        r.id for r in rows
        if r.suggestion and before.shows(r.suggestion.get("confidence"))
        != after.shows(r.suggestion.get("confidence"))
    ]  # fmt: skip
    seqs, now = SeqAllocator(s), utcnow()
    for start in range(0, len(moved), CHUNK):
        for row in s.execute(
            select(lead).where(lead.id.in_(moved[start : start + CHUNK]))
        ).scalars():
            row.version += 1
            row.seq = seqs.next(row.id, "suggest")
            row.updated_at = now
    seqs.close()
    return len(moved)
