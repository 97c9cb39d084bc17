"""The model of the team's decisions at scale, on synthetic decisions (the test factory's
leads, with evidence, activities and attributes, decided by a known rule with noise).

- Training: N decisions (default 100,000) read from a server database (SQLite: written
  straight into its table, as a push's INSERT ... SELECT leaves them), fitted
  (the outcome's and the reason's models) and stored, as `triage server suggest train`
  does. Target <= 30 s. Baseline: the same decisions' features built and vectorised
  (the model's front, without the regressions).
- Scoring: 10,000 open leads' snapshots to suggestions (features, the outcome's
  probabilities, the reason). Target <= 1 s. Baseline: the features alone.

Usage: python bench/suggest_speed.py [--decisions 100000] [--score 10000]
"""

from __future__ import annotations

import argparse
import random
import sys
import tempfile
import time
from datetime import datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bench._util import baseline, load_average, report  # noqa: E402
from tests.support.factories import NOW, make_lead  # noqa: E402
from triage.server.db import executemany, insert_rows  # noqa: E402
from triage.server.service import Backend  # noqa: E402
from triage.server.suggest import store  # noqa: E402
from triage.server.suggest.features import SNAPSHOT_FIELDS, snapshot  # noqa: E402
from triage.server.suggest.model import Suggester, as_features, front  # noqa: E402
from triage.server.suggest.train import train  # noqa: E402

PLANS = ("free", "pro", "team", "enterprise")
STAGES = ("subscriber", "lead", "mql")


def _snapshot(i: int, rng: random.Random) -> dict:
    lead = make_lead(i)
    snap = snapshot({
        "title": lead.title, "industry": lead.industry, "company_size": lead.company_size,
        "country": lead.country, "source": lead.source, "campaign": lead.campaign,
        "score": lead.score, "mql_at": lead.mql_at, "evidence": lead.evidence,
        "activities": [{"at": a.at.isoformat(), "kind": a.kind, "detail": a.detail}
                       for a in lead.activities],
        "attributes": {"plan": rng.choice(PLANS), "stage": rng.choice(STAGES),
                       "pageviews": rng.randrange(0, 200)},
    })  # fmt: skip
    return snap


def _decided(snap: dict, rng: random.Random) -> tuple[str, str | None]:
    if rng.random() < 0.1:
        return rng.choice((("accept", None), ("reject", "other"), ("nurture", "timing_later")))
    if snap["title"] == "Student":
        return "reject", "spam_or_student"
    if snap["score"] >= 60 or snap["attributes"]["plan"] == "enterprise":
        return "accept", None
    if snap["source"] == "content":
        return "nurture", "early_research"
    return "reject", "no_budget"


def _fill(backend: Backend, n: int) -> None:
    """n decisions straight into the snapshot table (a push writes the same rows)."""
    rng = random.Random(14)
    backend.upsert_leads([{"external_id": "bench-1", "name": "Bench", "email": "b@x.example"}])
    lead_id = backend.lead("bench-1")["id"]
    rows = []
    for i in range(n):
        snap = _snapshot(i, rng)
        outcome, reason = _decided(snap, rng)
        snap["mql_at"] = datetime.fromisoformat(snap["mql_at"])
        rows.append({**dict.fromkeys(SNAPSHOT_FIELDS), "activities": [], "evidence": {}, **snap,
                     "seq": i + 1, "lead_id": lead_id, "decision_id": f"bench:{i}",
                     "outcome": outcome, "reason": reason,
                     "decided_at": NOW + timedelta(minutes=i)})  # fmt: skip
    insert = insert_rows(store.TABLE, tuple(c.name for c in store.TABLE.columns))
    with backend.db.write() as s:
        for start in range(0, n, 5000):
            executemany(s, insert, rows[start : start + 5000])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--decisions", type=int, default=100_000)
    parser.add_argument("--score", type=int, default=10_000)
    args = parser.parse_args()
    print(f"suggest speed: {args.decisions:,} decisions, {args.score:,} leads scored; "
          f"{load_average()}")  # fmt: skip
    ok = True
    with tempfile.TemporaryDirectory() as tmp:
        backend = Backend.open(f"sqlite:///{tmp}/server.db")
        try:
            _fill(backend, args.decisions)
            start = time.perf_counter()
            with backend.db.read() as s:
                decisions = store.decisions(s)
            done = train(backend.db, decisions)
            took = time.perf_counter() - start
        finally:
            backend.close()
    ok &= report(f"train on {done['decisions']:,} decisions (read, fit, store)", took, 30.0)
    start = time.perf_counter()
    front().fit_transform([as_features(d) for d in decisions])
    baseline("features and vectorising alone", time.perf_counter() - start, took)

    model = Suggester.fit(decisions[: min(len(decisions), 20_000)])
    rng = random.Random(99)
    fresh = [_snapshot(10_000_000 + i, rng) for i in range(args.score)]
    start = time.perf_counter()
    X = [as_features(store.Decision(snap, "")) for snap in fresh]
    matrix = model.matrix(X)
    proba = model.probabilities(X, matrix)
    reasons = model.reasons(X, matrix)
    took = time.perf_counter() - start
    assert len(proba) == len(reasons) == args.score
    ok &= report(f"score {args.score:,} leads (features, outcome, reason)", took, 1.0)
    start = time.perf_counter()
    [as_features(store.Decision(snap, "")) for snap in fresh]
    baseline("their features alone", time.perf_counter() - start, took)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
