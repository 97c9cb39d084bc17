"""Delivering the outbox: a task in every `triage server run` (the app's lifespan).

Each round the task claims endpoints that have an event due (triage.server.webhooks.store)
and delivers each one's events in its own coroutine, in sequence order, one request at a
time; a request is given `timeout` seconds in all. A failure lets the endpoint go until
its retry time: exponential backoff with jitter, for `retry_for` (24 hours) from the
first failure of its oldest event, after which the endpoint is failing and its events
wait for `triage server webhook redeliver`. Endpoints never wait on each other, and a
push never waits on any of this: it only writes the outbox.

The clock (scheduling, leases, the retry period) is injectable, so tests run a day of
retries in seconds; the signature's `t` is always the wall clock, as receivers check it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import random
import socket
import time
import uuid
from collections.abc import AsyncIterator, Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, fields, replace
from datetime import datetime, timedelta
from typing import Any

import httpx

import triage
from triage.server.db import Database, utcnow
from triage.server.webhooks import events, signing
from triage.server.webhooks.store import Claim, DeliveryStore, Done, Pending, prune_delivered
from triage.server.webhooks.urls import url_problem

log = logging.getLogger("triage.server.webhooks")

ENV = "TRIAGE_WEBHOOKS"  # "off", or settings: "timeout=5,retry_for=3600"
MAX_ANSWER = 64 * 1024  # bytes of a receiver's answer read; the rest is not waited for
FLUSH_EVERY = 20  # deliveries recorded together (a crash sends at most these again)


@dataclass(frozen=True, slots=True)
class Settings:
    """How delivery behaves (seconds). `lease`: how long a claim on an endpoint lasts
    unrenewed (default 2 x timeout + 20), so a dead instance's endpoints move on."""

    enabled: bool = True
    timeout: float = 10.0
    retry_for: float = 24 * 3600.0
    backoff: float = 1.0
    backoff_cap: float = 3600.0
    poll: float = 0.25
    nurture_every: float = 60.0
    lease: float = 0.0
    concurrency: int = 50
    batch: int = 100
    keep_delivered: float = 30 * 86400.0  # delivered events are pruned this long after
    prune_every: float = 3600.0  # how often an instance prunes them (0: never)

    @property
    def lease_seconds(self) -> float:
        return self.lease or 2 * self.timeout + 20

    @classmethod
    def from_env(cls, text: str | None) -> Settings:
        """`off`, or comma-separated name=value (TRIAGE_WEBHOOKS); ValueError names a bad one."""
        text = (text or "").strip()
        if text.lower() in ("off", "0", "false", "no"):
            return cls(enabled=False)
        known = {f.name: f.type for f in fields(cls) if f.name != "enabled"}
        values: dict[str, Any] = {}
        for part in filter(None, (p.strip() for p in text.split(","))):
            name, _, raw = part.partition("=")
            name = name.strip()
            if name not in known:
                raise ValueError(f"{ENV}: unknown setting {name!r} (known: {', '.join(known)})")
            try:
                values[name] = int(raw) if known[name] == "int" else float(raw)
            except ValueError:
                raise ValueError(f"{ENV}: {name} must be a number, not {raw!r}") from None
        made = replace(cls(), **values)
        if made.lease and made.lease <= made.timeout + 1:
            raise ValueError(f"{ENV}: lease must be longer than timeout + 1 s")
        if made.timeout <= 0 or made.concurrency < 1 or made.batch < 1:
            raise ValueError(f"{ENV}: timeout, concurrency and batch must be positive")
        if made.keep_delivered <= 0 or made.prune_every < 0:
            raise ValueError(
                f"{ENV}: keep_delivered must be positive (prune_every=0 stops pruning)"
            )
        return made


def backoff(failures: int, base: float, cap: float, rng: random.Random) -> float:
    """Seconds to wait after the `failures`-th failure in a row: base x 2^(failures-1),
    at most `cap`, times a random factor in [0.5, 1] (jitter: senders that failed
    together do not all come back at once)."""
    return min(cap, base * 2 ** min(failures - 1, 60)) * rng.uniform(0.5, 1.0)


def instance_name() -> str:
    return f"{socket.gethostname()[:40]}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


class Dispatcher:
    """One instance's delivery task over the outbox in `db`."""

    def __init__(
        self, db: Database, settings: Settings | None = None, *,
        clock: Callable[[], datetime] = utcnow, rng: random.Random | None = None,
        owner: str | None = None, tz: Callable[[], str] = lambda: "UTC",
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:  # fmt: skip
        self.settings = settings or Settings()
        self.clock = clock
        self.rng = rng or random.Random()
        self.tz = tz
        self.store = DeliveryStore(db, owner or instance_name(), self.settings.lease_seconds)
        self.running: dict[int, asyncio.Task[None]] = {}
        self.stopping = False
        self._transport = transport
        self._client: httpx.AsyncClient | None = None
        self._pool = ThreadPoolExecutor(max_workers=8, thread_name_prefix="triage-webhooks")
        self._next_nurture = 0.0
        self._next_prune = 0.0
        self.pruned = 0  # delivered events this instance has pruned
        self._last_error = 0.0
        self._wake: asyncio.Event | None = None
        # endpoints this instance let go after a failure (until it claims them again): a
        # write for them wakes nobody; the poll finds them when their retry time comes
        self._resting: set[int] = set()

    async def _db(self, fn: Callable[..., Any], *args: Any) -> Any:
        return await asyncio.get_running_loop().run_in_executor(self._pool, fn, *args)

    @contextlib.asynccontextmanager
    async def session(self) -> AsyncIterator[Dispatcher]:
        """The HTTP client open, and at the end every endpoint let go (tests use it
        with tick() and idle(); run() is the loop around it)."""
        s = self.settings
        self._client = httpx.AsyncClient(
            timeout=httpx.Timeout(s.timeout),
            follow_redirects=False,
            limits=httpx.Limits(max_connections=2 * s.concurrency),
            transport=self._transport,
        )
        try:
            await self._db(lambda: self.store.server_id)
            yield self
        finally:
            self.stopping = True
            await self._finish()
            await self._client.aclose()
            self._pool.shutdown(wait=False)

    async def run(self, stop: asyncio.Event) -> None:
        """Rounds every `poll` seconds, and at once when this process writes events (other
        instances' events wait for the poll); until `stop` is set and poke() called."""
        loop = asyncio.get_running_loop()
        wake = self._wake = asyncio.Event()

        def poke(endpoints: frozenset[int]) -> None:
            if all(e in self.running or e in self._resting for e in endpoints):
                return  # being delivered here already, or waiting out a failure
            with contextlib.suppress(RuntimeError):  # the loop has closed
                loop.call_soon_threadsafe(wake.set)

        events.WRITTEN.add(poke)
        try:
            async with self.session():
                while not stop.is_set():
                    wake.clear()
                    await self.tick()
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(wake.wait(), self.settings.poll)
        finally:
            events.WRITTEN.discard(poke)

    def poke(self) -> None:
        """Start the next round now (from the loop's thread)."""
        if self._wake is not None:
            self._wake.set()

    async def tick(self) -> None:
        """One round: nurture dates checked (every `nurture_every`), endpoints with an
        event due claimed and each given a coroutine."""
        try:
            if time.monotonic() >= self._next_nurture:
                self._next_nurture = time.monotonic() + self.settings.nurture_every
                await self._db(lambda: self.store.nurture_due(self.clock(), self.tz()))
            if self.settings.prune_every and time.monotonic() >= self._next_prune:
                await self._prune()
            free = self.settings.concurrency - len(self.running)
            if free <= 0:
                return
            claims = await self._db(self.store.claim, self.clock(), free, list(self.running))
        except Exception as exc:  # the database is away: say so now and then, go on
            self._complain(exc)
            return
        for claim in claims:
            self._resting.discard(claim.id)
            self.running[claim.id] = asyncio.create_task(self._serve(claim))

    async def _prune(self) -> None:
        """Delivered events older than `keep_delivered` deleted, a few batches a round
        (the next round goes on when some are left)."""
        before = self.clock() - timedelta(seconds=self.settings.keep_delivered)
        count, more = await self._db(lambda: prune_delivered(self.store.db, before, batches=4))
        self.pruned += count
        self._next_prune = time.monotonic() + (0 if more else self.settings.prune_every)
        if count:
            log.info("webhooks: pruned %d delivered event(s) delivered before %s", count, before)

    async def idle(self) -> None:
        """Until every endpoint coroutine started so far has finished."""
        while self.running:
            await asyncio.gather(*self.running.values(), return_exceptions=True)

    async def _finish(self) -> None:
        if self.running:
            _, late = await asyncio.wait(
                list(self.running.values()), timeout=self.settings.timeout + 2
            )
            for task in late:
                task.cancel()
        with contextlib.suppress(Exception):
            await self._db(self.store.release, list(self.running))

    def _complain(self, exc: BaseException) -> None:
        if time.monotonic() - self._last_error > 60:
            self._last_error = time.monotonic()
            log.warning("webhooks: cannot read the outbox now: %s", exc)

    async def _serve(self, claim: Claim) -> None:
        try:
            await self._deliver(claim)
        except Exception as exc:
            self._complain(exc)
            with contextlib.suppress(Exception):
                await self._db(self.store.release, [claim.id])
        finally:
            self.running.pop(claim.id, None)

    async def _deliver(self, claim: Claim) -> None:
        """The endpoint's events in order until none is left, one fails, or the lease is
        lost; deliveries are recorded FLUSH_EVERY at a time, with the lease renewed."""
        s = self.settings
        lease_until = self.clock() + timedelta(seconds=s.lease_seconds)
        size = 1 if claim.retrying else s.batch  # a retry: the failed event alone first
        while not self.stopping:
            batch = await self._db(self.store.pending, claim.id, size)
            size = s.batch
            if not batch:
                await self._db(self.store.release, [claim.id])
                return
            done: list[Done] = []
            for row in batch:
                short = lease_until - self.clock() < timedelta(seconds=s.timeout + 5)
                if self.stopping or len(done) >= FLUSH_EVERY or short:
                    if not await self._db(self.store.delivered, claim.id, done, self.clock()):
                        return
                    done, lease_until = [], self.clock() + timedelta(seconds=s.lease_seconds)
                    if self.stopping:
                        await self._db(self.store.release, [claim.id])
                        return
                ok, result = await self._send(claim, row)
                if ok:
                    done.append(Done(row, self.clock(), result))
                    continue
                if done:
                    await self._db(self.store.delivered, claim.id, done, self.clock())
                await self._failed(claim, Done(row, self.clock(), result))
                return
            if not await self._db(self.store.delivered, claim.id, done, self.clock()):
                return
            lease_until = self.clock() + timedelta(seconds=s.lease_seconds)
        await self._db(self.store.release, [claim.id])

    async def _failed(self, claim: Claim, done: Done) -> None:
        s = self.settings
        delay = backoff(done.row.attempts + 1, s.backoff, s.backoff_cap, self.rng)
        self._resting.add(claim.id)
        retry_at = await self._db(
            self.store.failed, claim.id, done, timedelta(seconds=s.retry_for), delay
        )
        if retry_at is None:
            log.warning(
                "webhooks: endpoint %s is failing (no success for %g s; last: %s); its events "
                "wait for `triage server webhook redeliver`", claim.id, s.retry_for, done.result,
            )  # fmt: skip
        else:
            log.info("webhooks: endpoint %s: %s; retry in %.1f s", claim.id, done.result, delay)

    async def _send(self, claim: Claim, row: Pending) -> tuple[bool, str]:
        problem = url_problem(claim.url)
        if problem is not None:
            return False, problem
        payload = events.body(
            event_id=row.event_id, kind=row.type, created_at=row.created_at,
            server_id=self.store.server_id, epoch=row.epoch, sequence=row.seq, data=row.data,
        )  # fmt: skip
        headers = {"Triage-Event-Id": row.event_id, "Triage-Event-Type": row.type,
                   "Triage-Attempt": str(row.attempts + 1)}  # fmt: skip
        assert self._client is not None
        secrets = claim.secrets(self.clock())
        return await post(self._client, claim.url, secrets, payload, headers, self.settings)


def request_headers(
    secrets: tuple[str, ...], payload: bytes, extra: dict[str, str]
) -> dict[str, str]:
    return {
        "Content-Type": "application/json",
        "User-Agent": f"triage-webhooks/{triage.__version__}",
        signing.HEADER: signing.header(secrets[0], int(time.time()), payload, *secrets[1:]),
        **extra,
    }


async def post(
    client: httpx.AsyncClient, url: str, secrets: tuple[str, ...], payload: bytes,
    extra: dict[str, str], settings: Settings,
) -> tuple[bool, str]:  # fmt: skip
    """POST one event signed with each of `secrets`; (taken: a 2xx answer read to its
    end, what happened)."""
    headers = request_headers(secrets, payload, extra)
    try:
        async with asyncio.timeout(settings.timeout):
            async with client.stream("POST", url, content=payload, headers=headers) as r:
                read = 0
                async for chunk in r.aiter_raw():
                    read += len(chunk)
                    if read > MAX_ANSWER:
                        break
                answer = f"{r.status_code} {r.reason_phrase}".strip()
                return 200 <= r.status_code < 300, answer
    except TimeoutError:
        return False, f"no answer within {settings.timeout:g} s"
    except httpx.HTTPError as exc:
        return False, f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__


def send_test(
    url: str, secrets: tuple[str, ...], server_id: str, epoch: int, timeout: float = 10.0
) -> str:
    """`webhook test`: a webhook.test event sent now, outside the outbox and its sequence.
    Returns what the receiver answered; raises RuntimeError when it did not take it."""
    now = utcnow()
    data = '{"message":"a test from triage server webhook test"}'
    payload = events.body(
        event_id="evt_test_" + uuid.uuid4().hex[:24], kind=events.TEST, created_at=now,
        server_id=server_id, epoch=epoch, sequence=None, data=data,
    )  # fmt: skip

    async def go() -> tuple[bool, str]:
        async with httpx.AsyncClient(follow_redirects=False) as client:
            extra = {"Triage-Event-Type": events.TEST, "Triage-Attempt": "1"}
            return await post(client, url, secrets, payload, extra, Settings(timeout=timeout))

    started = time.monotonic()
    ok, answer = asyncio.run(go())
    took = f"{answer} in {(time.monotonic() - started) * 1000:.0f} ms"
    if not ok:
        raise RuntimeError(took)
    return took


@contextlib.asynccontextmanager
async def lifespan(app: Any) -> AsyncIterator[None]:
    """The delivery task of a `triage server run`, from start-up to shutdown
    (TRIAGE_WEBHOOKS=off: none in this instance)."""
    settings = Settings.from_env(os.environ.get(ENV))
    if not settings.enabled:
        yield
        return
    backend = app.state.backend
    dispatcher = Dispatcher(backend.db, settings, tz=lambda: backend.policy().timezone)
    stop = asyncio.Event()
    task = asyncio.create_task(dispatcher.run(stop))
    try:
        yield
    finally:
        stop.set()
        dispatcher.poke()
        try:
            await asyncio.wait_for(task, settings.timeout + 5)
        except (TimeoutError, asyncio.CancelledError):
            task.cancel()
