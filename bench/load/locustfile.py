"""Locust users for bench/load/run.py (issue 13): reps that pull, decide and push, and a
marketing importer, against one or more `triage server run` instances.

A rep (RepUser): pulls its queue (every page), then decides one open lead a second on
average (each 0.5 to 1.5 s after the last; run.py starts the reps over 10 s) (accept,
reject with a reason, or nurture), pushes every 10 decisions, and pulls again
every minute. With TRIAGE_LOAD_THINK=0 (the stress phase) there is no wait at all.
The importer (ImporterUser, at most one): POST /v1/leads of TRIAGE_LOAD_IMPORT_BATCH new
leads every TRIAGE_LOAD_IMPORT_EVERY seconds.

Set by run.py: TRIAGE_LOAD_ACCOUNTS (a JSON file: hosts, rep tokens, the marketing
token, the reps' emails), TRIAGE_LOAD_RESULTS (where each user process writes what its
reps were told: applied mutations by client, for the exactly-once check).
Requests are named pull, push and import; a push whose results are not all `applied`
(or a duplicate of an applied one) counts as a failure.
"""

from __future__ import annotations

import itertools
import json
import os
import time
import uuid
from datetime import datetime, timezone
from pathlib import Path

from locust import FastHttpUser, between, constant, events, task

ACCOUNTS = json.loads(Path(os.environ["TRIAGE_LOAD_ACCOUNTS"]).read_text())
THINK = float(os.environ.get("TRIAGE_LOAD_THINK", "1"))
IMPORT_EVERY = float(os.environ.get("TRIAGE_LOAD_IMPORT_EVERY", "12"))
IMPORT_BATCH = int(os.environ.get("TRIAGE_LOAD_IMPORT_BATCH", "0"))
PUSH_EVERY = 10
PULL_EVERY = 60.0
OUTCOMES = (("accept", None), ("reject", "no_need"), ("nurture", "timing_later"))

_reps = itertools.count()
_imports = itertools.count()
APPLIED: dict[str, list[int]] = {}  # client_id -> seqs the server answered `applied` for


def _now() -> str:
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


class RepUser(FastHttpUser):
    # One decision a second on average, each 0.5 to 1.5 s after the last (a person is no
    # metronome: reps whose decisions kept in step would push in step, all run long).
    wait_time = between(0.5 * THINK, 1.5 * THINK) if THINK else constant(0)
    host = ACCOUNTS["hosts"][0]

    def on_start(self) -> None:
        n = next(_reps)
        tokens = ACCOUNTS["reps"]
        self.token = tokens[n % len(tokens)]
        self.base = ACCOUNTS["hosts"][n % len(ACCOUNTS["hosts"])]  # client-side round robin
        self.headers = {"Authorization": f"Bearer {self.token}"}
        self.client_id = str(uuid.uuid4())
        APPLIED[self.client_id] = []
        self.seq = 0
        self.cursor = 0
        self.open: dict[str, int] = {}  # lead id -> version
        self.outbox: list[dict] = []
        self.decided = 0
        self.last_pull = 0.0
        self.pull()

    def pull(self) -> None:
        while True:
            with self.client.get(
                f"{self.base}/v1/sync/pull", params={"cursor": self.cursor, "limit": 500},
                headers=self.headers, name="pull", catch_response=True,
            ) as r:  # fmt: skip
                if r.status_code != 200:
                    r.failure(f"pull {r.status_code}")
                    return
                body = r.json()
            for lead in body["leads"]:
                if lead.get("status", "open") == "open":
                    self.open[lead["id"]] = lead["version"]
                else:
                    self.open.pop(lead["id"], None)
            for lead_id in body.get("revoked", ()):
                self.open.pop(lead_id, None)
            self.cursor = body["cursor"]
            if not body.get("has_more"):
                break
        self.last_pull = time.monotonic()

    def push(self) -> None:
        if not self.outbox:
            return
        sent = self.outbox
        with self.client.post(
            f"{self.base}/v1/sync/push", json={"client_id": self.client_id, "mutations": sent},
            headers=self.headers, name="push", catch_response=True,
        ) as r:  # fmt: skip
            if r.status_code != 200:
                r.failure(f"push {r.status_code}")  # kept: sent again next time
                return
            results = r.json()["results"]
            bad = [x for x in results if x["status"] not in ("applied", "duplicate")
                   or (x["status"] == "duplicate" and x.get("stored") != "applied")]  # fmt: skip
            if bad:
                r.failure(f"push: {bad[0]['status']} {bad[0].get('error')}")
        APPLIED[self.client_id] += [x["seq"] for x in results if x["status"] == "applied"]
        self.outbox = []

    @task
    def decide(self) -> None:
        if not self.open:
            self.push()
            # An empty queue: pull as a rep's client does (every minute); with no think
            # time, once a second (a tight loop of pulls measured the pulls, not the pushes)
            if time.monotonic() - self.last_pull >= (PULL_EVERY if THINK else 1.0):
                self.pull()
            elif not THINK:
                time.sleep(0.2)  # gevent's: the other reps go on
            return
        lead_id, version = self.open.popitem()
        outcome, reason = OUTCOMES[self.decided % len(OUTCOMES)]
        self.seq += 1
        self.decided += 1
        mutation = {"seq": self.seq, "lead_id": lead_id, "type": "decide", "outcome": outcome,
                    "at": _now(), "base_version": version}  # fmt: skip
        if reason:
            mutation["reason"] = reason
        self.outbox.append(mutation)
        if len(self.outbox) >= PUSH_EVERY:
            self.push()
        if time.monotonic() - self.last_pull >= PULL_EVERY:
            self.pull()

    def on_stop(self) -> None:
        self.push()


class ImporterUser(FastHttpUser):
    """Marketing loading new leads for the reps, in turn, while they work."""

    fixed_count = 1
    abstract = not IMPORT_BATCH  # no importer: Locust would give it half the users
    wait_time = between(IMPORT_EVERY, IMPORT_EVERY)
    host = ACCOUNTS["hosts"][0]

    @task
    def load(self) -> None:
        if not IMPORT_BATCH:
            return
        k = next(_imports)
        owners = ACCOUNTS["emails"]
        rows = [{"external_id": f"load-{os.getpid()}-{k}-{i}", "name": f"Load {k} {i}",
                 "email": f"l{k}x{i}@load.example", "company": "Load Co", "source": "load",
                 "campaign": f"wave-{k}", "score": i % 101,
                 "owner": owners[(k * IMPORT_BATCH + i) % len(owners)]}
                for i in range(IMPORT_BATCH)]  # fmt: skip
        headers = {"Authorization": f"Bearer {ACCOUNTS['marketing']}"}
        with self.client.post(f"{self.host}/v1/leads", json={"leads": rows}, headers=headers,
                              name="import", catch_response=True) as r:  # fmt: skip
            if r.status_code != 200:
                r.failure(f"import {r.status_code}")


@events.quitting.add_listener
def _write_results(environment, **_kw) -> None:
    out = os.environ.get("TRIAGE_LOAD_RESULTS")
    if out:
        Path(out).write_text(json.dumps(APPLIED))
