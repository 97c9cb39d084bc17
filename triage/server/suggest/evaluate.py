"""How good the model of the team's decisions is, measured on decisions it never saw.

The split: 75/25, stratified by outcome, with a fixed seed; time-ordered instead (the
latest quarter held out) when the decisions have dates (a map's [history] date). The
figures: accuracy, ROC AUC of accept versus the rest, macro-F1 over the outcomes, the
Brier score of accept versus the rest, precision and recall per outcome, and beside them
the majority class's accuracy (always answering the training set's most common outcome).

It refuses fewer than MIN_DECISIONS decisions, and warns when one feature alone predicts
the held-out outcomes almost perfectly: a column written after the decision (leakage).
"""

from __future__ import annotations

import bisect
import math
from collections import Counter
from collections.abc import Sequence
from typing import Any

import numpy as np
from sklearn.metrics import (
    accuracy_score,
    brier_score_loss,
    f1_score,
    precision_recall_fscore_support,
    roc_auc_score,
)
from sklearn.model_selection import train_test_split

from triage.server.suggest.model import SEED, Suggester, as_features
from triage.server.suggest.store import Decision

MIN_DECISIONS = 200
TEST_SIZE = 0.25
# One feature alone this good on held-out decisions is a leak: an accuracy of 0.95, or
# 60% of the majority class's errors gone (on X Education, `Tags`, a rep's disposition,
# alone removes 70%; the best column known at triage time, the time on the website, 32%).
LEAK_ACCURACY = 0.95
LEAK_ERRORS_GONE = 0.60
ACCEPT = "accept"


class TooFew(Exception):
    """Fewer decisions than an evaluation (or a training) can stand on; says how many."""


def enough(decisions: Sequence[Decision], doing: str) -> None:
    if len(decisions) < MIN_DECISIONS:
        raise TooFew(
            f"{len(decisions)} decision(s) with their features; {doing} needs at least "
            f"{MIN_DECISIONS}"
        )


def split(decisions: Sequence[Decision], by_time: bool) -> tuple[list[int], list[int], dict]:
    """(train indexes, test indexes, how the split was made)."""
    n = len(decisions)
    if by_time:
        order = sorted(range(n), key=lambda i: (decisions[i].at is None, decisions[i].at, i))
        cut = n - math.ceil(n * TEST_SIZE)  # as train_test_split counts
        train, test = order[:cut], order[cut:]
        how = {"method": "time-ordered", "held_out": "the latest 25%"}
    else:
        labels = [d.outcome for d in decisions]
        stratify = labels if min(Counter(labels).values()) >= 2 else None
        train, test = train_test_split(
            list(range(n)), test_size=TEST_SIZE, random_state=SEED, stratify=stratify
        )
        how = {"method": "stratified" if stratify else "random", "seed": SEED}
    return list(train), list(test), {**how, "test_size": TEST_SIZE, "train": len(train),
                                     "test": len(test)}  # fmt: skip


def evaluate(decisions: Sequence[Decision], *, by_time: bool = False) -> dict[str, Any]:
    """The figures (JSON-ready) of a model trained on 75% of `decisions`, tested on the
    rest. Raises TooFew under MIN_DECISIONS."""
    enough(decisions, "an evaluation")
    train_i, test_i, how = split(decisions, by_time)
    train = [decisions[i] for i in train_i]
    test = [decisions[i] for i in test_i]
    X_train = [as_features(d) for d in train]
    X_test = [as_features(d) for d in test]
    y_train = [d.outcome for d in train]
    y_test = [d.outcome for d in test]
    model = Suggester.fit(train)
    proba = model.probabilities(X_test)
    classes = model.classes
    predicted = [classes[i] for i in proba.argmax(axis=1)]
    majority = Counter(y_train).most_common(1)[0][0]
    outcomes = sorted(set(y_train) | set(y_test))
    figures = _figures(y_test, predicted, proba, classes, outcomes)
    return {
        "decisions": len(decisions),
        "outcomes": dict(sorted(Counter(d.outcome for d in decisions).items())),
        "split": how,
        "model": "logistic regression (triage.server.suggest.model)",
        **figures,
        "majority_baseline": {
            "outcome": majority,
            "accuracy": _r(accuracy_score(y_test, [majority] * len(y_test))),
        },
        "reason": _reason_figures(model, X_test, test),
        "warnings": leaks(X_train, y_train, X_test, y_test),
    }


def _figures(
    y: list[str], predicted: list[str], proba: np.ndarray, classes: list[str], outcomes: list[str]
) -> dict[str, Any]:
    is_accept = np.array([v == ACCEPT for v in y])
    p_accept = proba[:, classes.index(ACCEPT)] if ACCEPT in classes else np.zeros(len(y))
    both = 0 < is_accept.sum() < len(y)
    precision, recall, _, support = precision_recall_fscore_support(
        y, predicted, labels=outcomes, zero_division=0
    )
    return {
        "accuracy": _r(accuracy_score(y, predicted)),
        "roc_auc_accept": _r(roc_auc_score(is_accept, p_accept)) if both else None,
        "macro_f1": _r(f1_score(y, predicted, labels=outcomes, average="macro", zero_division=0)),
        "brier_accept": _r(brier_score_loss(is_accept, p_accept)) if len(y) else None,
        "per_class": {
            o: {"precision": _r(p), "recall": _r(r), "support": int(s)}
            for o, p, r, s in zip(outcomes, precision, recall, support, strict=True)
        },
    }


def _reason_figures(model: Suggester, X_test: list, test: list[Decision]) -> dict[str, Any] | None:
    """How often the suggested reason is the rep's, on held-out rejections with a reason."""
    which = [i for i, d in enumerate(test) if d.outcome == "reject" and d.reason]
    if model.reason is None or not which:
        return None
    got = model.reasons([X_test[i] for i in which])
    truth = [test[i].reason for i in which]
    top = Counter(d.reason for d in test if d.outcome == "reject" and d.reason).most_common(1)
    return {
        "rejections": len(which),
        "accuracy": _r(accuracy_score(truth, got)),
        "majority_accuracy": _r(top[0][1] / len(which)),
    }


def leaks(
    X_train: list[dict[str, Any]], y_train: list[str], X_test: list[dict[str, Any]],
    y_test: list[str],
) -> list[str]:  # fmt: skip
    """A warning for each feature that alone predicts the held-out outcomes almost
    perfectly (each value, or each decile of a number, answering the outcome most common
    with it in training): an accuracy of LEAK_ACCURACY, or LEAK_ERRORS_GONE of the
    majority class's errors gone; none when the majority class is that good already."""
    if not y_test:
        return []
    majority = Counter(y_train).most_common(1)[0][0]
    baseline = sum(v == majority for v in y_test) / len(y_test)
    if baseline >= LEAK_ACCURACY:
        return []
    # A feature present in fewer rows than it would need to set right cannot be one (and a
    # history has thousands of rare ones: evidence words, one-off values).
    present = Counter(k for row in X_train for k in row)
    errors = 1 - Counter(y_train).most_common(1)[0][1] / len(y_train)
    least = 0.5 * errors * len(X_train)
    found = []
    for name in sorted(k for k, n in present.items() if n >= least):
        key = _keyer([row.get(name) for row in X_train])
        by_value: dict[Any, Counter] = {}
        for row, label in zip(X_train, y_train, strict=True):
            by_value.setdefault(key(row.get(name)), Counter())[label] += 1
        answer = {v: c.most_common(1)[0][0] for v, c in by_value.items()}
        right = sum(
            answer.get(key(row.get(name)), majority) == label
            for row, label in zip(X_test, y_test, strict=True)
        )
        accuracy = right / len(y_test)
        gone = 1 - (1 - accuracy) / (1 - baseline)
        if accuracy >= LEAK_ACCURACY or gone >= LEAK_ERRORS_GONE:
            found.append(
                f"{name} alone predicts {accuracy:.0%} of the held-out outcomes (the majority "
                f"class {baseline:.0%}; {gone:.0%} of its errors gone): is it written after "
                "the decision? A model that learns from it will not help at triage time "
                "(leakage)"
            )
    return found


def _keyer(values: list[Any]) -> Any:
    """How a feature's values are grouped: numbers by decile, the rest as they are."""
    numbers = [v for v in values if isinstance(v, int | float)]
    if not numbers:
        return lambda v: v
    edges = [float(e) for e in np.unique(np.quantile(numbers, np.linspace(0, 1, 11)[1:-1]))]
    return lambda v: bisect.bisect_right(edges, v) if isinstance(v, int | float) else v


def _r(x: float) -> float:
    return round(float(x), 4)
