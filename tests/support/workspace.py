"""A server database filled as months of real use would leave it, written directly with SQL
(fast enough for 100,000 leads): for the workspace's browser tests, its screenshots and
bench/workspace.py. The same data for the same arguments.

Leads arrive over `days` days, are assigned minutes to hours after their MQL time, and
most are decided within a few hours to a few days of assignment; some decisions were
undone (reopen) and made again; nurtured leads carry a re-entry date; notes say why.
"""

from __future__ import annotations

import random
import secrets
from datetime import datetime, timedelta, timezone
from types import SimpleNamespace
from typing import Any

from sqlalchemy import insert, select, update

from triage import domain
from triage.server import models
from triage.server.db import SEQ
from triage.server.service import Backend

REPS = (("ann@example.com", "Ann Lee"), ("bob@example.com", "Bob Stone"),
        ("cat@example.com", "Cat Ruiz"), ("dev@example.com", "Dev Rao"))  # fmt: skip
CAMPAIGNS = ("q4-launch", "roadshow-emea", "ebook-2026", "retargeting", "partner-week",
             "webinar-ai", "=HYPERLINK(\"x\")")  # fmt: skip
SOURCES = ("webinar", "tradeshow", "content", "paid_search", "referral")
INDUSTRIES = ("Manufacturing", "Logistics", "Software", "Healthcare", "Retail")
SIZES = ("11-50", "51-200", "201-1000", "1001-5000")
COUNTRIES = ("DE", "FR", "GB", "US", "JP", "IN", "BR")
# Attributes as a HubSpot export's unplaced columns leave them (derived from the lead's
# number, not drawn, so the other columns keep their values)
STAGES = ("lead", "marketingqualifiedlead", "salesqualifiedlead", "opportunity")
RATINGS = ("Hot", "Warm", "Cold")
TITLES = ("VP Operations", "Head of IT", "CTO", "Procurement Manager", "Data Engineer", "Student")
NOTES = {
    "no_budget": "Budget frozen until next fiscal year; asked us to check back in Q2.",
    "not_decision_maker": "Intern researching tools for their manager.",
    "no_need": "They built this in-house last year and are happy with it.",
    "other": "Reseller looking for a partnership, not a buyer. Passed to the partner team.",
    "timing_later": "Evaluating after their ERP migration finishes (about 6 months).",
    "no_response": "Three calls and two emails, no answer.",
    "spam_or_student": "Student project, thesis on logistics software.",
}


def seed(
    backend: Backend,
    n_leads: int,
    *,
    events_per_lead: float = 1.0,
    days: int = 120,
    now: datetime | None = None,
    seed: int = 7,
) -> dict[str, int]:
    """Fill `backend`'s database: the reps of REPS and `n_leads` leads with their events
    (about `events_per_lead` each: extra decide/reopen pairs make up the difference).
    Returns what it wrote."""
    rnd = random.Random(seed)
    now = (now or datetime.now(timezone.utc)).replace(microsecond=0)
    ids: dict[str, int] = {}
    for email, name in REPS:
        existing = [u for u in backend.users() if u.email == email]
        ids[email] = existing[0].id if existing else backend.add_user(email, name, "rep")[0].id
    reps = list(ids)
    leads: list[dict[str, Any]] = []
    events: list[dict[str, Any]] = []
    seq = 0
    with backend.db.read() as s:
        seq = s.execute(select(models.Counter.value).where(models.Counter.name == SEQ)).scalar_one()
    start = now - timedelta(days=days)
    extra_pairs = max(0.0, (events_per_lead - 0.8) / 2)
    for i in range(n_leads):
        mql = start + timedelta(seconds=rnd.randrange(int(days * 86400)))
        campaign = CAMPAIGNS[min(len(CAMPAIGNS) - 1, int(rnd.expovariate(0.45)))]
        owner = None if rnd.random() < 0.04 else reps[rnd.randrange(len(reps))]
        assigned = mql + timedelta(minutes=rnd.randrange(5, 240)) if owner else None
        if assigned and assigned > now:
            assigned = now
        lead_id = secrets.token_hex(6)
        status, decision, decided_at, first_decided = "open", None, None, None
        age_h = (now - assigned).total_seconds() / 3600 if assigned else 0
        decide_h = rnd.lognormvariate(2.3, 1.1)  # median about 10 h
        seq += 1
        lead_seq = seq
        history = None
        cycles = int(extra_pairs) + (1 if rnd.random() < extra_pairs % 1 else 0)
        if owner and cycles:  # earlier cycles: decided by another rep, then reassigned
            history = []
            t0 = mql
            for c in range(cycles):
                other = reps[(reps.index(owner) + 1 + c) % len(reps)]
                t_dec = t0 + (assigned - t0) / 3
                t_end = t0 + 2 * (assigned - t0) / 3 if c < cycles - 1 else assigned
                for kind, at in (("decide", t_dec), ("reassign", t_end)):
                    seq += 1
                    events.append(dict(
                        seq=seq, lead_id=lead_id, user_id=ids[other if kind == "decide" else owner],
                        kind=kind, outcome="nurture" if kind == "decide" else None,
                        reason="no_response" if kind == "decide" else None, note=None,
                        nurture_until=None, client_at=at, effective_at=at, received_at=at,
                    ))  # fmt: skip
                history.append({"outcome": "nurture", "reason": "no_response", "note": None,
                                "at": domain.format_time(t_dec), "by": other,
                                "decided_at": domain.format_time(t_dec), "owner": other,
                                "ended_at": domain.format_time(t_end), "ended_by": None,
                                "reassigned_to": owner})  # fmt: skip
                t0 = t_end
        if owner and decide_h < age_h and rnd.random() < 0.93:
            roll = rnd.random()
            good = 0.15 + (0.25 if campaign in ("webinar-ai", "partner-week") else 0)
            if roll < good:
                outcome, reason = "accept", None
            elif roll < good + 0.2:
                outcome = "nurture"
                reason = rnd.choice(("timing_later", "early_research", "no_response",
                                     "budget_next_cycle"))  # fmt: skip
            else:
                outcome = "reject"
                reason = rnd.choice(("no_budget", "no_budget", "not_decision_maker", "no_need",
                                     "not_icp_fit", "bad_contact_data", "duplicate",
                                     "spam_or_student", "other"))  # fmt: skip
            decided_at = first_decided = assigned + timedelta(hours=decide_h)
            note = NOTES.get(reason) if reason == "other" or rnd.random() < 0.25 else None
            until = None
            if outcome == "nurture":
                until = (decided_at + timedelta(days=rnd.randrange(14, 180))).date()
            if rnd.random() < 0.04:  # a decision undone (reopen) and made again
                t = first_decided = assigned + (decided_at - assigned) / 3
                for kind in ("decide", "reopen"):
                    seq += 1
                    events.append(dict(
                        seq=seq, lead_id=lead_id, user_id=ids[owner], kind=kind,
                        outcome="reject" if kind == "decide" else None,
                        reason="no_need" if kind == "decide" else None, note=None,
                        nurture_until=None, client_at=t, effective_at=t, received_at=t,
                    ))  # fmt: skip
            seq += 1
            lead_seq = seq
            events.append(dict(
                seq=seq, lead_id=lead_id, user_id=ids[owner], kind="decide", outcome=outcome,
                reason=reason, note=note, nurture_until=until, client_at=decided_at,
                effective_at=decided_at, received_at=decided_at,
            ))  # fmt: skip
            status = domain.Outcome(outcome).status.value
            decision = {"outcome": outcome, "reason": reason, "note": note,
                        "at": domain.format_time(decided_at), "by": owner,
                        "nurture_until": until.isoformat() if until else None}  # fmt: skip
        n = i + 1
        leads.append(dict(
            id=lead_id, external_id=f"W-{seed}-{n:06d}", version=1, seq=lead_seq,
            owner_id=ids[owner] if owner else None,
            name=f"{rnd.choice(('Jane', 'Omar', 'Lena', 'Ravi', 'Chloe', 'Mateo', 'Yuki'))} "
                 f"{rnd.choice(('Doe', 'Haddad', 'Fischer', 'Patel', 'Martin', 'Tanaka'))}",
            email=f"p{n}@corp{n % 97}.example", email_key=f"p{n}@corp{n % 97}.example",
            attributes={"lifecycle_stage": STAGES[n % 4], "rating": RATINGS[(n * 7) % 3],
                        "pageviews": (n * 37) % 200, "unsubscribed": n % 11 == 0,
                        "create_date": (mql - timedelta(days=n % 9)).date().isoformat()},
            phone=None, title=rnd.choice(TITLES),
            company=f"Corp {n % 97}", industry=rnd.choice(INDUSTRIES),
            company_size=rnd.choice(SIZES), country=rnd.choice(COUNTRIES),
            source=rnd.choice(SOURCES), campaign=campaign, score=rnd.randrange(101),
            mql_at=mql, assigned_at=assigned,
            evidence={"budget": "Form: $50k-100k", "need": "Downloaded the ebook"},
            activities=[{"at": domain.format_time(mql), "kind": "form", "detail": "Demo request"}],
            bant={}, status=status, decision=decision, decided_at=decided_at, history=history,
            decision_reason=models.standing_reason(decision), first_decided_at=first_decided,
            decision_hours=models.decision_hours(SimpleNamespace(
                first_decided_at=first_decided, assigned_at=assigned, mql_at=mql)),
            nurture_until=models.standing_until(decision),
            created_at=mql, updated_at=decided_at or assigned or mql,
        ))  # fmt: skip
    with backend.db.write() as s:
        for i in range(0, len(leads), 2000):
            s.execute(insert(models.Lead.__table__), leads[i : i + 2000])
            attrs = [r for lead in leads[i : i + 2000]
                     for r in models.attribute_rows(lead["id"], lead["attributes"])]  # fmt: skip
            s.execute(insert(models.LeadAttribute.__table__), attrs)
        for i in range(0, len(events), 5000):
            s.execute(insert(models.Event.__table__), events[i : i + 5000])
        s.execute(update(models.Counter).where(models.Counter.name == SEQ).values(value=seq))
    return {"leads": len(leads), "events": len(events)}
