"""Who may call what: every endpoint x every kind of caller, over real HTTP (SQLite and PostgreSQL).

Also: nothing bob receives ever tells him about ann's leads, and tokens are stored hashed.
"""

from __future__ import annotations

import hashlib
import secrets
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import create_engine, text

from tests.conftest import Live
from tests.support.backend import row_counts
from tests.support.factories import lead_row
from triage.server.db import normalise_url
from triage.server.service import ServiceError

CALLERS = ("ann", "bob", "mo", "none", "wrong", "malformed")

# Authorization headers that are not "Bearer <token>"; {ann} is ann's real token.
MALFORMED = (
    "{ann}",  # no scheme
    "Basic {ann}",
    "Token {ann}",
    "Bearer",
    "Bearer{ann}",
    "Bearer\t{ann}",
    "Bearer {ann} {ann}",
    "Bearer {ann}x",
    "Bearer " + "A" * 5000,
)


def _at() -> str:
    return "2026-11-21T10:00:00Z"


def _headers(live: Live, caller: str) -> list[dict[str, str]]:
    """The Authorization headers to try for a caller (several for `malformed`)."""
    if caller in ("ann", "bob", "mo"):
        return [{"Authorization": f"Bearer {getattr(live, caller).token}"}]
    if caller == "none":
        return [{}]
    if caller == "wrong":
        return [
            {"Authorization": f"Bearer {secrets.token_urlsafe(32)}"},
            {"Authorization": "Bearer " + hashlib.sha256(live.ann.token.encode()).hexdigest()},
        ]
    return [{"Authorization": h.format(ann=live.ann.token)} for h in MALFORMED]


Request = tuple[str, str, dict[str, Any]]


class World:
    """Leads for the matrix: each caller gets its own target, so effects can be checked."""

    def __init__(self, live: Live):
        self.live = live
        rows = [lead_row(2, owner="bob@example.com")]
        rows += [lead_row(10 + i, owner=None) for i in range(len(CALLERS))]
        rows += [lead_row(20 + i) for i in range(len(CALLERS))]
        live.upsert(rows)
        self.bob_lead = live.backend.lead("ext-2")["id"]
        self.free = {c: live.backend.lead(f"ext-{10 + i}")["id"] for i, c in enumerate(CALLERS)}
        # ann's leads, one per caller: a push that slipped through would decide it
        self.ann = {c: live.backend.lead(f"ext-{20 + i}")["id"] for i, c in enumerate(CALLERS)}
        self.n = 0

    def push(self, caller: str) -> Request:
        lead = self.bob_lead if caller == "bob" else self.ann[caller]
        mutation = {"seq": 1, "lead_id": lead, "type": "decide", "outcome": "accept", "at": _at()}
        body = {"client_id": str(uuid.uuid4()), "mutations": [mutation]}
        return "POST", "/v1/sync/push", {"json": body}

    def upsert(self, caller: str) -> Request:
        self.n += 1
        row = lead_row(100 + self.n, owner=None, external_id=f"authz-{caller}-{self.n}")
        return "POST", "/v1/leads", {"json": {"leads": [row]}}

    def assign(self, caller: str) -> Request:
        return (
            "POST",
            f"/v1/leads/{self.free[caller]}/assign",
            {"json": {"owner": "bob@example.com"}},
        )


def _get(path: str, **params: Any) -> Callable[[str], Request]:
    return lambda _caller: ("GET", path, {"params": params})


ALL_200 = dict.fromkeys(CALLERS, 200)
ANY_USER = {"ann": 200, "bob": 200, "mo": 200, "none": 401, "wrong": 401, "malformed": 401}
REPS = {"ann": 200, "bob": 200, "mo": 403, "none": 401, "wrong": 401, "malformed": 401}
MARKETING = {"ann": 403, "bob": 403, "mo": 200, "none": 401, "wrong": 401, "malformed": 401}

ENDPOINTS: dict[str, tuple[Callable[[World], Callable[[str], Request]], dict[str, int]]] = {
    "health": (lambda w: _get("/v1/health"), ALL_200),
    "me": (lambda w: _get("/v1/me"), ANY_USER),
    "policy": (lambda w: _get("/v1/policy"), ANY_USER),
    "pull": (lambda w: _get("/v1/sync/pull", cursor=0, limit=10), REPS),
    "push": (lambda w: w.push, REPS),
    "upsert": (lambda w: w.upsert, MARKETING),
    "assign": (lambda w: w.assign, MARKETING),
    "feedback": (lambda w: _get("/v1/feedback", cursor=0), MARKETING),
    "report": (lambda w: _get("/v1/reports/qualification", by="campaign"), MARKETING),
}


@pytest.mark.parametrize("endpoint", list(ENDPOINTS))
def test_authorization_matrix(live: Live, endpoint: str) -> None:
    world = World(live)
    make, expected = ENDPOINTS[endpoint]
    request = make(world)
    got: dict[str, set[int]] = {}
    with httpx.Client(base_url=live.url, timeout=30) as http:
        for caller in CALLERS:
            for headers in _headers(live, caller):
                method, path, kw = request(caller)
                r = http.request(method, path, headers=headers, **kw)
                got.setdefault(caller, set()).add(r.status_code)
                assert "Traceback" not in r.text
                if r.status_code != 200:
                    body = r.json()
                    assert set(body) == {"error", "detail"}, body
                    assert body["error"] == {401: "unauthorized", 403: "forbidden"}[r.status_code]
                    assert body["detail"]
    assert got == {caller: {status} for caller, status in expected.items()}
    _check_no_effect_from_refused_callers(live, world, endpoint, expected)


def _check_no_effect_from_refused_callers(
    live: Live, world: World, endpoint: str, expected: dict[str, int]
) -> None:
    allowed = {c for c, status in expected.items() if status == 200}
    if endpoint == "push":
        assert live.backend.lead(world.bob_lead)["status"] == "accepted"
        statuses = {c: live.backend.lead(world.ann[c])["status"] for c in CALLERS if c != "bob"}
        assert statuses == {c: ("accepted" if c == "ann" else "open") for c in statuses}
        assert len(live.mo.get("/v1/feedback").json()["events"]) == 2
    elif endpoint == "upsert":
        created = [
            c
            for c in CALLERS
            if any(_exists(live, f"authz-{c}-{n}") for n in range(1, world.n + 1))
        ]
        assert created == [c for c in CALLERS if c in allowed]
    elif endpoint == "assign":
        owners = {c: live.backend.lead(world.free[c])["owner"] for c in CALLERS}
        assert owners == {c: ("bob@example.com" if c in allowed else None) for c in CALLERS}
    else:
        # read-only endpoints: nothing changed
        assert row_counts(live.backend)["events"] == 0
        assert row_counts(live.backend)["leads"] == 1 + 2 * len(CALLERS)


def _exists(live: Live, external_id: str) -> bool:
    try:
        live.backend.lead(external_id)
    except Exception:
        return False
    return True


def test_bearer_scheme_is_case_insensitive(live: Live) -> None:
    for scheme in ("bearer", "BEARER", "Bearer"):
        r = live.anon.get("/v1/me", headers={"Authorization": f"{scheme} {live.ann.token}"})
        assert r.status_code == 200 and r.json()["email"] == "ann@example.com"


def test_a_rotated_token_replaces_the_old_one(live: Live) -> None:
    """Issue 8: add-user on an existing user no longer hands out another live token; a new
    token comes from rotation, which revokes the old ones at once."""
    with pytest.raises(ServiceError, match="token rotate"):
        live.backend.add_user("ann@example.com", None, "rep")
    _, token, _, revoked = live.backend.rotate_token("ann@example.com")
    assert token != live.ann.token and revoked == 1
    r = live.anon.get("/v1/me", headers={"Authorization": f"Bearer {token}"})
    assert r.json()["email"] == "ann@example.com"
    r = live.anon.get("/v1/me", headers={"Authorization": f"Bearer {live.ann.token}"})
    assert r.status_code == 401


# ---------------------------------------------------------------- bob never learns about ann's leads


def test_nothing_bob_receives_is_about_anns_leads(live: Live) -> None:
    ann_rows = [
        lead_row(
            n,
            external_id=f"annsecret-{n}",
            name=f"Annabel Secretperson{n}",
            email=f"annsecret{n}@hidden{n}.example",
            company=f"Hiddenco{n}",
            phone=f"+44 20 7946 09{n:02d}",
        )
        for n in range(1, 6)
    ]
    bob_rows = [lead_row(n, owner="bob@example.com") for n in range(20, 24)]
    live.upsert(ann_rows + bob_rows)
    ann_ids = [live.backend.lead(f"annsecret-{n}")["id"] for n in range(1, 6)]
    bob_ids = [live.backend.lead(f"ext-{n}")["id"] for n in range(20, 24)]
    secrets_ = set(ann_ids)
    for row in ann_rows:
        secrets_ |= {row["external_id"], row["name"], row["email"], row["company"], row["phone"]}

    # ann works on her leads: decisions, BANT, a reopening; her client id is hers
    ann_client = str(uuid.uuid4())
    ann_push = [
        {"seq": 1, "lead_id": ann_ids[0], "type": "decide", "outcome": "accept", "at": _at()},
        {
            "seq": 2,
            "lead_id": ann_ids[1],
            "type": "decide",
            "outcome": "reject",
            "reason": "no_budget",
            "at": _at(),
        },
        {"seq": 3, "lead_id": ann_ids[2], "type": "bant", "bant": {"need": "yes"}, "at": _at()},
        {"seq": 4, "lead_id": ann_ids[1], "type": "reopen", "at": _at()},
    ]
    r = live.ann.post("/v1/sync/push", json={"client_id": ann_client, "mutations": ann_push})
    assert [x["status"] for x in r.json()["results"]] == ["applied"] * 4

    seen: list[httpx.Response] = []

    def bob(method: str, path: str, **kw: Any) -> httpx.Response:
        resp = live.bob.client.request(method, path, **kw)
        seen.append(resp)
        return resp

    bob("GET", "/v1/me")
    bob("GET", "/v1/policy")
    top = bob("GET", "/v1/sync/pull", params={"cursor": 0}).json()["cursor"]
    assert top > 0
    for cursor in range(0, top + 2):
        for limit in (1, 1000):
            page = bob("GET", "/v1/sync/pull", params={"cursor": cursor, "limit": limit}).json()
            assert {x["id"] for x in page["leads"]} <= set(bob_ids)
            assert page["revoked"] == []
    bob("GET", "/v1/sync/pull", params={"cursor": 10**9})
    assert bob("GET", "/v1/sync/pull", params={"client_id": ann_client}).status_code == 403

    # bob pushes every kind of mutation at ann's leads, and at leads that do not exist
    mutations: list[dict[str, Any]] = []
    targets = [*ann_ids, "no-such-lead", "000000000000"]
    for lead_id in targets:
        for extra in (
            {"type": "decide", "outcome": "accept"},
            {"type": "decide", "outcome": "reject", "reason": "no_budget"},
            {"type": "decide", "outcome": "reject", "reason": "not-a-reason"},
            {"type": "decide"},
            {"type": "bant", "bant": {"budget": "no"}},
            {"type": "bant", "bant": {"colour": "no"}},
            {"type": "reopen"},
        ):
            mutations.append({"seq": len(mutations) + 1, "lead_id": lead_id, "at": _at(), **extra})
    bob_client = str(uuid.uuid4())
    body = {"client_id": bob_client, "mutations": mutations}
    first = bob("POST", "/v1/sync/push", json=body)
    resent = bob("POST", "/v1/sync/push", json=body)
    assert first.status_code == resent.status_code == 200
    for res in first.json()["results"]:
        assert (res["status"], res["error"], res["lead"]) == ("conflict", "not_assigned", None)
    for res in resent.json()["results"]:
        assert (res["status"], res["stored"], res["error"], res["lead"]) == (
            "duplicate",
            "conflict",
            "not_assigned",
            None,
        )
    # an existing lead of ann's and a lead that does not exist get the same answer
    per_target = len(mutations) // len(targets)
    results = first.json()["results"]
    chunks = [
        [(r["status"], r["error"], r["lead"]) for r in results[i : i + per_target]]
        for i in range(0, len(results), per_target)
    ]
    assert all(c == chunks[-1] for c in chunks)
    # bob cannot borrow ann's client id, not even to read or to push nothing
    assert (
        bob("POST", "/v1/sync/push", json={"client_id": ann_client, "mutations": []}).status_code
        == 403
    )
    assert (
        bob(
            "POST",
            "/v1/sync/push",
            json={"client_id": ann_client, "mutations": ann_push[:1]},
        ).status_code
        == 403
    )
    # marketing endpoints: refused, without data
    assert bob("GET", "/v1/feedback", params={"cursor": 0}).status_code == 403
    assert bob("GET", "/v1/reports/qualification", params={"by": "rep"}).status_code == 403
    assert (
        bob("POST", f"/v1/leads/{ann_ids[3]}/assign", json={"owner": "bob@example.com"}).status_code
        == 403
    )
    assert bob("POST", "/v1/leads", json={"leads": [ann_rows[0]]}).status_code == 403
    # bad requests that name ann's leads must not echo lead data either
    bob(
        "POST",
        "/v1/sync/push",
        json={"client_id": bob_client, "mutations": [{"seq": "x", "lead_id": ann_ids[0]}]},
    )
    bob("GET", f"/v1/leads/{ann_ids[0]}")

    assert len(seen) > 20
    for resp in seen:
        assert "Traceback" not in resp.text
        leaked = sorted(s for s in secrets_ if s in resp.text)
        assert leaked == [], (resp.request.method, str(resp.request.url), leaked)

    # and nothing bob did changed ann's leads
    states = [(live.backend.lead(i)["status"], live.backend.lead(i)["bant"]) for i in ann_ids]
    assert states == [
        ("accepted", {}),
        ("open", {}),
        ("open", {"need": "yes"}),
        ("open", {}),
        ("open", {}),
    ]
    assert {live.backend.lead(i)["owner"] for i in ann_ids} == {"ann@example.com"}
    # ann's client state was not touched by bob's attempts
    r = live.ann.get("/v1/sync/pull", params={"client_id": ann_client})
    assert r.json()["last_seq"] == 4


# ---------------------------------------------------------------- tokens at rest


def test_tokens_are_stored_hashed(live: Live, db_url: str) -> None:
    tokens = [live.ann.token, live.bob.token, live.mo.token]
    assert all(len(t) >= 43 for t in tokens)  # 32 random bytes, url-safe base64
    assert len(set(tokens)) == 3
    engine = create_engine(normalise_url(db_url))
    try:
        with engine.connect() as conn:
            rows = [dict(r._mapping) for r in conn.execute(text("SELECT * FROM token"))]
            users = [dict(r._mapping) for r in conn.execute(text('SELECT * FROM "user"'))]
    finally:
        engine.dispose()
    assert len(rows) == 3
    stored = " ".join(str(v) for row in rows + users for v in row.values())
    for t in tokens:
        assert t not in stored
    assert {row["hash"] for row in rows} == {hashlib.sha256(t.encode()).hexdigest() for t in tokens}
    if db_url.startswith("sqlite:///"):
        # nothing on disk either (database file and its write-ahead log)
        path = Path(db_url.removeprefix("sqlite:///"))
        blob = b"".join(p.read_bytes() for p in path.parent.glob(path.name + "*"))
        assert b"ann@example.com" in blob  # the scan does look at the data
        for t in tokens:
            assert t.encode() not in blob
