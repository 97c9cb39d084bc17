"""Snapshots of every screen at 120x40 and 80x24, and of the preview pane at 200x50 (frozen
clock, fixed data, no sync).

Regenerate with `pytest tests/test_tui_snapshots.py --snapshot-update`, then look at
the SVGs in tests/__snapshots__/ before committing them.
"""

from __future__ import annotations

import time

import pytest

from tests.support.tui import build_app, make_conflict, seed_store

SIZES = [pytest.param((120, 40), id="120x40"), pytest.param((80, 24), id="80x24")]


@pytest.fixture(autouse=True)
def utc(monkeypatch):
    """Times are shown in local time: pin it."""
    monkeypatch.setenv("TZ", "UTC")
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


@pytest.fixture
def snap_store(tmp_path):
    store = seed_store(tmp_path / "triage.db", 200)
    yield store
    store.close()


@pytest.mark.parametrize("size", SIZES)
def test_queue(snap_compare, snap_store, size):
    assert snap_compare(
        build_app(snap_store), press=["j", "space", "j", "space"], terminal_size=size
    )


def test_queue_chosen_columns(snap_compare, snap_store):
    """config.toml [queue] columns: age first, then name, company, BANT and score."""
    app = build_app(snap_store, columns=("age", "name", "company", "bant", "score"))
    assert snap_compare(app, terminal_size=(80, 24))


@pytest.mark.parametrize("size", [*SIZES, pytest.param((200, 50), id="200x50")])
def test_queue_grouped_by_account(snap_compare, snap_store, size):
    """`b`: the queue by account, its first row naming it with its count; `m` marks one."""
    press = ["b", "j", "j", "m"]
    assert snap_compare(build_app(snap_store), press=press, terminal_size=size)


@pytest.mark.parametrize("size", SIZES)
def test_detail(snap_compare, snap_store, size):
    assert snap_compare(
        build_app(snap_store), press=["j", "enter", "1", "2", "2"], terminal_size=size
    )


@pytest.mark.parametrize("size", SIZES)
def test_reason_picker(snap_compare, snap_store, size):
    assert snap_compare(build_app(snap_store), press=["n"], terminal_size=size)


@pytest.mark.parametrize("size", SIZES)
def test_conflicts(snap_compare, snap_store, size):
    make_conflict(snap_store, 5)
    make_conflict(snap_store, 9)
    assert snap_compare(build_app(snap_store), press=["c"], terminal_size=size)


@pytest.mark.parametrize("size", SIZES)
def test_help(snap_compare, snap_store, size):
    assert snap_compare(build_app(snap_store), press=["question_mark"], terminal_size=size)


def test_preview_pane(snap_compare, snap_store):
    """200x50: the queue and, beside it, the lead under the cursor (drawn at once: the
    first move after a pause is never held back)."""
    assert snap_compare(build_app(snap_store), press=["j", "j"], terminal_size=(200, 50))
