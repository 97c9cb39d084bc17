"""The decision workflow: ask what a decision needs, commit it in one store call, undo it.

A screen posts `DecisionRequested`; the app hands it to `DecisionFlow.request`, which
asks for a confirmation (accepting a lead with a BANT "no") or a reason (reject,
nurture) with the dialogs of screens/reason.py, commits in one store call, says what it
did (naming the key that undoes it) and reports the change through `changed` (the app
broadcasts it to the screens). `undo` takes back the last decision or BANT answer.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from textual.app import App

from triage import domain
from triage.domain import Outcome
from triage.screens.messages import DecisionRequested, StoreChanged, host
from triage.screens.reason import ConfirmScreen, ReasonChoice, ReasonPicker
from triage.store import ActionError, ActionResult, Store, StoreError
from triage.widgets.fmt import OUTCOME_PAST, plural, reason_label

SMALL = 20  # up to this many leads, ask the store lead by lead; beyond, one query


class DecisionFlow:
    """Decisions and their undo, for the app that runs the dialogs (`app`)."""

    def __init__(
        self,
        app: App,
        store: Store,
        *,
        policy: Callable[[], domain.Policy],
        clock: Callable[[], datetime],
        changed: Callable[[StoreChanged], None],
    ) -> None:
        self.app = app
        self.store = store
        self.policy = policy
        self.clock = clock
        self.changed = changed
        self._labels: dict[str, tuple[str, tuple[str, ...]]] = {}  # action_id -> (label, ids)
        self._pickers: dict[Outcome, ReasonPicker] = {}  # installed, by outcome

    # ------------------------------------------------------------ asking

    def request(self, request: DecisionRequested) -> None:
        """Ask what is needed (confirmation, reason), then commit in one store call."""
        outcome, ids, bulk = request.outcome, list(request.lead_ids), request.bulk
        if outcome is None:
            self.reopen(ids)
            return
        subject = self._names(ids)

        def commit(choice: ReasonChoice | None = None) -> None:
            self.commit(outcome, ids, subject, choice, bulk=bulk, follow=request.follow)

        if outcome is Outcome.ACCEPT:
            detail = self._bant_no_detail(ids, subject)
            if detail is None:
                commit()
                return

            def confirmed(ok: bool | None) -> None:
                if ok:
                    commit()

            self.app.push_screen(ConfirmScreen("Accept anyway?", detail), confirmed)
            return

        def picked(choice: ReasonChoice | None) -> None:
            if choice is not None:
                commit(choice)

        if bulk:  # the title names what will be decided: the marks, not the cursor's lead
            picker = self._picker(outcome, plural(len(ids), "marked lead"), bulk=True)
        else:
            picker = self._picker(outcome, subject, suggested=request.reason)
        self.app.push_screen(picker, picked)

    def _names(self, lead_ids: list[str]) -> str:
        if len(lead_ids) == 1:
            lead = self.store.lead(lead_ids[0])
            return lead.name if lead else lead_ids[0]
        return plural(len(lead_ids), "lead")

    def _bant_no_detail(self, ids: list[str], subject: str) -> str | None:
        """Why accepting `ids` needs a confirmation (a BANT "no"), or None."""
        flagged = self._bant_no_count(ids)
        if not flagged:
            return None
        if len(ids) > 1:
            verb = "has" if flagged == 1 else "have"
            return f"{flagged:,} of the {len(ids):,} leads {verb} a BANT “no”."
        lead = self.store.lead(ids[0])
        noes = [
            c.label
            for c in self.policy().bant
            if lead is not None and lead.bant_answer(c.key) is domain.Answer.NO
        ] or ["A BANT answer"]
        names = ", ".join(noes[:-1]) + " and " + noes[-1] if len(noes) > 1 else noes[0]
        return f"{subject}: {names} {'is' if len(noes) == 1 else 'are'} “no”."

    def _bant_no_count(self, lead_ids: list[str]) -> int:
        if len(lead_ids) <= SMALL:
            return sum(
                1
                for i in lead_ids
                if (lead := self.store.lead(i)) is not None and lead.has_bant_no()
            )
        wanted = set(lead_ids)
        flagged: set[str] = set()
        for key in self.policy().bant_keys:
            flt = domain.parse_filter(f"bant:{key}=no")
            flagged.update(
                i for i in self.store.queue_ids(flt, "sla", now=self.clock()) if i in wanted
            )
        return len(flagged)

    def _picker(
        self, outcome: Outcome, subject: str, *, bulk: bool = False, suggested: str | None = None
    ) -> ReasonPicker:
        """The reason picker of `outcome`, kept installed between decisions (so `r` shows
        it at once after the first time); made again when the policy changes."""
        app = self.app
        policy = self.policy()
        today = self.clock().astimezone().date()
        name = f"reasons-{outcome.value}"
        picker = self._pickers.get(outcome)
        if picker is not None and (picker.policy != policy or picker in app.screen_stack):
            if picker not in app.screen_stack:
                app.uninstall_screen(name)
            del self._pickers[outcome]
            picker = None
        if picker is None:
            picker = ReasonPicker(policy, outcome, subject, today=today)
            if not app.is_screen_installed(name):
                self._pickers[outcome] = picker
                app.install_screen(picker, name=name)
        return picker.prepare(subject, today, bulk=bulk, suggested=suggested)

    # ------------------------------------------------------------ committing

    def commit(
        self,
        outcome: Outcome,
        lead_ids: list[str],
        subject: str,
        choice: ReasonChoice | None = None,
        *,
        bulk: bool = False,
        follow: str | None = None,
    ) -> ActionResult | None:
        """One store call (one transaction) on the UI thread: a few ms for one lead,
        about a second for 10,000. Marks can go stale (a sync decided some of the
        leads meanwhile): the store refuses the whole batch, and it is retried once
        with the leads that are still open."""

        def decide(ids: list[str]) -> ActionResult:
            return self.store.decide(
                ids,
                outcome,
                reason=choice.code if choice else None,
                note=choice.note if choice else None,
                nurture_until=choice.nurture_until if choice else None,
                at=self.clock(),
            )

        try:
            try:
                result = decide(lead_ids)
            except ActionError as exc:
                if not bulk or exc.code not in ("not_open", "unknown_lead"):
                    raise
                still_open = self._open_only(lead_ids)
                if not still_open:
                    raise
                result = decide(still_open)
                subject = plural(len(still_open), "lead")
        except ActionError as exc:
            self.app.notify(exc.message, severity="error", title="Nothing changed")
            return None
        except StoreError as exc:
            self.app.notify(str(exc), severity="error", title="Nothing changed")
            return None
        label = f"{OUTCOME_PAST[outcome.value]} {subject}"
        if choice is not None:
            label += f" · {reason_label(self.policy(), outcome, choice.code)}"
            if choice.nurture_until:
                label += f" · until {choice.nurture_until.isoformat()}"
        self._labels[result.action_id] = (label, result.lead_ids)
        self.changed(StoreChanged("decision", follow, lead_ids=result.lead_ids, bulk=bulk))
        undo = host(self.app).key_label("undo", "u")
        self.app.notify(f"{label} · {undo} to undo", timeout=4)
        return result

    def _open_only(self, lead_ids: list[str]) -> list[str]:
        """Marked leads that are still open (a sync may have decided some meanwhile)."""
        if len(lead_ids) <= SMALL:
            out = []
            for i in lead_ids:
                lead = self.store.lead(i)
                if lead is not None and lead.status is domain.Status.OPEN:
                    out.append(i)
            return out
        open_ids = set(self.store.queue_ids(domain.Filter(), "sla", now=self.clock()))
        return [i for i in lead_ids if i in open_ids]

    # ------------------------------------------------------------ undoing

    def reopen(self, lead_ids: list[str]) -> None:
        """Take back the rep's decisions of these leads (any, not only the last action's)."""
        subject = self._names(lead_ids)
        try:
            result = self.store.reopen(lead_ids)
        except (ActionError, StoreError) as exc:
            message = getattr(exc, "message", str(exc))
            self.app.notify(message, severity="error", title="Nothing changed")
            return
        self.changed(StoreChanged("undo", result.lead_ids[0] if result.count == 1 else None))
        self.app.notify(f"Reopened {subject}: open again, decide it anew", timeout=4)

    def undo(self) -> None:
        """Undo the last decision or BANT answer, and say which."""
        try:
            result = self.store.undo()
        except (ActionError, StoreError) as exc:
            self.app.notify(getattr(exc, "message", str(exc)), severity="error")
            return
        if result is None:
            self.app.notify("Nothing to undo", severity="warning")
            return
        label, ids = self._labels.pop(result.action_id, (None, ()))
        if label is None:
            label = (
                f"decision on {plural(result.count, 'lead')}"
                if result.kind == "decide"
                else "BANT answer"
            )
        else:
            label = label[0].lower() + label[1:]
        restored = ids[0] if len(ids) == 1 else None
        self.changed(StoreChanged("undo", restored))
        message = f"Undid: {label}"
        if result.via_reopen:
            message += " (already sent: undo sent as reopen)"
        self.app.notify(message, timeout=3)
