"""The sync engine: push the outbox in batches, then pull pages until done.

Each pulled page and its cursor are saved in one transaction (the store's
`apply_pull`), so a crash between pages loses nothing and repeats nothing. The
outbox is never dropped here: only the server's answer for a seq removes it.
Network errors, timeouts, 5xx and malformed answers are retried with
exponential backoff and full jitter; 401/403 stop at once and say so. A refused
connection (nothing listens there) gets one quick retry only. With a deadline
(the client's, `triage sync --timeout`) no request and no retry outlives it:
the sync stops between two steps, each of which was saved whole or not at all.
"""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import TypeVar

from triage import protocol
from triage.domain import PolicyError
from triage.store import PendingCounts, PushResult, Store
from triage.sync.client import (
    ApiClient,
    AuthError,
    ConnectionRefused,
    DeadlineError,
    ProtocolError,
    RequestError,
    SyncError,
)

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class SyncReport:
    ok: bool
    pushed: int = 0  # mutations the server answered (applied, duplicate, conflict, invalid)
    applied: int = 0
    conflicts: int = 0  # new conflicts and invalid results for the rep to look at
    pulled: int = 0  # lead states received
    revoked: int = 0
    pending: int = 0  # mutations still in the outbox: pending_decisions + pending_answers
    error: str | None = None
    auth_failed: bool = False
    timed_out: bool = False  # the sync's deadline passed
    resent: int = 0  # decisions the server had lost (a restore), sent again
    pending_decisions: int = 0  # decide and reopen mutations
    pending_answers: int = 0  # BANT checklist answers

    @property
    def pending_counts(self) -> PendingCounts:
        return PendingCounts(self.pending_decisions, self.pending_answers)

    def summary(self) -> str:
        if self.ok:
            parts = [f"pushed {self.pushed}", f"pulled {self.pulled}"]
            if self.revoked:
                parts.append(f"{self.revoked} reassigned away")
            if self.conflicts:
                parts.append(f"{self.conflicts} conflict(s) to review")
            return "synced: " + ", ".join(parts)
        return f"sync failed: {self.error}; {self.pending_counts.describe()}, kept locally"


@dataclass
class RetryPolicy:
    attempts: int = 5
    base: float = 0.5
    cap: float = 30.0
    sleep: Callable[[float], None] = time.sleep
    rng: Callable[[], float] = random.random
    # Connection refused: nothing listens there (the server is down, the port is wrong).
    # One quick retry covers a restart; waiting out the back-off only keeps the rep waiting.
    refused_attempts: int = 2
    refused_delay: float = 0.2

    def delay(self, attempt: int) -> float:
        """Full jitter: uniform in [0, min(cap, base * 2**attempt)]."""
        return self.rng() * min(self.cap, self.base * (2**attempt))


class SyncEngine:
    def __init__(
        self,
        store: Store,
        client: ApiClient,
        *,
        # (every server takes 1,000 of each: half the requests, and half the commits, each
        # an fsync on both sides, of 500)
        batch: int = protocol.MAX_PUSH_MUTATIONS,
        page: int = protocol.MAX_PULL_LIMIT,
        retry: RetryPolicy | None = None,
        should_stop: Callable[[], bool] = lambda: False,
        on_wait: Callable[[str], None] | None = None,
        notice_after: float = 5.0,
    ):
        """`on_wait`: told, in a sentence, what the sync waits for: a retry's back-off, and
        a request without an answer after `notice_after` seconds (from a timer thread).
        The deadline, if any, is the client's (ApiClient(deadline=...))."""
        self.store = store
        self.client = client
        self.batch = batch
        self.page = page
        self.retry = retry or RetryPolicy()
        self.should_stop = should_stop
        self.on_wait = on_wait
        self.notice_after = notice_after
        self._counts = _zero_counts()  # push_all/pull_all may also be called on their own
        self.features: frozenset[str] = frozenset()  # the server's, from GET /v1/health
        self._epoch: int | None = None
        self._problems: list[str] = []

    def sync(self) -> SyncReport:
        """One full round: push everything, then pull until done. Never raises SyncError.

        When the server's history went back (a restore: its epoch changed, a pull answered
        reset, or it knows fewer of this client's mutations than it acknowledged), the
        round heals first: the whole queue again, the unanswered mutations numbered after
        what the server knows, and what it lost of this rep's decisions sent again."""
        self._counts = _zero_counts()
        self._problems: list[str] = []
        try:
            self._meet_server()
            if self.store.me() is None:
                me = self._with_retry(self.client.me)
                self.store.set_me(me.email, me.name, me.role)
            for _ in range(3):
                if self.store.sync_state().healing:
                    self.heal()
                try:
                    self.push_all()
                    self.pull_all()
                    break
                except HistoryWentBack:
                    continue  # heal, then go on
            else:
                raise ProtocolError("the server's history kept going back; nothing was dropped")
            if self._problems:
                raise ProtocolError("; ".join(self._problems))
        except SyncError as exc:
            self.store.record_sync(ok=False, error=exc.message, at=_now())
            return SyncReport(
                ok=False,
                error=exc.message,
                auth_failed=isinstance(exc, AuthError),
                timed_out=isinstance(exc, DeadlineError),
                **_pending(self.store.pending_counts()),
                **self._counts,
            )
        pending = self.store.pending_counts()
        self.store.record_sync(ok=True, error=None, at=_now())
        return SyncReport(ok=True, **_pending(pending), **self._counts)

    # ------------------------------------------------------------ the server, and its history

    def _meet_server(self) -> None:
        """Who answers at this address (GET /v1/health): the server this queue belongs to,
        and its history as this queue saw it? An older server says neither."""
        health = self._with_retry(self.client.health)
        self.features = frozenset(health.features)
        state = self.store.sync_state()
        if health.server_id and state.server_id and health.server_id != state.server_id:
            pending = self.store.pending_counts()
            raise ServerChanged(
                f"the server at {self.client.base_url} is not the one this queue belongs to "
                "(it was reinstalled or replaced); run `triage login --server "
                f"{self.client.base_url}` to start a queue for it. This queue and its "
                f"{pending.describe('unsent')} are kept."
            )
        if health.epoch is not None and state.epoch is not None and health.epoch != state.epoch:
            self.store.start_heal()  # its history went back (a restore): heal first
        self.store.remember_server(health.server_id, health.epoch if state.epoch is None else None)
        self._epoch = health.epoch

    def _went_back(self, last_seq: int) -> bool:
        """Does the server know fewer of this client's mutations than it acknowledged?"""
        state = self.store.sync_state()
        if state.healing or last_seq >= state.acked_seq:
            return False
        self.store.start_heal()
        return True

    def heal(self) -> None:
        """The server's history went back. Keep the outbox; pull the whole queue again;
        number the unanswered mutations after the server's last; learn what it still has
        of this rep's decisions (lookup) and queue again, as the same decisions, those it
        lost. Each step commits; a crash resumes here on the next sync."""
        self.store.start_heal()
        client_id = self.store.client_id()
        last_seq = self.pull_all(healing=True)
        self.store.renumber_unanswered(last_seq)
        if "lookup" in self.features:
            found: list = []
            missing: list[str] = []
            ids = self.store.heal_candidates()
            for start in range(0, len(ids), protocol.MAX_LOOKUP):
                chunk = ids[start : start + protocol.MAX_LOOKUP]
                resp = self._with_retry(lambda c=chunk: self.client.lookup(c, client_id))
                found += [protocol.lead_from_wire(w) for w in resp.leads]
                missing += resp.missing
            healed = self.store.apply_heal(found, missing)
            self._counts["conflicts"] += healed.conflicts
            self._counts["revoked"] += healed.revoked
            self._counts["resent"] += healed.resent
        self.store.finish_heal(self._epoch)

    def _wire(self, item) -> dict:
        """An outbox item as protocol v1: fields of features this server lacks left out
        (an older server refuses fields it does not know)."""
        mutation = {"seq": item.seq, "lead_id": item.lead_id, "type": item.type, **item.payload}
        if "origin" not in self.features:
            mutation.pop("origin", None)
            mutation.pop("reopens", None)
        return mutation

    # ------------------------------------------------------------ push

    def push_all(self) -> None:
        client_id = self.store.client_id()
        batch = self.batch
        stuck = 0
        if self.store.has_unnumbered():
            self._learn_last_seq(client_id)
        while not self.should_stop():
            items = self.store.pending(batch)
            if not items:
                return
            try:
                refused = self._push_run(client_id, items, batch)
            except RequestError as exc:
                if exc.status == 413 and batch > 1:
                    batch = max(1, batch // 2)
                    continue
                raise
            if refused is None:
                stuck = 0
                continue
            # Everything out_of_order: the server is missing earlier seqs. A pull (which
            # brings last_seq) settles what it did see; then try once more.
            stuck += 1
            if stuck > 1:
                raise ProtocolError(
                    f"the server expects mutation {refused.last_seq + 1}, "
                    f"the outbox starts at {items[0].seq}; nothing was dropped"
                )
            self.pull_all()

    def _push_run(self, client_id: str, items: list, batch: int) -> protocol.PushResponse | None:
        """Push `items`, then the rows after them, one request in flight at a time, and
        each batch sent as soon as the answer before it came, while that answer is saved
        (the server works on the next batch meanwhile: it has answered the one before, so
        it still sees the seqs in order). Saving an answer, or numbering the rows after,
        never waits for the network. Returns None once the outbox is drained (or the sync
        is stopped), or an answer that answered nothing (all out_of_order), unsent after.
        A crash anywhere loses nothing: rows stay in the outbox until their answer is saved,
        and a row sent again is answered `duplicate`."""
        patch = "push_patch" in self.features  # answers that carry what changed

        def send(rows: list) -> Future[protocol.PushResponse]:
            mutations = [self._wire(it) for it in rows]
            return pool.submit(
                self._with_retry, lambda: self.client.push(client_id, mutations, patch=patch)
            )

        with ThreadPoolExecutor(max_workers=1, thread_name_prefix="triage-push") as pool:
            in_flight = send(items)
            after = [] if self.should_stop() else self.store.pending(batch, after=items[-1].seq)
            while True:
                resp = in_flight.result()
                if self._went_back(resp.last_seq):
                    raise HistoryWentBack()  # its answers belong to another history: heal first
                if not any(r.status != "out_of_order" for r in resp.results):
                    self._record(resp)
                    return resp
                if after:
                    in_flight = send(after)
                # The answer saved, and the batch after the one now sent numbered, together.
                more = bool(after) and not self.should_stop()
                following = self._record(resp, then=(after[-1].seq, batch) if more else None)
                if not after:
                    return None
                after = following

    def _learn_last_seq(self, client_id: str) -> None:
        """Before new mutations get their numbers, learn the server's last one for this
        client: a file restored from a backup would otherwise reuse numbers the server
        has already processed, and its answer `duplicate` would swallow them."""
        cursor = self.store.sync_state().cursor
        probe = self._with_retry(lambda: self.client.pull(cursor, 1, client_id))
        if self._went_back(probe.last_seq):
            raise HistoryWentBack()
        self.store.note_server_last_seq(probe.last_seq)

    def _record(self, resp: protocol.PushResponse, *, then: tuple[int, int] | None = None) -> list:
        """Apply a push's answers to the store and count them; with `then` (after, limit),
        hand out the next rows in the same transaction and return them."""
        results = [
            PushResult(
                seq=r.seq,
                status=r.status,
                error=r.error,
                lead=protocol.lead_from_wire(r.lead) if r.lead is not None else None,
                stored=r.stored,
                patch=protocol.patch_from_wire(r.patch) if r.patch is not None else None,
            )
            for r in resp.results
        ]
        following = self.store.apply_push_results(results, last_seq=resp.last_seq, then=then)
        answered = [r for r in results if r.status != "out_of_order"]
        outcomes = [r.stored if r.status == "duplicate" else r.status for r in answered]
        self._counts["pushed"] += len(answered)
        self._counts["applied"] += outcomes.count("applied")
        self._counts["conflicts"] += sum(o in ("conflict", "invalid") for o in outcomes)
        return following

    # ------------------------------------------------------------ pull

    def pull_all(self, *, healing: bool = False) -> int:
        """Pull pages until the server has no more; returns its last processed seq for this
        client. `healing`: the first page replaces the local server state (a full pull).

        The next page is asked for as soon as a page has come and been checked, and is on
        its way while this one is saved (each page with its cursor, in order: a page that
        came is dropped, never saved, if saving the one before it failed)."""
        client_id = self.store.client_id()
        state = self.store.sync_state()
        cursor, digest = state.cursor, state.cursor_digest
        first = True
        policy_tried = False
        with ThreadPoolExecutor(max_workers=1, thread_name_prefix="triage-pull") as pool:
            if self.should_stop():
                raise SyncError("stopped")
            in_flight = self._ask_page(pool, client_id, cursor, digest, full=healing)
            while True:
                page = in_flight.result()
                if not healing and (page.reset or self._went_back(page.last_seq)):
                    self.store.start_heal()
                    raise HistoryWentBack()  # the server's history went back: heal first
                if page.has_more and page.cursor <= cursor and not (first and healing):
                    raise ProtocolError(
                        f"the server's pull made no progress (cursor {page.cursor} again, "
                        "with more to come); stopped rather than ask again for ever. "
                        "Nothing was lost."
                    )
                if page.policy_version != self.store.sync_state().policy_version:
                    if not policy_tried:
                        policy_tried = True
                        self._take_policy()
                leads = [protocol.lead_from_wire(w) for w in page.leads]
                texts: list[str | None] = [protocol.lead_json(w) for w in page.leads]
                leads += self._not_held(page.own, client_id)
                stop = self.should_stop()
                if page.has_more and not stop:
                    in_flight = self._ask_page(pool, client_id, page.cursor, page.cursor_digest)
                self._save_page(page, leads, texts, reset=page.reset or (healing and first))
                first = False
                if not page.has_more:
                    return page.last_seq
                if stop:
                    raise SyncError("stopped")
                cursor = page.cursor

    def _ask_page(
        self,
        pool: ThreadPoolExecutor,
        client_id: str,
        cursor: int,
        digest: str | None,
        *,
        full: bool = False,
    ) -> Future[protocol.PullResponse]:
        """The page after `cursor`, asked for in the background. `full`: from the start of
        a heal (no own changes named: the store's server state is being replaced)."""
        digest = digest if "history_check" in self.features else None
        own = self._own_changes and cursor > 0 and not full
        listed = "suggestion_list" in self.features
        return pool.submit(
            self._with_retry,
            lambda: self.client.pull(cursor, self.page, client_id, digest, own=own, listed=listed),
        )

    def _save_page(
        self, page: protocol.PullResponse, leads: list, texts: list[str | None], *, reset: bool
    ) -> None:
        applied = self.store.apply_pull(
            leads,
            list(page.revoked),
            page.cursor,
            reset=reset,
            last_seq=None if page.has_more else page.last_seq,
            digest=page.cursor_digest,
            texts=texts,
        )
        self._counts["pulled"] += len(page.leads) + len(page.own)
        self._counts["revoked"] += applied.revoked
        self._counts["conflicts"] += applied.conflicts

    @property
    def _own_changes(self) -> bool:
        """Ask for the leads this client changed last by id and version only ("own_changes";
        one it does not hold at that version is looked up, "lookup")."""
        return {"own_changes", "lookup"} <= self.features

    def _not_held(self, own: list[protocol.OwnChange], client_id: str) -> list:
        """Of the leads a pull named as this client's own last changes, those the store does
        not hold at that version (a push answer lost, a patch not applied), whole."""
        held = self.store.server_versions([o.id for o in own])
        missing = [o.id for o in own if held.get(o.id, -1) < o.version]
        found: list = []
        for start in range(0, len(missing), protocol.MAX_LOOKUP):
            chunk = missing[start : start + protocol.MAX_LOOKUP]
            resp = self._with_retry(lambda c=chunk: self.client.lookup(c, client_id))
            found += [protocol.lead_from_wire(w) for w in resp.leads]
        return found

    def _take_policy(self) -> None:
        """The server's new policy; one this client cannot use (a newer server's, a buggy
        one's) is a sync error that names the problem, and the last good policy stays:
        pulls go on."""
        policy = self._with_retry(self.client.policy)
        try:
            self.store.save_policy(policy.to_domain())
        except PolicyError as exc:
            self._problems.append(
                f"the server's qualification policy (version {policy.version}) cannot be used "
                f"by this triage ({exc}); kept the last good one, version "
                f"{self.store.policy().version}: upgrade triage if this goes on"
            )

    # ------------------------------------------------------------ retries

    def _with_retry(self, call: Callable[[], T]) -> T:
        attempt = 0
        while True:
            try:
                return self._waiting(call)
            except DeadlineError:
                raise
            except SyncError as exc:
                attempt += 1
                refused = isinstance(exc, ConnectionRefused)
                limit = self.retry.refused_attempts if refused else self.retry.attempts
                if not exc.retry or attempt >= limit or self.should_stop():
                    raise
                delay = self.retry.refused_delay if refused else self.retry.delay(attempt)
                deadline = self.client.deadline
                if deadline is not None and delay >= deadline.remaining():
                    raise DeadlineError(
                        f"{exc.message}; gave up at the sync's {deadline.seconds:g} s deadline"
                    ) from None
                self._say(
                    f"waiting for {exc.message}; attempt {attempt + 1} of {limit} in {delay:.1f} s"
                )
                self.retry.sleep(delay)

    def _waiting(self, call: Callable[[], T]) -> T:
        """`call()`, saying so if it has no answer after `notice_after` seconds."""
        if self.on_wait is None:
            return call()
        timer = threading.Timer(
            self.notice_after,
            self._say,
            (f"waiting for {self.client.base_url}: no answer after {self.notice_after:g} s",),
        )
        timer.daemon = True
        timer.start()
        try:
            return call()
        finally:
            timer.cancel()

    def _say(self, message: str) -> None:
        if self.on_wait is not None:
            self.on_wait(message)


def _pending(counts: PendingCounts) -> dict[str, int]:
    return {
        "pending": counts.total,
        "pending_decisions": counts.decisions,
        "pending_answers": counts.answers,
    }


class HistoryWentBack(Exception):
    """The server's history went back (a restore): heal, then go on (internal)."""


class ServerChanged(AuthError):
    """Another server answers at this address: this queue is not its. Not retried."""


def _zero_counts() -> dict[str, int]:
    return dict.fromkeys(("pushed", "applied", "conflicts", "pulled", "revoked", "resent"), 0)


def _now() -> datetime:
    return datetime.now(timezone.utc)
