"""Protocol feature "own_changes": a pull with `own=true` names the leads whose last change
was this client's own decision or undo by id and version, instead of sending them whole;
anything else (another client's change, a BANT answer, marketing's) still comes whole.
Over real HTTP (SQLite and PostgreSQL)."""

from __future__ import annotations

import uuid
from datetime import datetime, timezone
from typing import Any

import pytest

from tests.conftest import Actor, Live
from tests.support.factories import lead_row


def _mut(seq: int, lead_id: str, type: str = "decide", **kw: Any) -> dict[str, Any]:
    at = datetime.now(timezone.utc).isoformat().replace("+00:00", "Z")
    return {"seq": seq, "lead_id": lead_id, "type": type, "at": at, **kw}


def _push(actor: Actor, client_id: str, mutations: list[dict]) -> None:
    body = {"client_id": client_id, "mutations": mutations}
    r = actor.post("/v1/sync/push", json=body)
    assert r.status_code == 200 and all(x["status"] == "applied" for x in r.json()["results"])


def _pull(actor: Actor, client_id: str, cursor: int, **params: Any) -> dict[str, Any]:
    q = {"cursor": cursor, "client_id": client_id, **params}
    r = actor.get("/v1/sync/pull", params=q)
    assert r.status_code == 200, r.text
    return r.json()


@pytest.fixture
def ids(live: Live) -> list[str]:
    live.upsert([lead_row(n) for n in range(1, 7)])  # ann's
    return [live.backend.lead(f"ext-{n}")["id"] for n in range(1, 7)]


def test_health_lists_own_changes(live: Live) -> None:
    assert "own_changes" in live.ann.get("/v1/health").json()["features"]


def test_own_decisions_and_undos_come_by_id_and_version(live: Live, ids) -> None:
    me, other = str(uuid.uuid4()), str(uuid.uuid4())
    cursor = _pull(live.ann, me, 0)["cursor"]
    _push(live.ann, me, [_mut(1, ids[0], outcome="reject", reason="no_budget"),
                         _mut(2, ids[1], outcome="accept"),
                         _mut(3, ids[1], "reopen"),
                         _mut(4, ids[2], "bant", bant={"need": "yes"}),
                         _mut(5, ids[3], outcome="accept"),
                         _mut(6, ids[3], "bant", bant={"need": "no"})])  # fmt: skip
    _push(live.ann, other, [_mut(1, ids[4], outcome="accept")])
    live.upsert([lead_row(6, name="Renamed")])
    page = _pull(live.ann, me, cursor, own="true")
    own = {o["id"]: o["version"] for o in page["own"]}
    assert own == {i: live.backend.lead(i)["version"] for i in ids[:2]}
    assert sorted(x["id"] for x in page["leads"]) == sorted(ids[2:])
    assert page["revoked"] == [] and not page["has_more"]
    # without the flag, or for another client: every lead whole, and no `own`
    plain = _pull(live.ann, me, cursor)
    assert "own" not in plain and sorted(x["id"] for x in plain["leads"]) == sorted(ids)
    theirs = _pull(live.ann, other, cursor, own="true")
    assert [o["id"] for o in theirs["own"]] == [ids[4]]


def test_own_changes_count_in_the_page_and_keep_change_order(live: Live, ids) -> None:
    me = str(uuid.uuid4())
    cursor = _pull(live.ann, me, 0)["cursor"]
    _push(live.ann, me, [_mut(n + 1, i, outcome="accept") for n, i in enumerate(ids[:4])])
    live.upsert([lead_row(5, name="Renamed")])
    seen: list[str] = []
    while True:
        page = _pull(live.ann, me, cursor, own="true", limit=2)
        assert len(page["leads"]) + len(page["own"]) <= 2
        seen += [o["id"] for o in page["own"]] + [x["id"] for x in page["leads"]]
        cursor = page["cursor"]
        if not page["has_more"]:
            break
    assert seen == [*ids[:4], ids[4]]


def test_from_zero_every_lead_comes_whole(live: Live, ids) -> None:
    me = str(uuid.uuid4())
    _push(live.ann, me, [_mut(1, ids[0], "bant", bant={"need": "yes"})])
    _push(live.ann, me, [_mut(2, ids[1], outcome="accept"), _mut(3, ids[1], "reopen")])
    page = _pull(live.ann, me, 0, own="true")
    assert "own" not in page and {x["id"] for x in page["leads"]} == set(ids)
