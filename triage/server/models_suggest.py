"""The tables of the model of the team's decisions (migration 0010): each decision's
snapshot of the lead as it was decided, and the trained models.

Imported with the other models (triage.server.db), so every table is known wherever the
models are.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Column, LargeBinary
from sqlmodel import Field, SQLModel


class DecisionFeatures(SQLModel, table=True):
    """A decision and the lead as it was when decided (triage.server.suggest.features:
    its triage-time fields only, never who the lead is). Written with the decision's event,
    in the same transaction; removed when the rep undoes that decision. A decision set
    aside by a new cycle stays: it was the team's decision."""

    seq: int = Field(primary_key=True, sa_column_kwargs={"autoincrement": False})  # its event's
    lead_id: str = Field(foreign_key="lead.id", index=True, max_length=24)
    decision_id: str | None = Field(default=None, max_length=80)
    outcome: str = Field(max_length=10)
    reason: str | None = Field(default=None, max_length=64)
    decided_at: datetime
    # The lead's fields of triage.server.suggest.features.SNAPSHOT_FIELDS, copied from its
    # row by the database (INSERT ... SELECT: no JSON decoded and encoded again in a push).
    title: str | None = None
    industry: str | None = None
    company_size: str | None = None
    country: str | None = None
    source: str | None = None
    campaign: str | None = None
    score: int | None = None
    mql_at: datetime | None = None
    evidence: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    activities: list[Any] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    attributes: dict[str, Any] | None = Field(default=None, sa_column=Column(JSON, nullable=True))
    # The lead's suggestion as it stood when decided (its row's, copied by the database;
    # NULL while the policy turned suggestions off) and the policy's threshold then: the
    # rep saw it when its confidence reached the threshold (migration 0018).
    suggestion: dict[str, Any] | None = Field(default=None, sa_column=Column(JSON, nullable=True))
    suggestion_threshold: float | None = None


class SuggestModel(SQLModel, table=True):
    """A trained model (`triage server suggest train`): the pickled scikit-learn pipelines,
    the scikit-learn version that made them (another version is not loaded: retrain), and
    what it was trained on."""

    id: int | None = Field(default=None, primary_key=True)
    created_at: datetime
    decisions: int
    library: str = Field(max_length=40)
    summary: dict[str, Any] = Field(sa_column=Column(JSON, nullable=False))
    body: bytes = Field(sa_column=Column(LargeBinary, nullable=False))


class JobLease(SQLModel, table=True):
    """A server-wide job one instance runs at a time (the background retraining): the
    instance that holds it and until when (migration 0019). A lease left by an instance
    that died runs out, and another takes over."""

    name: str = Field(primary_key=True, max_length=40)
    owner: str | None = Field(default=None, max_length=80)
    until: datetime | None = None
