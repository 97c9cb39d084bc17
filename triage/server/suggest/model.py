"""The model of the team's decisions (scikit-learn): a logistic regression over the
features of each decision (features.py), one for the outcome and one for a rejection's
reason.

The pipeline: numbers squashed (sign * log(1 + |x|)) and also put in quantile bins
learned from the training decisions (so the linear model can bend with them), one-hot
categories, columns seen in fewer than MIN_COUNT training decisions dropped (an id or a
one-off value teaches nothing), scaled into [-1, 1] (one front for both models), then a
regularised logistic regression each. Chosen over gradient boosting for its speed on sparse one-hot features, its
calibrated probabilities and its readable weights (the factors of a suggestion).
"""

from __future__ import annotations

import bisect
import math
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy import sparse
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import MaxAbsScaler

from triage.server.suggest.features import factor_label, features
from triage.server.suggest.store import Decision

MIN_COUNT = 3
BINS = 16
SEED = 14
Features = Mapping[str, Any]


def squash(x: float) -> float:
    return math.copysign(math.log1p(abs(x)), x)


class Vectorizer(BaseEstimator, TransformerMixin):
    """Feature dicts to a sparse matrix in one pass: a category as a one-hot column
    (`source=webinar`), a number squashed into its own column and its quantile bin (edges
    from the training data) as a one-hot column (`score#bin=3`); a category or number
    seen in fewer than `min_count` training rows has no column."""

    def __init__(self, bins: int = BINS, min_count: int = MIN_COUNT):
        self.bins = bins
        self.min_count = min_count

    def fit(self, X: Sequence[Features], y: Any = None) -> Vectorizer:
        counts: Counter = Counter()
        numbers: dict[str, list[float]] = {}
        for row in X:
            for k, v in row.items():
                if isinstance(v, str):
                    counts[f"{k}={v}"] += 1
                else:
                    numbers.setdefault(k, []).append(float(v))
        self.edges_: dict[str, list[float]] = {}
        names = [name for name, n in counts.items() if n >= self.min_count]
        for k, vs in numbers.items():
            if len(vs) < self.min_count:
                continue
            names.append(k)
            cuts = np.quantile(vs, np.linspace(0, 1, self.bins + 1)[1:-1])
            edges = [float(e) for e in np.unique(cuts)]
            if len(set(vs)) > 2 and edges:
                self.edges_[k] = edges
                names += [f"{k}#bin={b}" for b in range(len(edges) + 1)]
        self.names_ = sorted(names)
        self.vocabulary_ = {name: i for i, name in enumerate(self.names_)}
        return self

    def transform(self, X: Sequence[Features]) -> Any:
        vocab, edges = self.vocabulary_, self.edges_
        indptr, indices, data = [0], [], []
        for row in X:
            for k, v in row.items():
                if isinstance(v, str):
                    col = vocab.get(f"{k}={v}")
                    if col is not None:
                        indices.append(col)
                        data.append(1.0)
                    continue
                col = vocab.get(k)
                if col is None:
                    continue
                indices.append(col)
                data.append(squash(float(v)))
                cuts = edges.get(k)
                if cuts is not None:
                    indices.append(vocab[f"{k}#bin={bisect.bisect_right(cuts, float(v))}"])
                    data.append(1.0)
            indptr.append(len(indices))
        shape = (len(indptr) - 1, len(vocab))
        return sparse.csr_matrix((data, indices, indptr), shape=shape, dtype=np.float64)


def front() -> Pipeline:
    """What turns feature dicts into the regressions' input."""
    return Pipeline([("vectorize", Vectorizer()), ("scale", MaxAbsScaler())])


def regression(c: float = 0.5) -> LogisticRegression:
    return LogisticRegression(C=c, max_iter=2000)


@dataclass
class Suggester:
    """The trained model: one front (vectoriser and scaling) for two regressions, the
    outcome's and the reason's (None when the rejections name fewer than two reasons)."""

    front: Pipeline | None
    outcome: LogisticRegression | None
    reason: LogisticRegression | None
    only: str | None = None  # every training decision had this outcome (no model)

    @classmethod
    def fit(cls, decisions: Sequence[Decision]) -> Suggester:
        y = [d.outcome for d in decisions]
        if len(set(y)) < 2:
            return cls(None, None, None, only=y[0] if y else None)
        made = front()
        X = made.fit_transform([as_features(d) for d in decisions])
        outcome = regression().fit(X, y)
        rejected = [i for i, d in enumerate(decisions) if d.outcome == "reject" and d.reason]
        reasons = [decisions[i].reason for i in rejected]
        reason = None
        if len(set(reasons)) >= 2:
            reason = regression().fit(X[rejected], reasons)
        return cls(made, outcome, reason)

    @property
    def classes(self) -> list[str]:
        if self.outcome is None:
            return [self.only] if self.only else []
        return [str(c) for c in self.outcome.classes_]

    def matrix(self, X: Sequence[Features]) -> Any:
        """The regressions' input for these feature dicts (for probabilities and reasons)."""
        return None if self.front is None else self.front.transform(X)

    def probabilities(self, X: Sequence[Features], matrix: Any = None) -> np.ndarray:
        """Each row's probability of each outcome (columns in `classes` order)."""
        if self.outcome is None:
            return np.ones((len(X), 1))
        return self.outcome.predict_proba(self.matrix(X) if matrix is None else matrix)

    def reasons(self, X: Sequence[Features], matrix: Any = None) -> list[str | None]:
        if self.reason is None or not len(X):
            return [None] * len(X)
        return [str(r) for r in self.reason.predict(self.matrix(X) if matrix is None else matrix)]

    def suggest(self, snaps: Sequence[Features], factors: int = 3) -> list[dict[str, Any] | None]:
        """A suggestion for each lead (its snapshot, features.snapshot): the likeliest
        outcome, a rejection's likeliest reason, the outcome's probability as confidence,
        and the `factors` columns that push most towards that outcome, as a rep reads them.
        None for every lead when the model learned a single outcome (it knows nothing)."""
        if self.outcome is None or self.front is None or not len(snaps):
            return [None] * len(snaps)
        matrix = self.matrix([features(snap) for snap in snaps]).tocsr()
        proba = self.outcome.predict_proba(matrix)
        best = proba.argmax(axis=1)
        reasons = self.reasons(snaps, matrix)
        weights = self._weights()
        names = self.front.named_steps["vectorize"].names_
        out: list[dict[str, Any] | None] = []
        for i, snap in enumerate(snaps):
            k = int(best[i])
            outcome = str(self.outcome.classes_[k])
            at = slice(matrix.indptr[i], matrix.indptr[i + 1])
            columns = matrix.indices[at]
            pushes = matrix.data[at] * weights[k, columns]
            top: dict[str, float] = {}
            for j in np.argsort(-pushes):
                if pushes[j] <= 0 or len(top) >= factors:
                    break
                label = factor_label(names[columns[j]], snap)
                top.setdefault(label, float(pushes[j]))
            out.append({
                "outcome": outcome,
                "reason": reasons[i] if outcome == "reject" else None,
                "confidence": round(float(proba[i, k]), 3),
                "factors": list(top),
            })  # fmt: skip
        return out

    def _weights(self) -> np.ndarray:
        """Each outcome's weights (rows in `classes` order), against the other outcomes'
        mean: what moves a lead towards that outcome rather than the others."""
        assert self.outcome is not None
        coef = self.outcome.coef_
        if coef.shape[0] == 1:  # two outcomes: one row, for the second class
            return np.vstack([-coef[0], coef[0]])
        return coef - coef.mean(axis=0)


def as_features(d: Decision) -> dict[str, Any]:
    return features(d.snapshot, d.at)
