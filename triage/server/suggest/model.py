"""The model of the team's decisions (scikit-learn): a logistic regression over the
features of each decision (features.py), one for the outcome and one for a rejection's
reason.

The pipeline: numbers squashed (sign * log(1 + |x|)) and also put in quantile bins
learned from the training decisions (so the linear model can bend with them), one-hot
categories, columns seen in fewer than MIN_COUNT training decisions dropped (an id or a
one-off value teaches nothing), scaled into [-1, 1], then a regularised logistic
regression. Chosen over gradient boosting for its speed on sparse one-hot features, its
calibrated probabilities and its readable weights (the factors of a suggestion).
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.feature_extraction import DictVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import MaxAbsScaler

from triage.server.suggest.features import features
from triage.server.suggest.store import Decision

MIN_COUNT = 3
BINS = 16
SEED = 14
Features = Mapping[str, Any]


def squash(x: float) -> float:
    return math.copysign(math.log1p(abs(x)), x)


class Prepare(BaseEstimator, TransformerMixin):
    """Feature dicts in, feature dicts out: each number squashed, and its quantile bin
    (edges from the training data) added as a category."""

    def __init__(self, bins: int = BINS):
        self.bins = bins

    def fit(self, X: Sequence[Features], y: Any = None) -> Prepare:
        values: dict[str, list[float]] = {}
        for row in X:
            for k, v in row.items():
                if not isinstance(v, str):
                    values.setdefault(k, []).append(float(v))
        self.edges_ = {}
        for k, vs in values.items():
            edges = np.unique(np.quantile(vs, np.linspace(0, 1, self.bins + 1)[1:-1]))
            if len(set(vs)) > 2 and len(edges):
                self.edges_[k] = edges
        return self

    def transform(self, X: Sequence[Features]) -> list[dict[str, Any]]:
        out = []
        for row in X:
            made: dict[str, Any] = {}
            for k, v in row.items():
                if isinstance(v, str):
                    made[k] = v
                    continue
                made[k] = squash(float(v))
                edges = self.edges_.get(k)
                if edges is not None:
                    made[f"{k}#bin"] = str(int(np.searchsorted(edges, float(v), side="right")))
            out.append(made)
        return out


class Frequent(BaseEstimator, TransformerMixin):
    """Keeps the columns that are non-zero in at least `min_count` training rows."""

    def __init__(self, min_count: int = MIN_COUNT):
        self.min_count = min_count

    def fit(self, X: Any, y: Any = None) -> Frequent:
        counts = np.asarray((X != 0).sum(axis=0)).ravel()
        self.keep_ = np.flatnonzero(counts >= self.min_count)
        return self

    def transform(self, X: Any) -> Any:
        return X[:, self.keep_]


def pipeline(c: float = 0.5) -> Pipeline:
    return Pipeline([
        ("prepare", Prepare()),
        ("vectorize", DictVectorizer(sparse=True)),
        ("frequent", Frequent()),
        ("scale", MaxAbsScaler()),
        ("model", LogisticRegression(C=c, max_iter=2000)),
    ])  # fmt: skip


@dataclass
class Suggester:
    """The trained pipelines: the outcome's, and the reason's (None when the rejections
    name fewer than two reasons)."""

    outcome: Pipeline | None
    reason: Pipeline | None
    only: str | None = None  # every training decision had this outcome (no model)

    @classmethod
    def fit(cls, decisions: Sequence[Decision]) -> Suggester:
        X = [as_features(d) for d in decisions]
        y = [d.outcome for d in decisions]
        if len(set(y)) < 2:
            return cls(None, None, only=y[0] if y else None)
        outcome = pipeline().fit(X, y)
        rejected = [(x, d.reason) for x, d in zip(X, decisions, strict=True)
                    if d.outcome == "reject" and d.reason]  # fmt: skip
        reasons = Counter(r for _, r in rejected)
        reason = None
        if len(reasons) >= 2:
            reason = pipeline().fit([x for x, _ in rejected], [r for _, r in rejected])
        return cls(outcome, reason)

    @property
    def classes(self) -> list[str]:
        if self.outcome is None:
            return [self.only] if self.only else []
        return [str(c) for c in self.outcome.classes_]

    def probabilities(self, X: Sequence[Features]) -> np.ndarray:
        """Each row's probability of each outcome (columns in `classes` order)."""
        if self.outcome is None:
            return np.ones((len(X), 1))
        return self.outcome.predict_proba(X)

    def reasons(self, X: Sequence[Features]) -> list[str | None]:
        if self.reason is None or not X:
            return [None] * len(X)
        return [str(r) for r in self.reason.predict(X)]


def as_features(d: Decision) -> dict[str, Any]:
    return features(d.snapshot, d.at)
