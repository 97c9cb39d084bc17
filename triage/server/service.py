"""What the server does, independent of HTTP: the API and the `triage server` commands call
`Backend`, a facade over the services, one concern each (triage/server/services/): users
and tokens, the policy, leads and their assignment, the sync protocol, the feedback and
the report, webhooks. Nothing here knows HTTP."""

from __future__ import annotations

from triage.server.services.common import (
    Caller,
    Identity,
    RowProblems,
    ServiceError,
    TokenInfo,
    hash_token,
    history_wire,
    lead_wire,
    new_token,
)
from triage.server.services.core import READY_TIMEOUT, BackendCore
from triage.server.services.feedback import FeedbackMixin
from triage.server.services.history_import import HistoryImportMixin
from triage.server.services.imports import ImportOptions, ImportOutcome, ImportsMixin
from triage.server.services.leads import LeadsMixin
from triage.server.services.policies import PolicyMixin
from triage.server.services.sync import SyncMixin
from triage.server.services.users import UsersMixin
from triage.server.services.webhooks import WebhooksMixin


class Backend(
    SyncMixin,
    FeedbackMixin,
    ImportsMixin,
    HistoryImportMixin,
    LeadsMixin,
    PolicyMixin,
    UsersMixin,
    WebhooksMixin,
    BackendCore,
):
    """The server's services over one database (see Backend.open)."""


__all__ = [
    "READY_TIMEOUT", "Backend", "Caller", "Identity", "ImportOptions", "ImportOutcome",
    "RowProblems", "ServiceError",
    "TokenInfo", "hash_token", "history_wire", "lead_wire", "new_token",
]  # fmt: skip
