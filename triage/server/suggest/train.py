"""Training the model on every decision with a snapshot and keeping it in the database
(store.py says why there); loading the latest one back."""

from __future__ import annotations

import pickle
from collections import Counter
from collections.abc import Sequence
from typing import Any

import sklearn

from triage.server.db import Database, utcnow
from triage.server.models_suggest import SuggestModel
from triage.server.suggest import store
from triage.server.suggest.evaluate import MIN_DECISIONS, evaluate
from triage.server.suggest.model import Suggester
from triage.server.suggest.store import Decision

LIBRARY = f"scikit-learn {sklearn.__version__}"


class NoModel(Exception):
    """No model to use (none trained, or one made by another scikit-learn); says what to do."""


def train(db: Database, decisions: Sequence[Decision]) -> dict[str, Any]:
    """Fit on all `decisions`, store the model; what it was trained on (JSON-ready), with
    the held-out figures of the same method on the same decisions (evaluate's 75/25 split),
    which the workspace shows beside how often reps agreed with the suggestions."""
    model = Suggester.fit(decisions)
    summary: dict[str, Any] = {
        "outcomes": dict(sorted(Counter(d.outcome for d in decisions).items())),
        "reasons": dict(sorted(Counter(d.reason for d in decisions if d.reason).items())),
    }
    if len(decisions) >= MIN_DECISIONS:
        figures = evaluate(decisions)
        summary["evaluation"] = {k: figures[k] for k in
                                 ("accuracy", "roc_auc_accept", "macro_f1", "split")}  # fmt: skip
    row = SuggestModel(
        created_at=utcnow(), decisions=len(decisions), library=LIBRARY, summary=summary,
        body=pickle.dumps(model, protocol=pickle.HIGHEST_PROTOCOL),
    )  # fmt: skip
    with db.bookkeeping() as s:
        model_id = store.save_model(s, row)
        created = row.created_at
    return {"model": model_id, "created_at": created.isoformat(), "decisions": len(decisions),
            "library": LIBRARY, **summary}  # fmt: skip


def load(db: Database) -> tuple[SuggestModel, Suggester]:
    """The latest model. The body is pickled by this server only (never taken from a
    client or a file), so reading it back is safe; a model made by another scikit-learn
    version is refused rather than trusted."""
    with db.read() as s:
        row = store.latest_model(s)
        if row is None:
            raise NoModel("no model yet: run `triage server suggest train`")
        s.expunge(row)
    if row.library != LIBRARY:
        raise NoModel(f"the model was made by {row.library}, this server has {LIBRARY}: "
                      "run `triage server suggest train` again")  # fmt: skip
    return row, pickle.loads(row.body)
