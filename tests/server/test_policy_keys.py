"""Reason keys on the server: served by GET /v1/policy (left out when none), refused with
the line of the second reason when two reasons of one list share a key."""

from __future__ import annotations

from tests.conftest import Live

POLICY = (
    '[[reject_reasons]]\ncode = "no_budget"\nkey = "b"\n\n'
    '[[reject_reasons]]\ncode = "other"\nnote_required = true\nkey = "o"\n\n'
    '[[reject_reasons]]\ncode = "spam"\n'
)


def test_the_policy_serves_the_keys_it_was_given(live: Live) -> None:
    body = live.mo.post("/v1/policy", params={"dry_run": "false"}, content=POLICY).json()
    assert body["version"] == 2, body
    reasons = live.ann.get("/v1/policy").json()["reject_reasons"]
    assert [r.get("key") for r in reasons] == ["b", "o", None]
    assert "key" not in reasons[2]  # an older client never sees a null it does not expect
    twice = POLICY.replace('key = "o"', 'key = "b"')
    body = live.mo.post("/v1/policy", content=twice).json()
    assert body["ok"] is False
    (error,) = body["errors"]
    assert error["line"] == 8 and "key 'b' is given to more than one reason" in error["problem"]
    changed = POLICY.replace('key = "o"', 'key = "x"')
    body = live.mo.post("/v1/policy", content=changed).json()
    assert "rejection reason changed: other: picker key o -> x" in body["changes"]
