"""Background retraining in `triage server run`: the model of the team's decisions is made
again when `after` new decisions (500) have come in since it was trained, or when it is
`every` old (a day) and any has come in, by one instance at a time.

On by default, but it never makes the first model: a team turns suggestions on on purpose
(`triage server suggest train`, after `evaluate`), and from then on the model keeps up
with the reps' decisions by itself. TRIAGE_RETRAIN=off turns it off in an instance;
TRIAGE_RETRAIN="after=1000,every=12h" changes when (`every=0`: never by age).

The check is one read of two counts, every `poll` seconds; a due retrain is leased in the
database (table `joblease`, row `retrain`: the instance and until when), so several
instances over one database retrain once, and a lease left by an instance that died runs
out. The job's thread checks and leases; the training itself runs in a process of its own
(`train_in_child`: a fresh interpreter given the database's URL on stdin, never in its
arguments, which any user of the machine can read), so the server's requests never queue
behind it: building 100,000 decisions' features holds the GIL for seconds, and a thread
of the server's would hold it from them. The clock and the trainer are injectable, so the
tests run days in a moment.

No scikit-learn in the server's process at all: only the child imports it.
"""

from __future__ import annotations

import importlib
import json
import logging
import os
import subprocess
import sys
import threading
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.dialects import postgresql, sqlite

from triage.server.db import Database
from triage.server.models_suggest import DecisionFeatures, JobLease, SuggestModel

ENV = "TRIAGE_RETRAIN"
JOB = "retrain"
log = logging.getLogger("triage.server.retrain")


def _seconds(text: str) -> float:
    units = {"s": 1, "m": 60, "h": 3600, "d": 86400}
    text = text.strip().lower()
    if text and text[-1] in units:
        return float(text[:-1]) * units[text[-1]]
    return float(text)


@dataclass(frozen=True)
class RetrainSettings:
    enabled: bool = True
    after: int = 500  # new decisions since the model
    every: float = 86400.0  # seconds; 0: never by age
    poll: float = 60.0  # seconds between two checks
    lease: float = 3600.0  # seconds an instance holds the job (longer than a training)

    @classmethod
    def from_env(cls, text: str | None) -> RetrainSettings:
        """`off`, `on`, or `after=N,every=24h,poll=60s,lease=1h`; anything else: ValueError
        naming the variable (the server does not start on a typo)."""
        text = (text or "").strip()
        if text.lower() in ("", "on"):
            return cls()
        if text.lower() == "off":
            return cls(enabled=False)
        values: dict[str, Any] = {}
        for part in text.split(","):
            key, sep, value = part.partition("=")
            key = key.strip()
            try:
                if not sep or key not in ("after", "every", "poll", "lease"):
                    raise ValueError
                values[key] = int(value) if key == "after" else _seconds(value)
            except ValueError:
                raise ValueError(
                    f"{ENV}: {part.strip()!r} is not off, on, after=N, every=24h, poll=60s "
                    "or lease=1h"
                ) from None
        made = cls(**values)
        if made.after < 1 or made.every < 0 or made.poll <= 0 or made.lease <= 0:
            raise ValueError(f"{ENV}: after >= 1, every >= 0, poll and lease > 0")
        return made


def _utc(dt: datetime | None) -> datetime | None:
    if dt is None or dt.tzinfo is not None:
        return dt
    return dt.replace(tzinfo=timezone.utc)


class Retrainer:
    """One instance's retraining job over `db`."""

    def __init__(
        self,
        db: Database,
        settings: RetrainSettings | None = None,
        *,
        owner: str,
        clock: Callable[[], datetime] = lambda: datetime.now(timezone.utc),
        trainer: Callable[[Database], dict[str, Any]] | None = None,
    ) -> None:
        self.db = db
        self.settings = settings or RetrainSettings()
        self.owner = owner
        self.clock = clock
        self.trainer = trainer or train_in_child

    # ------------------------------------------------------------ deciding

    def due(self, now: datetime) -> str | None:
        """Why a retrain is due now ("500 new decisions", "a day old"), or None: no model
        yet (never the first), or not enough new since it."""
        s = self.settings
        with self.db.read() as session:
            model = session.execute(
                select(SuggestModel.created_at, SuggestModel.decisions)
                .order_by(SuggestModel.id.desc())
                .limit(1)
            ).first()
            if model is None:
                return None
            total = session.execute(select(func.count()).select_from(DecisionFeatures)).scalar_one()
        new = total - model.decisions
        if new >= s.after:
            return f"{new} new decisions"
        age = now - _utc(model.created_at)
        if s.every and new > 0 and age >= timedelta(seconds=s.every):
            return f"the model is {age.total_seconds() / 3600:.0f} h old, {new} new decisions"
        return None

    # ------------------------------------------------------------ the lease

    def claim(self, now: datetime) -> bool:
        """Take the job's lease if no other instance holds a live one."""
        until = now + timedelta(seconds=self.settings.lease)
        with self.db.bookkeeping() as s:
            table = JobLease.__table__
            dialect = postgresql if not self.db.is_sqlite else sqlite
            s.execute(
                dialect.insert(table).values(name=JOB, owner=None, until=None)
                .on_conflict_do_nothing(index_elements=["name"])
            )  # fmt: skip
            q = select(table.c.owner, table.c.until).where(table.c.name == JOB)
            if not self.db.is_sqlite:
                q = q.with_for_update()
            owner, held_until = s.execute(q).one()
            held_until = _utc(held_until)
            if owner not in (None, self.owner) and held_until is not None and held_until > now:
                return False
            s.execute(
                update(table).where(table.c.name == JOB).values(owner=self.owner, until=until)
            )
        return True

    def release(self) -> None:
        with self.db.bookkeeping() as s:
            table = JobLease.__table__
            s.execute(
                update(table)
                .where(table.c.name == JOB, table.c.owner == self.owner)
                .values(owner=None, until=None)
            )

    # ------------------------------------------------------------ running

    def tick(self) -> dict[str, Any] | None:
        """One check: retrain if due and this instance gets the lease. What it trained
        (train.train's summary, with `why`), or None."""
        now = self.clock()
        why = self.due(now)
        if why is None or not self.claim(now):
            return None
        try:
            if self.due(now) is None:  # another instance retrained just before the lease
                return None
            done = self.trainer(self.db)
            log.info("retrained the suggestion model (%s): model %s", why, done["model"])
            return {**done, "why": why}
        finally:
            self.release()

    def run(self, stop: threading.Event) -> None:
        """Check every `poll` seconds until `stop` is set; a failure is logged, never fatal
        (the next check tries again)."""
        while not stop.wait(self.settings.poll):
            try:
                self.tick()
            except Exception:  # noqa: BLE001 (a failed retrain must not end the job)
                log.exception("background retraining failed; the next check tries again")


def train_here(db: Database) -> dict[str, Any]:
    """Train on every decision in `db`, in this process: train.train's summary."""
    # imported when a retrain is due: scikit-learn never loads at start-up
    train = importlib.import_module("triage.server.suggest.train")
    store = importlib.import_module("triage.server.suggest.store")
    with db.read() as s:
        decisions = store.decisions(s)
    return train.train(db, decisions)


def train_in_child(db: Database) -> dict[str, Any]:
    """train_here in a process of its own (`python -m triage.server.suggest.retrain`, the
    URL on stdin, the summary as JSON on stdout). RuntimeError with the end of its stderr
    when it fails."""
    done = subprocess.run(
        [sys.executable, "-m", "triage.server.suggest.retrain"],
        input=db.url, capture_output=True, text=True, check=False,
    )  # fmt: skip
    if done.returncode != 0:
        raise RuntimeError(
            f"the training process failed ({done.returncode}): {done.stderr[-2000:]}"
        )
    return json.loads(done.stdout)


def _child() -> int:
    """The training process: the database URL on stdin, train_here's summary on stdout."""
    db = Database(sys.stdin.read().strip())
    try:
        print(json.dumps(train_here(db)))
    finally:
        db.dispose()
    return 0


def start(db: Database, owner: str) -> tuple[threading.Thread, threading.Event] | None:
    """The job's thread under `triage server run` (None: TRIAGE_RETRAIN=off)."""
    settings = RetrainSettings.from_env(os.environ.get(ENV))
    if not settings.enabled:
        return None
    stop = threading.Event()
    job = Retrainer(db, settings, owner=owner)
    thread = threading.Thread(target=job.run, args=(stop,), name="triage-retrain", daemon=True)
    thread.start()
    return thread, stop


@asynccontextmanager
async def lifespan(app: Any) -> AsyncIterator[None]:
    """`triage server run`'s background tasks: webhook delivery, and this job's thread."""
    from triage.server.webhooks.delivery import instance_name
    from triage.server.webhooks.delivery import lifespan as deliveries

    job = start(app.state.backend.db, instance_name())
    try:
        async with deliveries(app):
            yield
    finally:
        if job is not None:
            job[1].set()
            job[0].join(timeout=5)  # a training under way ends with the process (daemon)


if __name__ == "__main__":
    raise SystemExit(_child())
