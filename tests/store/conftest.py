"""The store's tests: a fresh queue database in a private directory, opened and closed."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from triage.store import Store


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "data" / "triage.db"


@pytest.fixture
def store(db_path: Path) -> Iterator[Store]:
    s = Store.open(db_path)
    yield s
    s.close()
