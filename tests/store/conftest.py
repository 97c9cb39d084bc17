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


@pytest.fixture
def mine(store: Store) -> Store:
    """A rep's store (ann@example.com) with leads L000001 ... L000007 pulled."""
    from tests.support.factories import make_lead

    store.set_me("ann@example.com", "Ann Rep", "rep")
    store.apply_pull([make_lead(i) for i in range(1, 8)], [], cursor=7)
    return store
