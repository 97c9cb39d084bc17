"""Protocol feature "push_patch": a push that asks for patches gets, for a mutation that was
the only change to its lead since the client's base_version, what it changed instead of the
whole lead; anything else still comes whole. Over real HTTP (SQLite and PostgreSQL)."""

from __future__ import annotations

import uuid
from datetime import datetime, timezone
from typing import Any

import pytest

from tests.conftest import Actor, Live
from tests.support.factories import lead_row

PATCH_KEYS = {"id", "version", "status", "bant", "decision"}


def _mut(seq: int, lead_id: str, base: int = 1, **kw: Any) -> dict[str, Any]:
    at = datetime.now(timezone.utc).isoformat().replace("+00:00", "Z")
    return {"seq": seq, "lead_id": lead_id, "type": "decide", "at": at, "base_version": base, **kw}


def _push(actor: Actor, client_id: str, mutations: list[dict], **flags: Any) -> list[dict]:
    r = actor.post("/v1/sync/push", json={"client_id": client_id, "mutations": mutations, **flags})
    assert r.status_code == 200, r.text
    return r.json()["results"]


@pytest.fixture
def ids(live: Live) -> list[str]:
    live.upsert([lead_row(n) for n in range(1, 5)])  # ann's
    return [live.backend.lead(f"ext-{n}")["id"] for n in range(1, 5)]


def test_health_lists_push_patch(live: Live) -> None:
    assert "push_patch" in live.ann.get("/v1/health").json()["features"]


def test_a_change_to_the_lead_as_sent_is_answered_with_a_patch(live: Live, ids) -> None:
    [res] = _push(
        live.ann, str(uuid.uuid4()),
        [_mut(1, ids[0], outcome="reject", reason="other", note="wrong region",
              bant={"budget": "no"})],
        patch=True,
    )  # fmt: skip
    assert (res["status"], res["lead"]) == ("applied", None)
    assert set(res["patch"]) == PATCH_KEYS
    whole = live.backend.lead(ids[0])
    assert res["patch"] == {k: whole[k] for k in PATCH_KEYS}
    assert res["patch"]["version"] == 2 and res["patch"]["status"] == "rejected"
    assert res["patch"]["decision"]["note"] == "wrong region"


def test_without_the_flag_the_answer_is_the_whole_lead(live: Live, ids) -> None:
    [res] = _push(live.ann, str(uuid.uuid4()), [_mut(1, ids[0], outcome="accept")])
    assert "patch" not in res
    assert res["lead"] == live.backend.lead(ids[0])


def test_a_lead_changed_since_the_base_version_comes_whole(live: Live, ids) -> None:
    live.upsert([lead_row(1, name="Renamed by marketing")])
    assert live.backend.lead(ids[0])["version"] == 2
    [res] = _push(live.ann, str(uuid.uuid4()), [_mut(1, ids[0], outcome="accept")], patch=True)
    assert res.get("patch") is None
    assert res["lead"]["name"] == "Renamed by marketing" and res["lead"]["version"] == 3


def test_two_changes_of_one_lead_in_a_batch(live: Live, ids) -> None:
    """The first follows the base version: a patch. The second (made on the same base)
    does not: the whole lead, as it stands at the end of the push."""
    first, second = _push(
        live.ann, str(uuid.uuid4()),
        [{**_mut(1, ids[0]), "type": "bant", "bant": {"need": "yes"}},
         _mut(2, ids[0], outcome="reject", reason="no_budget")],
        patch=True,
    )  # fmt: skip
    assert first["patch"]["version"] == 2 and first["patch"]["bant"] == {"need": "yes"}
    assert first["patch"]["status"] == "open" and first["patch"]["decision"] is None
    assert second.get("patch") is None
    assert second["lead"] == live.backend.lead(ids[0]) and second["lead"]["version"] == 3


def test_duplicates_conflicts_and_refusals_come_whole(live: Live, ids) -> None:
    client = str(uuid.uuid4())
    batch = [_mut(1, ids[0], outcome="accept"), _mut(2, ids[1], outcome="reject", reason="bogus")]
    applied, invalid = _push(live.ann, client, batch, patch=True)
    assert applied["patch"] is not None and invalid["status"] == "invalid"
    assert invalid.get("patch") is None and invalid["lead"]["id"] == ids[1]
    again = _push(live.ann, client, batch, patch=True)
    assert [r["status"] for r in again] == ["duplicate", "duplicate"]
    assert again[0].get("patch") is None and again[0]["lead"] == live.backend.lead(ids[0])
    other = _push(live.bob, str(uuid.uuid4()), [_mut(1, ids[2], outcome="accept")], patch=True)
    assert other[0]["error"] == "not_assigned"
    assert other[0]["lead"] is None and other[0].get("patch") is None
    [conflict] = _push(live.ann, client, [_mut(3, ids[0], outcome="accept")], patch=True)
    assert conflict["error"] == "already_decided" and conflict.get("patch") is None
    assert conflict["lead"] == live.backend.lead(ids[0])
