"""Server sync throughput on loopback, SQLite: pull 10,000 leads in pages of 500, push
10,000 mutations in batches of 500. Targets: pull <= 2 s, push <= 3 s, p95 request <= 150 ms.

Runs 3 times on a fresh database each time and prints the median of each figure.
Usage: python bench/server_sync.py [--leads 10000] [--runs 3] [--db-url URL]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
import uuid
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bench._util import median, p95, report  # noqa: E402
from tests.support.server import ServerProcess  # noqa: E402
from triage.server.service import Backend  # noqa: E402


def one_run(n: int, page: int, db_url: str | None) -> tuple[float, float, list[float]]:
    with tempfile.TemporaryDirectory() as d:
        db_url = db_url or f"sqlite:///{d}/server.db"
        backend = Backend.open(db_url)
        _, token, _ = backend.add_user(f"rep-{uuid.uuid4().hex[:6]}@example.com", None, "rep")
        email = backend.authenticate(token).email
        rows = [
            {
                "external_id": f"b-{uuid.uuid4().hex}",
                "name": f"Lead {i}",
                "email": f"l{i}@corp.example",
                "company": f"Corp {i % 97}",
                "campaign": f"c{i % 5}",
                "source": "webinar",
                "score": i % 100,
                "owner": email,
                "evidence_budget": "Form: $50k-100k",
            }  # fmt: skip
            for i in range(n)
        ]
        for i in range(0, n, 5000):
            backend.upsert_leads(rows[i : i + 5000])
        latencies: list[float] = []
        backend.close()
        with (
            ServerProcess(db_url) as srv,
            httpx.Client(
                base_url=srv.url, headers={"Authorization": f"Bearer {token}"}, timeout=60
            ) as client,
        ):
            client.get("/v1/health")  # open the connection
            client_id = str(uuid.uuid4())
            ids: list[str] = []
            cursor, t0 = 0, time.perf_counter()
            while True:
                t = time.perf_counter()
                r = client.get(
                    "/v1/sync/pull",
                    params={"cursor": cursor, "limit": page, "client_id": client_id},
                )
                body = r.json()
                latencies.append(time.perf_counter() - t)
                ids += [lead["id"] for lead in body["leads"]]
                cursor = body["cursor"]
                if not body["has_more"]:
                    break
            pull_s = time.perf_counter() - t0
            assert len(ids) == n, len(ids)
            at = "2026-11-22T10:00:00Z"
            muts = [
                {
                    "seq": i + 1,
                    "lead_id": lid,
                    "type": "decide",
                    "outcome": "reject",
                    "reason": "no_budget",
                    "note": None,
                    "at": at,
                    "base_version": 1,
                }  # fmt: skip
                for i, lid in enumerate(ids)
            ]
            t0 = time.perf_counter()
            for i in range(0, n, page):
                t = time.perf_counter()
                r = client.post(
                    "/v1/sync/push", json={"client_id": client_id, "mutations": muts[i : i + page]}
                )
                r.raise_for_status()
                latencies.append(time.perf_counter() - t)
                assert all(x["status"] == "applied" for x in r.json()["results"])
            push_s = time.perf_counter() - t0
        return pull_s, push_s, latencies


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--leads", type=int, default=10_000)
    ap.add_argument("--page", type=int, default=500)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--db-url", help="server database (default: a fresh SQLite file per run)")
    args = ap.parse_args()
    pulls, pushes, p95s = [], [], []
    for _ in range(args.runs):
        pull_s, push_s, lat = one_run(args.leads, args.page, args.db_url)
        pulls.append(pull_s)
        pushes.append(push_s)
        p95s.append(p95(lat))
    print(
        f"server sync, {args.leads} leads, pages/batches of {args.page}, median of {args.runs} runs"
    )
    ok = report(f"pull {args.leads} leads", median(pulls), 2.0)
    ok &= report(f"push {args.leads} mutations", median(pushes), 3.0)
    ok &= report("p95 request", median(p95s), 0.150, unit="ms")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
