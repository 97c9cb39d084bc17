"""The model of the team's decisions at scale, on synthetic decisions (the test factory's
leads, with evidence, activities and attributes, decided by a known rule with noise).

- Training: N decisions (default 100,000) read from a server database (SQLite: written
  straight into its table, as a push's INSERT ... SELECT leaves them), fitted
  (the outcome's and the reason's models) and stored, as `triage server suggest train`
  does. Target <= 30 s. Baseline: the same decisions' features built and vectorised
  (the model's front, without the regressions).
- Scoring: 10,000 open leads' snapshots to suggestions (features, the outcome's
  probabilities, the reason). Target <= 1 s. Baseline: the features alone.
- Import: 10,000 leads for a rep, written as `triage server import` writes them (chunks of
  1,000, each chunk's new leads scored in one batch), with a trained model. Baseline: the
  same import without a model (no suggestions). No target: the figure says what scoring
  adds to an import.
- Pull: a rep's 10,000 leads, each with a suggestion (the policy's threshold at 0), pulled
  over HTTP from `triage server run` in pages of 500 (suggestions as lists, as this
  client asks: "suggestion_list"), against the same leads imported without a model (no
  suggestion stored or sent) from a second server. Then the same as the rep's client
  does it: a first sync (`run_once`, as `triage sync` calls it) into a fresh store. Each
  in 11 pairs (with, without; which goes first alternates); the figure is the median of
  the pairs' ratios. Target for both: no slower than 10% over the pull without
  (<= 1.10 x). The setup's heap (the 20,000-decision history, the model) is frozen out
  of the collector before the timed part: a rep's process holds none of it, and a full
  collection that walks it (75 ms
  measured, in about one pull in two) was the bench's cost, not the pull's.

Usage: python bench/suggest_speed.py [--decisions 100000] [--score 10000] [--pull 10000]
       [--only pull]
"""

from __future__ import annotations

import argparse
import dataclasses
import gc
import random
import sys
import tempfile
import time
from datetime import datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
import httpx  # noqa: E402

from bench._util import baseline, load_average, median, report  # noqa: E402
from tests.support.factories import NOW, make_lead  # noqa: E402
from tests.support.server import ServerProcess  # noqa: E402
from triage import domain  # noqa: E402
from triage.server.db import executemany, insert_rows  # noqa: E402
from triage.server.service import Backend  # noqa: E402
from triage.server.suggest import store  # noqa: E402
from triage.server.suggest.features import SNAPSHOT_FIELDS, snapshot  # noqa: E402
from triage.server.suggest.model import Suggester, as_features, front  # noqa: E402
from triage.server.suggest.train import train  # noqa: E402
from triage.sync.runner import run_once  # noqa: E402

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
                     "outcome": outcome, "reason": reason, "suggestion": None,
                     "suggestion_threshold": None,
                     "decided_at": NOW + timedelta(minutes=i)})  # fmt: skip
    insert = insert_rows(store.TABLE, tuple(c.name for c in store.TABLE.columns))
    with backend.db.write() as s:
        for start in range(0, n, 5000):
            executemany(s, insert, rows[start : start + 5000])


def _rows(n: int, owner: str, start: int = 0) -> list[dict]:
    """Import rows of the test factory's leads (with evidence) for `owner`."""
    rows = []
    for i in range(start, start + n):
        lead = make_lead(i)
        rows.append({
            "external_id": f"pull-{i}", "name": lead.name, "email": lead.email,
            "title": lead.title, "company": lead.company, "industry": lead.industry,
            "company_size": lead.company_size, "country": lead.country, "source": lead.source,
            "campaign": lead.campaign, "score": lead.score, "owner": owner,
            "evidence_budget": lead.evidence.get("budget", ""),
            "evidence_need": lead.evidence.get("need", ""),
        })  # fmt: skip
    return rows


def _history(n: int) -> list[store.Decision]:
    rng = random.Random(14)
    out = []
    for i in range(n):
        snap = _snapshot(i, rng)
        outcome, reason = _decided(snap, rng)
        out.append(store.Decision(snap, outcome, reason))
    return out


def _import(url: str, rows: list[dict]) -> float:
    """The time of importing `rows`, after a first import of one lead (which loads the model
    and scikit-learn, once a process: about a second here)."""
    backend = Backend.open(url)
    try:
        backend.import_leads(_rows(1, "rep@example.com", start=10**7))
        start = time.perf_counter()
        backend.import_leads(rows)
        return time.perf_counter() - start
    finally:
        backend.close()


def _pulled(client: httpx.Client, page: int) -> tuple[float, int]:
    """The rep's whole queue from cursor 0: the time, and how many carried a suggestion."""
    cursor, shown, t0 = 0, 0, time.perf_counter()
    while True:
        params = {"cursor": cursor, "limit": page, "suggestion": "list"}  # as the client asks
        body = client.get("/v1/sync/pull", params=params).json()
        shown += sum("suggestion" in lead for lead in body["leads"])
        cursor = body["cursor"]
        if not body["has_more"]:
            return time.perf_counter() - t0, shown


def bench_import_and_pull(n: int, runs: int = 11, page: int = 500) -> bool:
    """Import n leads with and without a model (two databases); then pull each database's
    leads from its own `triage server run`, in turns."""
    ok = True
    with tempfile.TemporaryDirectory() as tmp:
        plain, url = f"sqlite:///{tmp}/plain.db", f"sqlite:///{tmp}/server.db"
        tokens = {}
        for db in (plain, url):
            backend = Backend.open(db)
            tokens[db] = backend.add_user("rep@example.com", None, "rep")[1]
            if db == url:  # threshold 0: every lead carries its suggestion (the most a pull sends)
                train(backend.db, _history(20_000))
                backend.set_policy(
                    dataclasses.replace(backend.policy(), suggestions=domain.Suggestions(True, 0.0))
                )
            backend.close()
        without = _import(plain, _rows(n, "rep@example.com"))
        t0 = time.perf_counter()
        took = _import(url, _rows(n, "rep@example.com"))
        print(f"    (with the model's first load: {time.perf_counter() - t0:.3f} s)")
        print(
            f"  {'import ' + format(n, ',') + ' leads for a rep, with suggestions':<46} "
            f"{took:>12.3f} s   (no target: the cost of scoring in the import path)"
        )
        baseline("the same import without a model", without, took)
        gc.collect()
        gc.freeze()  # the setup's heap: see the module's docstring
        with ServerProcess(url) as scored, ServerProcess(plain) as bare:
            clients = {
                db: httpx.Client(base_url=srv.url, timeout=60,
                                 headers={"Authorization": f"Bearer {tokens[db]}"})
                for db, srv in ((url, scored), (plain, bare))
            }  # fmt: skip
            for client in clients.values():
                client.get("/v1/health")

            def pull(db: str, i: int) -> float:
                took, carried = _pulled(clients[db], page)
                assert (carried > n) if db == url else carried == 0, carried  # (+ warm-up lead)
                return took

            pulls = _paired(pull, url, plain, runs)
            for client in clients.values():
                client.close()
            servers = {url: scored.url, plain: bare.url}

            def sync(db: str, i: int) -> float:
                t0 = time.perf_counter()
                result = run_once(Path(tmp) / f"rep-{i}-{db == url}.db", servers[db], tokens[db])
                took = time.perf_counter() - t0
                assert result.ok and result.pulled == n + 1, result
                return took

            syncs = _paired(sync, url, plain, runs)
    gc.unfreeze()
    for label, (with_s, without_s, ratio) in (
        (f"pull {n:,} leads with suggestions", pulls),
        ("the rep's first sync of them", syncs),
    ):
        ok &= report(f"{label}: x the same without", ratio, 1.10, unit="x")
        print(f"    medians of {runs}: {with_s:.3f} s with, {without_s:.3f} s without "
              f"(ratio of the medians {with_s / without_s:.3f})")  # fmt: skip
    return ok


def _paired(measure, with_db: str, without_db: str, runs: int) -> tuple[float, float, float]:
    """`runs` pairs of measures, one with suggestions and one without, in turns (which goes
    first alternates): the medians of each, and the median of the pairs' ratios (a pair
    shares the machine's load of its moment, which drifts more than the difference)."""
    withs, withouts, ratios = [], [], []
    for i in range(runs):
        order = (with_db, without_db) if i % 2 == 0 else (without_db, with_db)
        took = {db: measure(db, i) for db in order}
        withs.append(took[with_db])
        withouts.append(took[without_db])
        ratios.append(took[with_db] / took[without_db])
    print(f"    the pairs' ratios: {' '.join(f'{r:.2f}' for r in sorted(ratios))}")
    return median(withs), median(withouts), median(ratios)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--decisions", type=int, default=100_000)
    parser.add_argument("--score", type=int, default=10_000)
    parser.add_argument("--pull", type=int, default=10_000)
    parser.add_argument("--only", choices=["pull"], help="only the import and the pull")
    args = parser.parse_args()
    print(f"suggest speed: {args.decisions:,} decisions, {args.score:,} leads scored, "
          f"{args.pull:,} pulled; {load_average()}")  # fmt: skip
    if args.only == "pull":
        return 0 if bench_import_and_pull(args.pull) else 1
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
    start = time.perf_counter()
    made = model.suggest(fresh)
    took = time.perf_counter() - start
    assert len(made) == args.score
    ok &= report(f"suggest for {args.score:,} leads (with their factors)", took, 1.0)
    if args.only is None:
        ok &= bench_import_and_pull(args.pull)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
