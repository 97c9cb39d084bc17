"""The TUI's tests: a store of 60 deterministic open leads and the app over it, with a
frozen clock and no sync."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.tui import build_app, seed_store
from triage.app import TriageApp
from triage.store import Store


@pytest.fixture(name="store")
def store_fixture(tmp_path: Path):
    """A store of 60 deterministic open leads."""
    s = seed_store(tmp_path / "triage.db", 60)
    yield s
    s.close()


@pytest.fixture(name="app")
def app_fixture(store: Store) -> TriageApp:
    """The app over `store`, frozen clock, no sync."""
    return build_app(store)
