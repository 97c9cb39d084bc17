"""Small pieces every part of the store uses: limits, JSON, times, SQL helpers."""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from datetime import datetime, timezone
from typing import Any

from triage.domain import BANT_KEYS, Answer

MAX_NOTE = 2000  # the protocol's limit on a note: a longer one could never be pushed

_CHUNK = 900  # ids per IN (...) list, below SQLite's bound-parameter limit

_CACHE_KIB = 32 * 1024  # page cache per connection: a 100k-lead queue stays in memory

_NO_TIME = 1e18  # mql_sort of a lead without mql_at: after every real time

_NO_ACCOUNT = "\U0010ffff"  # account_sort of a lead without an account: after every account

_BANT_COLUMNS = {key: f"bant_{key}" for key in BANT_KEYS}

_BANT_SQL = ", ".join(_BANT_COLUMNS.values())

_UNKNOWN = Answer.UNKNOWN.value

_REFUSED = ("conflict", "invalid", "revoked")  # results of mutations that never took effect


def _dumps(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def _epoch(dt: datetime | None) -> float | None:
    return None if dt is None else dt.timestamp()


def _from_epoch(value: float | None) -> datetime | None:
    return None if value is None else datetime.fromtimestamp(value, timezone.utc)


def _utc(value: float) -> datetime:
    return datetime.fromtimestamp(value, timezone.utc)


def _marks(n: int) -> str:
    return ",".join("?" * n)


def _chunks(items: Sequence[Any], size: int = _CHUNK) -> Iterator[Sequence[Any]]:
    for i in range(0, len(items), size):
        yield items[i : i + size]


def _like(word: str) -> str:
    escaped = word.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def _name_ids(ids: Sequence[str], limit: int = 10) -> str:
    shown = ", ".join(ids[:limit])
    return shown + (f" (and {len(ids) - limit} more)" if len(ids) > limit else "")
