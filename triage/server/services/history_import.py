"""`triage server import --history FILE --map MAP`: a CRM's past decisions as leads decided
before Triage, so that a new installation's model learns from the team's history.

Each row (read by triage.server.suggest.history, through the import's own reader) becomes
a lead with the row's decision (the map's [history] outcome, reason and date), no owner,
no email needed, never linked as a duplicate, and the decision's feature row (table
`decisionfeatures`, as a rep's push writes it) that `suggest train` learns from. Its
decision's id is HISTORY_ID, and its `decided_at` stays empty: the reports' period
figures, the reps' figures and exports count decisions made in Triage only; a history
lead is in no rep's queue (it has no owner). Run again, the file changes nothing (leads by
external id); a row whose external id is a lead of Triage's own is skipped, saying so.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import delete
from sqlmodel import Session

from triage import domain
from triage.server import models
from triage.server.db import SeqAllocator, executemany, utcnow
from triage.server.services.common import RowProblems
from triage.server.services.imports import CHUNK, ImportOutcome
from triage.server.services.leads import (
    LeadsMixin,
    _by_external_id,
    _new_lead,
    insert_new_leads,
)
from triage.server.suggest import store
from triage.server.suggest.history import History
from triage.server.suggest.store import Decision

HISTORY_ID = models.HISTORY_DECISION_ID  # the decision id of an imported past decision

Item = tuple[str, domain.LeadInput, Decision]


def is_history(lead: Any) -> bool:
    return lead.owner_id is None and (lead.decision or {}).get("id") == HISTORY_ID


def _decision(d: Decision) -> dict[str, Any]:
    return {"outcome": d.outcome, "reason": d.reason, "note": None,
            "at": domain.format_time(d.at) if d.at else None, "by": None,
            "nurture_until": None, "id": HISTORY_ID}  # fmt: skip


class HistoryImportMixin:
    def import_history(self, found: History, *, dry_run: bool = False) -> ImportOutcome:
        """Create (or bring up to date) a decided lead per row of `found`; RowProblems
        (nothing written) for an external id on two rows."""
        items = [(label, lead, d) for (label, lead), d in zip(found.leads, found.decisions,
                                                               strict=True)]  # fmt: skip
        first: dict[str, str] = {}
        problems = []
        for label, lead, _ in items:
            seen = first.setdefault(lead.external_id, label)
            if seen != label:
                problems.append((label, [f"external_id {lead.external_id!r} is also {seen}'s"]))
        if problems:
            raise RowProblems(problems)
        outcome = ImportOutcome()
        outcome.skipped += [(f"{found.skipped} row(s)", "the map's [status] skips them")
                            ] if found.skipped else []  # fmt: skip
        for start in range(0, len(items), CHUNK):
            chunk = items[start : start + CHUNK]
            with self.db.rehearsal() if dry_run else self.db.write() as s:  # type: ignore[attr-defined]
                _write(s, chunk, outcome, dry_run)
            if not dry_run:
                self.db.give_way()  # type: ignore[attr-defined]
        return outcome


def _write(s: Session, chunk: Sequence[Item], outcome: ImportOutcome, dry_run: bool) -> None:
    existing = _by_external_id(s, [lead.external_id for _, lead, _ in chunk])
    seqs = SeqAllocator(s)
    now = utcnow()
    new_rows, features = [], []
    for label, item, d in chunk:
        lead = existing.get(item.external_id)
        if lead is None:
            made = _new_lead(item, None, seqs, now) if not dry_run else None
            if made is not None:
                if "mql_at" not in item.fields:
                    made.mql_at = None  # the row says none (an import would say now)
                _decide(made, d)
                new_rows.append(made)
                features.append((made, d))
            outcome.created += 1
        elif not is_history(lead):
            outcome.skipped.append((label, f"lead {lead.external_id} is in Triage already "
                                           f"({lead.status}): left as it is"))  # fmt: skip
        else:
            changed = LeadsMixin._update_lead(lead, item) | (lead.decision != _decision(d))
            if not changed:
                outcome.unchanged += 1
                continue
            outcome.updated += 1
            if dry_run:
                continue
            _decide(lead, d)
            lead.version += 1
            lead.seq = seqs.next(lead.id, "update")
            lead.updated_at = now
            s.execute(delete(store.TABLE).where(store.TABLE.c.lead_id == lead.id))
            features.append((lead, d))
    if dry_run:
        return
    insert_new_leads(s, new_rows)
    s.flush()
    executemany(s, store._INSERT, [
        {"seq": lead.seq, "lead_id": lead.id, "decision_id": HISTORY_ID, "outcome": d.outcome,
         "reason": d.reason, "decided_at": d.at or lead.mql_at or now}
        for lead, d in features
    ])  # fmt: skip
    seqs.close()


def _decide(lead: Any, d: Decision) -> None:
    lead.status = domain.Outcome(d.outcome).status.value
    lead.decision = _decision(d)
    lead.decision_reason = models.standing_reason(lead.decision)
    lead.decided_at = None  # not a decision made in Triage: no period counts it
