"""What an import from marketing's systems brings to the rep's side: a lead may have no score
(never 0: `score:<20` leaves it out, the wire leaves `score` out), attributes (typed, carried
in the pull, kept by the store, matched by `attr:KEY=VALUE`) and a possible duplicate."""

from __future__ import annotations

import json
import sqlite3
from dataclasses import replace
from pathlib import Path

import pytest

from tests.support.factories import make_lead
from triage import domain, protocol
from triage import store as store_module
from triage.domain import parse_filter
from triage.store import Store


def _ids(store: Store, query: str) -> list[str]:
    return sorted(r.id for r in store.queue_page(parse_filter(query), "sla", 0, 100))


@pytest.fixture
def store(tmp_path: Path):
    s = Store.open(tmp_path / "triage.db")
    yield s
    s.close()


def test_a_lead_without_a_score_has_none_and_the_wire_leaves_it_out() -> None:
    unscored = replace(make_lead(1), score=None)
    wire = domain.lead_to_dict(unscored)
    assert "score" not in wire
    assert domain.lead_from_dict(wire).score is None
    # the client's parser takes an answer without `score` (a newer server's unscored lead)
    assert protocol.lead_from_wire(protocol.LeadWire.model_validate(wire)).score is None
    # a score of 0 is a score: sent, and read back as 0
    zero = domain.lead_to_dict(replace(unscored, score=0))
    assert zero["score"] == 0 and domain.lead_from_dict(zero).score == 0


def test_attributes_and_duplicate_travel_and_are_left_out_when_empty() -> None:
    lead = replace(
        make_lead(2),
        attributes={"segment": "Retail", "employees": 250, "churned": False, "since": "2026-11-03"},
        duplicate_of={"id": "abc", "external_id": "HS-1", "name": "Jane Doe"},
    )
    wire = domain.lead_to_dict(lead)
    assert wire["attributes"]["employees"] == 250 and wire["attributes"]["churned"] is False
    back = protocol.lead_from_wire(protocol.LeadWire.model_validate(json.loads(json.dumps(wire))))
    assert back.attributes == lead.attributes  # types kept: 250 stays a number, False a bool
    assert back.duplicate_of == lead.duplicate_of
    plain = domain.lead_to_dict(make_lead(3))
    assert "attributes" not in plain and "duplicate_of" not in plain


def test_the_store_keeps_attributes_and_filters_on_them(store: Store) -> None:
    leads = [
        replace(make_lead(1), attributes={"segment": "Retail", "employees": 250}),
        replace(make_lead(2), attributes={"segment": "Manufacturing", "vip": True}),
        replace(make_lead(3), attributes={"segment": "Einzelhändler"}),
        make_lead(4),
    ]
    store.apply_pull(leads, [], 1)
    assert store.lead(leads[0].id).attributes == {"segment": "Retail", "employees": 250}
    assert _ids(store, "attr:segment=retail") == [leads[0].id]  # case folded
    assert _ids(store, "attr:Segment=RETAIL") == [leads[0].id]
    assert _ids(store, "attr:segment=einzelhandler") == [leads[2].id]  # accents folded
    assert _ids(store, "attr:employees=250") == [leads[0].id]
    assert _ids(store, "attr:vip=true") == [leads[1].id]
    assert _ids(store, "attr:vip") == [leads[1].id]  # has the attribute
    assert _ids(store, "attr:segment") == sorted(x.id for x in leads[:3])
    assert _ids(store, "attr:segment=retail attr:vip") == []
    assert parse_filter("attr:=x").errors and parse_filter("attr:segment=").errors


def test_score_filters_leave_unscored_leads_out(store: Store) -> None:
    leads = [replace(make_lead(1), score=None), replace(make_lead(2), score=5),
             replace(make_lead(3), score=0), replace(make_lead(4), score=90)]  # fmt: skip
    store.apply_pull(leads, [], 1)
    assert _ids(store, "score:<20") == sorted([leads[1].id, leads[2].id])
    assert _ids(store, "score:>70") == [leads[3].id]
    assert store.lead(leads[0].id).score is None
    # the unscored lead sorts after every scored one on the score sort
    rows = store.queue_page(domain.Filter(), "score", 0, 10)
    assert rows[-1].id == leads[0].id and rows[-1].score is None


def test_a_version_7_store_migrates_keeping_scores_and_indexing_attributes(
    tmp_path: Path,
) -> None:
    path = tmp_path / "old.db"
    conn = sqlite3.connect(path, isolation_level=None)
    for migrate in store_module._MIGRATIONS[:7]:
        migrate(conn)
    conn.execute("PRAGMA user_version = 7")
    conn.close()
    # leads written as a version-7 store holds them, one with attributes in its JSON (a
    # newer server's pull that an older client kept whole)
    with_attrs = replace(make_lead(1, score=0), attributes={"segment": "Retail"})
    rows = [store_module.rows._lead_row(x) for x in (with_attrs, make_lead(2, score=33))]
    conn = sqlite3.connect(path, isolation_level=None)
    later = (
        "attributes_key",
        "account_key",
        "email_key",
        "account_sort",
        "suggestion",
        "suggestion_confidence",
    )  # (the columns of migrations 8, 9, 11, 12 and 13)
    columns = [c for c in store_module.rows._LEAD_COLUMNS if c not in later]
    for row, server in rows:
        values = [v for c, v in zip(store_module.rows._LEAD_COLUMNS, row, strict=True)
                  if c not in later]  # fmt: skip
        conn.execute(
            f"INSERT INTO leads ({', '.join(columns)}) VALUES ({','.join('?' * len(columns))})",
            values,
        )
        conn.execute("INSERT INTO lead_server (id, version, json) VALUES (?, ?, ?)", server)
    conn.close()
    with Store.open(path) as s:
        assert s._conn.execute("PRAGMA user_version").fetchone()[0] == store_module.SCHEMA_VERSION
        indexes = {
            r[0] for r in s._conn.execute("SELECT name FROM sqlite_master WHERE type='index'")
        }
        assert {"leads_sla", "leads_score", "leads_external"} <= indexes
        assert s.lead(with_attrs.id).score == 0  # an earlier 0 stays 0
        assert _ids(s, "attr:segment=retail") == [with_attrs.id]
        assert _ids(s, "score:<20") == [with_attrs.id]
        s.apply_pull([replace(make_lead(3), score=None)], [], 2)  # NULL now fits
        assert s.lead(make_lead(3).id).score is None
