"""The client's local SQLite store: leads, outbox, undo journal, conflicts, sync state.

A facade (`Store`) over small parts, one job each: schema.py (the schema and its
migrations), base.py (opening, transactions, meta), meta.py (sync state, the rep, the
server, the policy), rows.py and view.py (a lead's view and the queue's projection),
inbox.py (pulls), outbox.py (pushes and their answers), heal.py (a server restore),
queue.py (filters as SQL), actions.py (decide, BANT, undo), status.py (counts,
conflicts), day.py (the rep's day), records.py (what it hands out).

Plain ``sqlite3`` on purpose: the TUI must paint its first screen fast, and a
10,000-lead bulk decision must be one quick transaction. The store speaks
domain objects only (``triage.domain``); it knows nothing of the wire, the UI
or the network.

The model:

* ``lead_server`` holds the *server state* of each lead (the full lead, JSON).
  ``outbox`` holds the rep's mutations until the server answers for them.
  The *local view* of a lead is always the server state with its outbox rows
  replayed in order (:func:`_replay`); :meth:`Store.lead` derives it on read.
* ``leads`` is the queue's projection: the columns the queue shows, filters
  and sorts on, including the view's ``status`` and ``bant_*`` answers.
  :meth:`Store._recompute` is the one place that refreshes those two from
  the replay (a decision may also set ``status`` directly: the same value).
* Protocol seq numbers are assigned lazily by :meth:`Store.pending`, the
  first time a row is handed out for pushing, so an undo that deletes
  never-sent rows leaves no gap in the seqs the server sees. A row with a
  seq may have reached the server: it is never deleted except by the
  server's answer (a push result, or ``last_seq`` from a pull). Undo
  compensates for it instead (``reopen``, or a ``bant`` mutation restoring
  the previous answer).
* ``actions`` / ``action_leads`` are the undo journal, and with
  ``conflicts`` also the lead's history.
* Every user action is one ``BEGIN IMMEDIATE`` transaction that writes the
  new view, its outbox rows and the undo journal together.

Schema changes: append a function to ``_MIGRATIONS``; ``PRAGMA user_version``
records how many have run.
"""

from __future__ import annotations

from triage.store.actions import ActionsMixin
from triage.store.base import StoreBase
from triage.store.common import MAX_NOTE
from triage.store.day import DayMixin, MyDay
from triage.store.heal import HealMixin
from triage.store.inbox import InboxMixin
from triage.store.meta import MetaMixin
from triage.store.outbox import OutboxMixin
from triage.store.queue import _ORDER, QueueMixin
from triage.store.records import (
    Account,
    ActionError,
    ActionResult,
    ConflictEntry,
    Healed,
    HistoryEntry,
    LeadRow,
    OutboxItem,
    PendingCounts,
    PullApplied,
    PushResult,
    QueueRow,
    StoreError,
    StoreStatus,
    SyncState,
    UndoResult,
)
from triage.store.schema import _MIGRATIONS, APP_ID, SCHEMA_VERSION
from triage.store.status import StatusMixin
from triage.store.view import ViewMixin


class Store(
    ActionsMixin, QueueMixin, HealMixin, OutboxMixin, InboxMixin, StatusMixin, ViewMixin,
    DayMixin, MetaMixin, StoreBase,
):  # fmt: skip
    """The local database. Use one instance per thread (UI, sync worker) on the same
    file; an instance is also safe to share, one call at a time (a lock guards it)."""

    SORTS = tuple(_ORDER)


__all__ = [
    "APP_ID", "MAX_NOTE", "SCHEMA_VERSION", "_MIGRATIONS", "ActionError", "ActionResult",
    "Account", "ConflictEntry", "Healed", "HistoryEntry", "LeadRow", "MyDay", "OutboxItem", "PendingCounts", "PullApplied",
    "PushResult", "QueueRow", "Store", "StoreError", "StoreStatus", "SyncState", "UndoResult",
]  # fmt: skip
