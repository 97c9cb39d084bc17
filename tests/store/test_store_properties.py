"""A stateful property test of the store alone against a small in-memory model.

Random decisions, BANT answers, undos, pushes (with every kind of answer, and
lost answers), pulls (changed leads, new leads, revocations, resets, last_seq)
and close + reopen. After every step the store must agree with the model:

* the view of every lead = its server state with its pending mutations replayed;
* the queue shows exactly the leads whose view is open;
* nothing is lost: every mutation is pending, answered, or a conflict;
* seqs handed out by pending() run 1, 2, 3, ... with no gap and no reuse;
* an undo's compensation waits for the answer to the row it undoes (and what follows it
  on the same lead waits too); a refusal of that row takes the compensation with it.
"""

from __future__ import annotations

import shutil
import tempfile
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from triage import domain
from triage.domain import BANT_KEYS, Outcome, Status
from triage.store import ActionError, PushResult, Store

NOW = datetime(2025, 6, 2, 12, 0, tzinfo=timezone.utc)
AT = NOW + timedelta(minutes=1)
POOL = [f"L{i}" for i in range(8)]
REASONS = {Outcome.ACCEPT: None, Outcome.REJECT: "no_budget", Outcome.NURTURE: "timing_later"}
ANSWERS = ("applied", "conflict", "invalid", "dup_applied", "dup_conflict", "out_of_order")


def server_lead(lead_id: str, version: int = 1, score: int = 50) -> domain.Lead:
    n = int(lead_id[1:])
    return domain.Lead(
        id=lead_id,
        external_id=f"ext-{lead_id}",
        name=f"Person {n}",
        email=f"p{n}@example.com",
        version=version,
        score=score,
        source="webinar",
        mql_at=NOW - timedelta(hours=n),
    )


@dataclass
class Row:
    lead_id: str
    type: str
    outcome: str | None = None
    reason: str | None = None
    bant: dict[str, str] | None = None
    seq: int | None = None
    action: str | None = None  # the journal action it belongs to; None for compensations
    compensates: Row | None = field(
        default=None, repr=False, compare=False
    )  # an undo's in-flight target


@dataclass
class Action:
    action_id: str
    kind: str
    members: list[tuple[str, str | None]]  # (lead_id, prior bant answer)
    key: str | None = None
    undone: bool = False
    results: dict[str, str] = field(default_factory=dict)


def apply_row(lead: domain.Lead, row: Row) -> domain.Lead:
    """The model's view of a pending row: the one rule (domain.apply) the store and the
    server use."""
    change = {"type": row.type, "outcome": row.outcome, "reason": row.reason,
              "bant": row.bant, "at": domain.format_time(AT)}  # fmt: skip
    status, bant, decision = domain.apply(
        lead.status.value, lead.bant, domain.decision_to_dict(lead.decision), change, by=None
    )
    return replace(
        lead, status=Status(status), bant=bant, decision=domain.decision_from_dict(decision)
    )


class StoreMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.dir = Path(tempfile.mkdtemp(prefix="triage-prop-"))
        self.store = Store.open(self.dir / "triage.db")
        self.server: dict[str, domain.Lead] = {}
        self.outbox: list[Row] = []
        self.actions: list[Action] = []
        self.next_seq = 1
        self.conflicts = 0
        self.cursor = 0
        initial = [server_lead(i) for i in POOL[:5]]
        self.store.apply_pull(initial, [], self._next_cursor())
        self.server = {lead.id: lead for lead in initial}

    def teardown(self) -> None:
        self.store.close()
        shutil.rmtree(self.dir, ignore_errors=True)

    # ------------------------------------------------------------ the model

    def _next_cursor(self) -> int:
        self.cursor += 1
        return self.cursor

    def view(self, lead_id: str) -> domain.Lead:
        lead = self.server[lead_id]
        for row in self.outbox:
            if row.lead_id == lead_id:
                lead = apply_row(lead, row)
        return lead

    def _result(self, row: Row, result: str) -> None:
        for action in self.actions:
            if action.action_id == row.action:
                action.results[row.lead_id] = result

    # ------------------------------------------------------------ user actions

    @rule(
        ids=st.lists(st.sampled_from(POOL), min_size=1, max_size=3, unique=True),
        outcome=st.sampled_from(list(Outcome)),
    )
    def decide(self, ids: list[str], outcome: Outcome) -> None:
        missing = [i for i in ids if i not in self.server]
        closed = [i for i in ids if i in self.server and self.view(i).status is not Status.OPEN]
        try:
            result = self.store.decide(ids, outcome, reason=REASONS[outcome], at=AT)
        except ActionError as exc:
            assert exc.code == ("unknown_lead" if missing else "not_open"), exc
            assert missing or closed
            return
        assert not missing and not closed
        assert result.count == len(ids)
        self.actions.append(Action(result.action_id, "decide", [(i, None) for i in ids]))
        for lead_id in sorted(ids):  # the store writes a bulk action in id order
            self.outbox.append(
                Row(lead_id, "decide", outcome.value, REASONS[outcome], action=result.action_id)
            )

    @rule(
        lead_id=st.sampled_from(POOL),
        key=st.sampled_from(BANT_KEYS),
        answer=st.sampled_from(["yes", "no", "unknown"]),
    )
    def set_bant(self, lead_id: str, key: str, answer: str) -> None:
        if lead_id not in self.server:
            try:
                self.store.set_bant(lead_id, key, answer)
            except ActionError as exc:
                assert exc.code == "unknown_lead"
                return
            raise AssertionError("set_bant of an unknown lead was accepted")
        prior = self.view(lead_id).bant_answer(key).value
        result = self.store.set_bant(lead_id, key, answer)
        self.actions.append(Action(result.action_id, "bant", [(lead_id, prior)], key=key))
        self.outbox.append(Row(lead_id, "bant", bant={key: answer}, action=result.action_id))

    @rule()
    def undo(self) -> None:
        result = self.store.undo()
        todo = [a for a in self.actions if not a.undone]
        if not todo:
            assert result is None
            return
        action = todo[-1]
        assert result is not None and result.action_id == action.action_id
        assert result.kind == action.kind
        ids = {lead_id for lead_id, _ in action.members}
        self.outbox = [
            r for r in self.outbox if not (r.action == action.action_id and r.seq is None)
        ]
        present = sorted((i, prior) for i, prior in action.members if i in self.server)
        queued = 0
        for lead_id, prior in present:
            if action.results.get(lead_id) in ("conflict", "invalid", "revoked"):
                continue
            view = self.view(lead_id)
            target = next(
                (r for r in self.outbox if r.action == action.action_id and r.lead_id == lead_id),
                None,
            )  # still in the outbox and numbered: in flight
            if action.kind == "decide" and view.status is not Status.OPEN:
                self.outbox.append(Row(lead_id, "reopen", compensates=target))
                queued += 1
            elif action.kind == "bant" and view.bant_answer(action.key).value != prior:
                self.outbox.append(
                    Row(lead_id, "bant", bant={action.key: prior}, compensates=target)
                )
                queued += 1
        action.undone = True
        assert result.count == len(present)
        assert result.via_reopen == (queued > 0)
        # what undo promises: the leads are back as they were, unless the server refused
        for lead_id, prior in present:
            if action.results.get(lead_id) in ("conflict", "invalid", "revoked"):
                continue
            view = self.store.lead(lead_id)
            if action.kind == "decide":
                assert view.status is Status.OPEN and view.decision is None
            else:
                assert view.bant_answer(action.key).value == prior
        assert ids

    # ------------------------------------------------------------ push

    def _eligible(self) -> list[Row]:
        """Rows pending() may hand out: numbered ones always; an unnumbered one unless a
        compensation waiting for its target's answer comes before it on its lead."""
        waiting: set[str] = set()
        out = []
        for row in self.outbox:
            target = row.compensates
            if row.seq is None and target is not None and any(r is target for r in self.outbox):
                waiting.add(row.lead_id)
            if row.seq is not None or row.lead_id not in waiting:
                out.append(row)
        # in flight first, by number; then new rows in the order they were made
        return sorted(out, key=lambda r: (r.seq is None, r.seq or 0))

    def _hand_out(self, limit: int) -> list[Row]:
        items = self.store.pending(limit=limit)
        rows = self._eligible()[:limit]
        fresh = [r for r in rows if r.seq is None]
        for row in fresh:
            row.seq = self.next_seq
            self.next_seq += 1
        assert [(i.seq, i.lead_id, i.type) for i in items] == [
            (r.seq, r.lead_id, r.type) for r in rows
        ]
        for item, row in zip(items, rows, strict=True):
            assert item.payload["outcome"] == row.outcome
            assert item.payload["bant"] == row.bant
        seqs = [i.seq for i in items]
        assert seqs == sorted(set(seqs))  # strictly increasing
        assert all(s < self.next_seq for s in seqs)  # never beyond what was handed out
        return rows

    @rule(limit=st.integers(1, 6))
    def pending_lost_answer(self, limit: int) -> None:
        """pending() hands rows out; the push never comes back."""
        self._hand_out(limit)

    @rule(limit=st.integers(1, 6), answers=st.lists(st.sampled_from(ANSWERS), max_size=6))
    def push(self, limit: int, answers: list[str]) -> None:
        rows = self._hand_out(limit)
        results = []
        for row, answer in zip(rows, answers, strict=False):
            present = row.lead_id in self.server
            status, stored = answer, None
            if answer.startswith("dup_"):
                status, stored = "duplicate", answer[4:]
            effective = stored or status
            if effective == "out_of_order":
                results.append(PushResult(row.seq, "out_of_order"))
                continue
            self.outbox.remove(row)
            lead = None
            if effective == "applied":
                self._result(row, "applied")
                if present:
                    current = self.server[row.lead_id]
                    lead = replace(apply_row(current, row), version=current.version + 1)
                    self.server[row.lead_id] = lead
            else:
                self._result(row, effective)
                self.conflicts += 1
                # an undo of a refused mutation undoes nothing: it goes too
                self.outbox = [r for r in self.outbox if r.compensates is not row]
                if present and row.seq % 2:  # the server's lead, sent with half of them
                    lead = self.server[row.lead_id]
                    if row.type == "decide" and lead.status is Status.OPEN:
                        # already_decided: someone else was first
                        by_other = domain.Decision(Outcome.REJECT, "duplicate", None, NOW, "x@y.z")
                        lead = replace(lead.decided(by_other), version=lead.version + 1)
                        self.server[row.lead_id] = lead
            error = None if effective == "applied" else "already_decided"
            results.append(PushResult(row.seq, status, error, lead, stored))
        self.store.apply_push_results(results)

    # ------------------------------------------------------------ pull

    @rule(
        changed=st.lists(st.sampled_from(POOL), max_size=4, unique=True),
        data=st.data(),
        server_decides=st.booleans(),
        score=st.integers(0, 100),
        reset=st.booleans(),
        last_seq_back=st.one_of(st.none(), st.integers(0, 3)),
    )
    def pull(
        self,
        changed: list[str],
        data: st.DataObject,
        server_decides: bool,
        score: int,
        reset: bool,
        last_seq_back: int | None,
    ) -> None:
        # revoke leads we hold, those with pending mutations most of all
        with_rows = sorted({r.lead_id for r in self.outbox} & set(self.server))
        candidates = with_rows if with_rows and data.draw(st.booleans()) else sorted(self.server)
        revoked = []
        if candidates:
            revoked = data.draw(st.lists(st.sampled_from(candidates), max_size=2, unique=True))
        revoked = [i for i in revoked if i not in changed]
        page = []
        for lead_id in changed:
            if lead_id in self.server:
                current = self.server[lead_id]
                lead = replace(current, version=current.version + 1, score=score)
                if server_decides and current.status is Status.OPEN:
                    decision = domain.Decision(
                        Outcome.REJECT, "duplicate", None, NOW, "ops@example.com"
                    )
                    lead = lead.decided(decision)
            else:  # new, or assigned back after a revocation
                lead = server_lead(lead_id, version=10, score=score)
            page.append(lead)
        last_seq = None
        if last_seq_back is not None:
            last_seq = max(0, self.next_seq - 1 - last_seq_back)

        if reset:
            keep = {r.lead_id for r in self.outbox}
            self.server = {k: v for k, v in self.server.items() if k in keep}
        for lead_id in revoked:
            if lead_id in self.server:
                del self.server[lead_id]
                for row in [r for r in self.outbox if r.lead_id == lead_id and r.seq is None]:
                    self.outbox.remove(row)
                    if row.compensates is not None:  # an undo: no card of its own
                        continue
                    self._result(row, "revoked")
                    self.conflicts += 1
        for lead in page:
            self.server[lead.id] = lead
        if last_seq is not None:
            for row in [r for r in self.outbox if r.seq is not None and r.seq <= last_seq]:
                self.outbox.remove(row)
                if row.lead_id in self.server:
                    self._result(row, "processed")
                else:
                    self._result(row, "revoked")
                    self.conflicts += 1

        self.store.apply_pull(page, revoked, self._next_cursor(), reset=reset, last_seq=last_seq)

    # ------------------------------------------------------------ restart

    @precondition(lambda self: True)
    @rule()
    def reopen(self) -> None:
        self.store.close()
        self.store = Store.open(self.dir / "triage.db")

    # ------------------------------------------------------------ invariants

    @invariant()
    def views_match(self) -> None:
        for lead_id in POOL:
            got = self.store.lead(lead_id)
            if lead_id in self.server:
                assert got == self.view(lead_id), lead_id
            else:
                assert got is None, lead_id

    @invariant()
    def queue_matches(self) -> None:
        expected = {i for i in self.server if self.view(i).status is Status.OPEN}
        assert set(self.store.queue_ids(domain.Filter(), "sla", now=NOW)) == expected
        assert self.store.status(now=NOW).open == len(expected)
        pending = {r.lead_id for r in self.outbox}
        for row in self.store.queue_page(domain.Filter(status=tuple(Status)), "name", 0, 20):
            assert row.pending == (row.id in pending)

    @invariant()
    def nothing_lost(self) -> None:
        assert self.store.pending_count() == len(self.outbox)
        status = self.store.status(now=NOW)
        assert status.conflicts == self.conflicts == len(self.store.conflicts())
        assert self.store.sync_state().cursor == self.cursor


StoreMachine.TestCase.settings = settings(
    max_examples=50,
    stateful_step_count=30,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
TestStore = pytest.mark.slow(StoreMachine.TestCase)  # the long property test of the store
