"""The tables and indexes of marketing's workspace (migration 0006): web sessions, single-use
sign-in codes, and the indexes that the report aggregates (triage.server.reports) read by.

Imported with the other models (triage.server.db), so every table is known wherever the
models are.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Index
from sqlmodel import Field, SQLModel

from triage.server.models import ChangeLog, Event, Lead


class WebSession(SQLModel, table=True):
    """A signed-in browser. The cookie holds a random secret; only its SHA-256 is kept.

    A session made from a token ends with that token (revoked, expired); any session ends
    when its user is deactivated, or at `expires_at`. `csrf` is the session's form token.
    """

    id: str = Field(primary_key=True, max_length=64)
    user_id: int = Field(foreign_key="user.id", index=True)
    token_hash: str | None = Field(default=None, foreign_key="token.hash", max_length=64)
    csrf: str = Field(max_length=64)
    created_at: datetime
    expires_at: datetime


class SignInCode(SQLModel, table=True):
    """A single-use code that signs a marketing user in (`triage demo`, `triage server
    signin-code`): stored as its SHA-256, valid for minutes, spent on first use."""

    hash: str = Field(primary_key=True, max_length=64)
    user_id: int = Field(foreign_key="user.id", index=True)
    created_at: datetime
    expires_at: datetime
    used_at: datetime | None = None


# What the report aggregates select by (covering where it pays): decisions by their time,
# MQLs by theirs, open leads by their SLA clock, assignments by theirs; a lead's events.
# The four a breakdown reads also cover the dimensions it may be crossed with (CROSSED:
# industry, company size, country; not the free-text title), so that a campaign crossed
# with industry reads no lead row either (migration 0013); each ends with the lead id, so
# that a crossing by an attribute joins them with leadattribute alone (migration 0018).
CROSSED = (Lead.industry, Lead.company_size, Lead.country)
# Covering: a period's decisions are counted by outcome, owner, campaign and source, and
# timed from assignment to the first decision (decision_hours), from this index alone (no visit to the wide
# lead rows; migration 0010).
Index(
    "ix_lead_decided",
    Lead.decided_at, Lead.status, Lead.owner_id, Lead.assigned_at, Lead.mql_at,
    Lead.decision_hours, Lead.campaign, Lead.source, Lead.id, *CROSSED,
)  # fmt: skip
# All time, by campaign, source or rep (the qualification report): every lead in the
# group's order, so that counting by (group, outcome, reason) and the medians by group
# sort nothing and read no lead row (migration 0015).
for _dim in (Lead.campaign, Lead.source, Lead.owner_id):
    Index(
        f"ix_lead_all_{_dim.key}",
        _dim, Lead.status, Lead.decision_reason, Lead.decided_at, Lead.decision_hours,
        Lead.assigned_at, Lead.mql_at,
    )  # fmt: skip
# Covering: a period's rejections and nurtures counted by reason (and campaign, source
# or rep) without reading the decisions' JSON (migration 0009).
Index(
    "ix_lead_reason",
    Lead.status, Lead.decided_at, Lead.decision_reason, Lead.campaign, Lead.source,
    Lead.owner_id, *CROSSED, Lead.id,
)  # fmt: skip
# Nurtured leads by re-entry date, in the order the nurture list shows them (migration 0011).
Index("ix_lead_nurture_until", Lead.status, Lead.nurture_until, Lead.id)
Index("ix_lead_mql_at", Lead.mql_at, Lead.campaign, Lead.source, *CROSSED, Lead.id)
Index("ix_lead_assigned_at", Lead.assigned_at, Lead.owner_id)
Index(
    "ix_lead_status_assigned_at",
    Lead.status, Lead.assigned_at, Lead.mql_at, Lead.owner_id, Lead.campaign, Lead.source,
    *CROSSED, Lead.id,
)  # fmt: skip
Index("ix_event_kind_lead", Event.kind, Event.lead_id, Event.effective_at)
Index("ix_changelog_lead", ChangeLog.lead_id, ChangeLog.seq)  # a lead's history
