"""Bad requests get a clear 4xx JSON error, never a 500, and change nothing (SQLite and PostgreSQL)."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

from tests.conftest import Live
from tests.support.backend import row_counts
from tests.support.factories import lead_row
from triage.server import models
from triage.server.live import ServerThread

SMALL = 10_000
AT = "2026-11-21T10:00:00Z"
JSON = {"content-type": "application/json"}


def db_state(live: Live) -> dict[str, Any]:
    """Everything the server stores, read in one snapshot."""
    L, C, R = models.Lead, models.ClientState, models.Revocation
    with live.backend.db.read() as s:

        def rows(*cols: Any) -> list[tuple]:
            return sorted(tuple(r) for r in s.execute(select(*cols)).all())

        def count(model: Any) -> int:
            return s.execute(select(func.count()).select_from(model)).scalar_one()

        return {
            "backend_counts": row_counts(live.backend),
            "leads": rows(L.id, L.external_id, L.version, L.seq, L.owner_id, L.status, L.name),
            "data": sorted(
                (x.id, json.dumps([x.bant, x.decision, x.evidence, x.score, x.email]))
                for x in s.execute(select(L)).scalars()
            ),
            "counter": s.execute(select(models.Counter.value)).scalar_one(),
            "clients": rows(C.client_id, C.user_id, C.last_seq),
            "revocations": rows(R.user_id, R.lead_id, R.seq),
            "counts": [
                count(m)
                for m in (
                    models.MutationLog,
                    models.Event,
                    models.User,
                    models.Token,
                    models.PolicyDoc,
                )
            ],
        }


class Guard:
    """Sends bad requests and checks each answer, and that the database did not move."""

    def __init__(self, live: Live):
        self.live = live
        self.client_id = str(uuid.uuid4())
        live.upsert([lead_row(n) for n in range(1, 5)] + [lead_row(5, owner="bob@example.com")])
        self.lead = live.backend.lead("ext-1")["id"]
        r = live.ann.post(
            "/v1/sync/push",
            json={
                "client_id": self.client_id,
                "mutations": [
                    {
                        "seq": 1,
                        "lead_id": self.lead,
                        "type": "decide",
                        "outcome": "accept",
                        "at": AT,
                    }
                ],
            },
        )
        assert r.json()["results"][0]["status"] == "applied"
        self.state = db_state(live)
        self.pull = self._pull()

    def _pull(self) -> Any:
        r = self.live.ann.get("/v1/sync/pull", params={"cursor": 0, "client_id": self.client_id})
        assert r.status_code == 200
        return r.json()

    def check(self, r: httpx.Response, status: int, error: str | None = None) -> dict[str, Any]:
        where = f"{r.request.method} {r.request.url}: {r.status_code} {r.text[:300]}"
        assert r.status_code == status, where
        assert "Traceback" not in r.text
        assert r.headers["content-type"].startswith("application/json"), where
        body = r.json()
        assert {"error", "detail"} <= set(body), where
        assert set(body) - {"error", "detail"} <= {"rows"}, where
        assert isinstance(body["detail"], str) and body["detail"], where
        if error is not None:
            assert body["error"] == error, where
        assert db_state(self.live) == self.state, where
        return body

    def unchanged(self) -> None:
        assert db_state(self.live) == self.state
        assert self._pull() == self.pull


@pytest.fixture
def guard(live: Live) -> Guard:
    return Guard(live)


@pytest.fixture
def small(live: Live) -> Iterator[str]:
    """A second server on the same database, with a 10 kB body limit."""
    thread = ServerThread(live.backend, max_body=SMALL).start()
    try:
        yield thread.url
    finally:
        thread.stop()


def _push_body(mutations: list[Any], client_id: str | None = None) -> dict[str, Any]:
    return {"client_id": client_id or str(uuid.uuid4()), "mutations": mutations}


# ---------------------------------------------------------------- malformed JSON


MALFORMED = [
    b"{",
    b"}",
    b'{"client_id": }',
    b'{"leads": [1, 2,]}',
    b"{'single': 'quotes'}",
    b"nul",
    b'{"a": 1} trailing',
    b"\xff\xfe{}",
]
# Bodies that are not even text: 400, whichever error code the parser gives.
UNDECODABLE = [
    b'{"owner": "\xc3\x28"}',  # invalid UTF-8 inside a string
    b"[" * 4000 + b"]" * 4000,  # nesting deep enough to break a recursive parser
    b'{"a":' * 3000 + b"1" + b"}" * 3000,
]


def test_malformed_json_is_a_400(guard: Guard) -> None:
    live = guard.live
    targets = [
        (live.ann, "/v1/sync/push"),
        (live.mo, "/v1/leads"),
        (live.mo, f"/v1/leads/{guard.lead}/assign"),
    ]
    for actor, path in targets:
        for body in MALFORMED:
            guard.check(actor.post(path, content=body, headers=JSON), 400, "bad_json")
        ctype = {"content-type": "application/json; charset=utf-8"}
        guard.check(actor.post(path, content=b"{", headers=ctype), 400, "bad_json")
        for body in UNDECODABLE:
            b = guard.check(actor.post(path, content=body, headers=JSON), 400)
            assert b["error"] in ("bad_json", "http_error")
    guard.unchanged()


# ---------------------------------------------------------------- wrong types


def test_wrong_types_are_a_422(guard: Guard) -> None:
    live = guard.live
    cid = str(uuid.uuid4())
    push_bodies: list[tuple[Any, str]] = [
        ([], ""),
        ("x", ""),
        (None, ""),
        ({}, "client_id"),
        ({"mutations": []}, "client_id"),
        ({"client_id": "nope", "mutations": []}, "client_id"),
        ({"client_id": 5, "mutations": []}, "client_id"),
        ({"client_id": cid}, "mutations"),
        ({"client_id": cid, "mutations": "x"}, "mutations"),
        ({"client_id": cid, "mutations": None}, "mutations"),
        ({"client_id": cid, "mutations": {"seq": 1}}, "mutations"),
        ({"client_id": cid, "mutations": [5]}, "mutations.0"),
        ({"client_id": cid, "mutations": [{}]}, "mutations.0.seq"),
        ({"client_id": cid, "mutations": [{"seq": 0}]}, "mutations.0.seq"),
        ({"client_id": cid, "mutations": [{"seq": -1}]}, "mutations.0.seq"),
        ({"client_id": cid, "mutations": [{"seq": "abc"}]}, "mutations.0.seq"),
        ({"client_id": cid, "mutations": [{"seq": 1.5}]}, "mutations.0.seq"),
        ({"client_id": cid, "mutations": [{"seq": None}]}, "mutations.0.seq"),
        ({"client_id": cid, "mutations": [{"seq": True}]}, "mutations.0.seq"),
        ({"client_id": cid, "mutations": [{"seq": 1.0}]}, "mutations.0.seq"),
        ({"client_id": cid, "mutations": [{"seq": "1"}]}, "mutations.0.seq"),
        (
            {"client_id": guard.client_id, "mutations": [{"seq": 2}, {"seq": "x"}]},
            "mutations.1.seq",
        ),
    ]
    for body, field in push_bodies:
        b = guard.check(live.ann.post("/v1/sync/push", json=body), 422, "invalid_request")
        assert field in b["detail"], (body, b)
    upsert_bodies: list[tuple[Any, str]] = [
        ([], ""),
        ({}, "leads"),
        ({"leads": "x"}, "leads"),
        ({"leads": None}, "leads"),
        ({"leads": {"external_id": "x"}}, "leads"),
        ({"leads": [1]}, "leads.0"),
        ({"leads": [[]]}, "leads.0"),
        ({"leads": [lead_row(9), "x"]}, "leads.1"),
    ]
    for body, field in upsert_bodies:
        b = guard.check(live.mo.post("/v1/leads", json=body), 422, "invalid_request")
        assert field in b["detail"], (body, b)
    for body in ({}, {"owner": 5}, {"owner": None}, {"owner": ["ann@example.com"]}, []):
        r = live.mo.post(f"/v1/leads/{guard.lead}/assign", json=body)
        b = guard.check(r, 422, "invalid_request")
        assert "owner" in b["detail"] or body == [], (body, b)
    # an empty body, declared as JSON
    for actor, path in ((live.ann, "/v1/sync/push"), (live.mo, "/v1/leads")):
        guard.check(actor.post(path, content=b"", headers=JSON), 422, "invalid_request")
    guard.unchanged()


def test_rows_with_wrong_values_are_a_422_naming_every_row(guard: Guard) -> None:
    live = guard.live
    rows = [
        lead_row(1, name="Changed"),  # good on its own
        lead_row(20, score="high"),
        lead_row(21, score=True),
        lead_row(22, mql_at="0001-01-01T00:00:00+14:00"),  # before year 1 in UTC
        lead_row(23, activities=[{"at": "9999-12-31T23:59:59-14:00", "kind": "x", "detail": ""}]),
        lead_row(24, name="nul\x00byte"),
        lead_row(25, evidence_need="nul\x00byte"),
        lead_row(26, activities=[{"at": AT, "kind": "visit", "detail": "nul\x00byte"}]),
        lead_row(27, owner=5),
        lead_row(28, activities="yesterday"),
    ]
    b = guard.check(live.mo.post("/v1/leads", json={"leads": rows}), 422, "invalid_rows")
    assert [row["row"] for row in b["rows"]] == [f"row {n}" for n in range(2, 11)]
    # lone surrogates (valid JSON escapes, but not text a database can store)
    raw = (
        b'{"leads": [{"external_id": "s1", "name": "\\ud800", "email": "s@x.example"},'
        b' {"external_id": "s2", "name": "ok", "email": "s@x.example", "\\udfff": "x"}]}'
    )
    b = guard.check(live.mo.post("/v1/leads", content=raw, headers=JSON), 422, "invalid_rows")
    assert [row["row"] for row in b["rows"]] == ["row 1", "row 2"]
    guard.unchanged()


# ---------------------------------------------------------------- sizes


def test_oversized_bodies_are_a_413(guard: Guard, small: str) -> None:
    live = guard.live
    rows = [lead_row(100 + n, owner=None) for n in range(120)]
    body = json.dumps({"leads": rows}).encode()
    assert len(body) > SMALL
    mutations = [
        {"seq": 2 + n, "lead_id": guard.lead, "type": "bant", "bant": {"need": "no"}, "at": AT}
        for n in range(150)
    ]
    push = json.dumps(_push_body(mutations, guard.client_id)).encode()
    assert len(push) > SMALL
    with (
        httpx.Client(base_url=small, headers={"Authorization": f"Bearer {live.mo.token}"}) as mo,
        httpx.Client(base_url=small, headers={"Authorization": f"Bearer {live.ann.token}"}) as ann,
    ):
        # with a content-length
        guard.check(mo.post("/v1/leads", content=body, headers=JSON), 413, "too_large")
        guard.check(ann.post("/v1/sync/push", content=push, headers=JSON), 413, "too_large")

        # chunked, no content-length
        def chunks(data: bytes, size: int = 1000) -> Iterator[bytes]:
            for i in range(0, len(data), size):
                yield data[i : i + size]

        r = mo.post("/v1/leads", content=chunks(body), headers=JSON)
        assert "content-length" not in r.request.headers
        assert r.request.headers["transfer-encoding"] == "chunked"
        guard.check(r, 413, "too_large")
        guard.check(ann.post("/v1/sync/push", content=chunks(push), headers=JSON), 413)
        # one big chunk
        guard.check(mo.post("/v1/leads", content=chunks(body, 10**6), headers=JSON), 413)
        # no token and too big: refused either way, nothing read
        r = httpx.post(small + "/v1/leads", content=body, headers=JSON)
        assert r.status_code in (401, 413)
        guard.unchanged()
        # the same server takes a body under the limit, chunked or not
        small_rows = json.dumps({"leads": rows[:3]}).encode()
        r = mo.post("/v1/leads", content=chunks(small_rows, 100), headers=JSON)
        assert r.status_code == 200 and r.json()["created"] == 3
        r = mo.post("/v1/leads", content=small_rows, headers=JSON)
        assert r.status_code == 200 and r.json()["unchanged"] == 3
    assert row_counts(live.backend)["leads"] == guard.state["backend_counts"]["leads"] + 3


def test_too_many_mutations_or_leads_is_a_422(guard: Guard) -> None:
    live = guard.live
    mutations = [
        {"seq": 2 + n, "lead_id": guard.lead, "type": "bant", "bant": {"need": "no"}, "at": AT}
        for n in range(1001)
    ]
    r = live.ann.post("/v1/sync/push", json=_push_body(mutations, guard.client_id))
    b = guard.check(r, 422, "invalid_request")
    assert "mutations" in b["detail"]
    r = live.mo.post("/v1/leads", json={"leads": [{}] * 10_001})
    b = guard.check(r, 422, "invalid_request")
    assert "leads" in b["detail"]
    guard.unchanged()
    # 1000 is allowed
    r = live.ann.post("/v1/sync/push", json=_push_body(mutations[:1000], guard.client_id))
    assert r.status_code == 200
    assert r.json()["last_seq"] == 1001
    assert {x["status"] for x in r.json()["results"]} == {"applied"}
    assert live.backend.lead(guard.lead)["bant"] == {"need": "no"}


# ---------------------------------------------------------------- query parameters


@pytest.mark.parametrize("path", ["/v1/sync/pull", "/v1/feedback"])
def test_limit_and_cursor_out_of_range(guard: Guard, path: str) -> None:
    live = guard.live
    actor = live.ann if path == "/v1/sync/pull" else live.mo
    for limit in ("0", "1001", "-1", "abc", "", "1.5", "1e3", "99999999999999999999"):
        b = guard.check(actor.get(path, params={"limit": limit}), 422, "invalid_request")
        assert "limit" in b["detail"]
    for cursor in ("-1", "x", "", "1.5", str(2**62 + 1), str(2**64)):
        b = guard.check(actor.get(path, params={"cursor": cursor}), 422, "invalid_request")
        assert "cursor" in b["detail"]
    if path == "/v1/sync/pull":
        for client_id in ("zz", "x" * 36, "0" * 37, "-" * 36, "'; DROP TABLE lead; --"):
            r = actor.get(path, params={"client_id": client_id})
            b = guard.check(r, 422, "invalid_request")
            assert "client_id" in b["detail"]
    # the bounds themselves are fine
    for params in ({"limit": 1}, {"limit": 1000}, {"cursor": 0}, {"cursor": 2**62}):
        r = actor.get(path, params=params)
        assert r.status_code == 200, (params, r.text)
    r = actor.get(path, params={"cursor": 2**62})
    assert r.json()["reset"] is True  # past the counter: another history (a restore)
    if path == "/v1/sync/pull":
        assert len(r.json()["leads"]) == 3
    else:  # from the start again
        assert len(r.json()["events"]) == 1 and r.json()["has_more"] is False
    guard.unchanged()


def test_unknown_paths_methods_and_groupings(guard: Guard) -> None:
    live = guard.live
    guard.check(live.mo.get("/v1/reports/qualification", params={"by": "colour"}), 422)
    guard.check(live.mo.get("/v1/reports/qualification", params={"by": ""}), 422)
    guard.check(live.ann.get("/v1/nothing-here"), 404, "not_found")
    guard.check(live.ann.get("/nothing-here"), 404, "not_found")  # "/" is the workspace
    guard.check(live.ann.client.delete("/v1/me"), 405, "method_not_allowed")
    guard.check(live.ann.get("/v1/sync/push"), 405, "method_not_allowed")
    guard.check(live.mo.client.put("/v1/leads", json={"leads": []}), 405, "method_not_allowed")
    guard.check(live.mo.post("/v1/leads/nope/assign", json={"owner": "ann@example.com"}), 404)
    guard.check(live.mo.post("/v1/leads/a%00b/assign", json={"owner": "ann@example.com"}), 404)
    r = live.mo.post(f"/v1/leads/{guard.lead}/assign", json={"owner": "ann\x00@example.com"})
    guard.check(r, 404, "unknown_rep")
    r = live.mo.post(
        f"/v1/leads/{guard.lead}/assign",
        content=b'{"owner": "\\ud800@example.com"}',
        headers=JSON,
    )
    guard.check(r, 404, "unknown_rep")
    guard.unchanged()


# ---------------------------------------------------------------- mutations that cannot be stored


def test_unstorable_mutations_are_invalid_and_block_nothing(guard: Guard) -> None:
    """A mutation that made the server fail would be resent forever: it must be `invalid`."""
    live = guard.live
    ids = [live.backend.lead(f"ext-{n}")["id"] for n in (2, 3, 4)]

    def decide(lead_id: str, **kw: Any) -> dict[str, Any]:
        return {"lead_id": lead_id, "type": "decide", "outcome": "accept", "at": AT, **kw}

    bad = [
        decide(ids[0], outcome="reject", reason="other", note="nul\x00note"),
        decide(ids[0], at="0001-01-01T00:00:00+14:00"),
        decide(ids[0], at="9999-12-31T23:59:59-14:00"),
        decide("nul\x00id"),
        decide(ids[0], reason="nul\x00"),
        {"lead_id": ids[0], "type": "bant", "bant": {"need\x00": "yes"}, "at": AT},
        decide(ids[0], **{"x\x00": 1}),
    ]
    mutations = [{"seq": 2 + i, **m} for i, m in enumerate(bad)]
    mutations.append({"seq": 2 + len(bad), **decide(ids[1])})
    r = live.ann.post("/v1/sync/push", json=_push_body(mutations, guard.client_id))
    assert r.status_code == 200, r.text
    results = r.json()["results"]
    assert [(x["status"], x["error"]) for x in results] == [
        ("invalid", "bad_mutation:note"),
        ("invalid", "bad_mutation:at"),
        ("invalid", "bad_mutation:at"),
        ("invalid", "bad_mutation:lead_id"),
        ("invalid", "bad_mutation:reason"),
        ("invalid", "unknown_bant_key"),
        ("invalid", "bad_mutation:x?"),
        ("applied", None),
    ]
    # lone surrogates, sent as JSON escapes
    seq = 2 + len(mutations)
    cid = guard.client_id
    raw = (
        f'{{"client_id": "{cid}", "mutations": ['
        f'{{"seq": {seq}, "lead_id": "{ids[0]}", "type": "decide", "outcome": "reject",'
        f' "reason": "other", "note": "\\ud800", "at": "{AT}"}},'
        f'{{"seq": {seq + 1}, "lead_id": "\\udfff", "type": "decide", "outcome": "accept",'
        f' "at": "{AT}"}},'
        f'{{"seq": {seq + 2}, "lead_id": "{ids[2]}", "type": "decide", "outcome": "accept",'
        f' "at": "{AT}"}}'
        "]}"
    )
    assert "\\ud800" in raw
    # a field name that is not text at all: the whole request is refused, nothing marked
    bad_key = raw.replace('"at": "', '"\\ud800": 1, "at": "', 1)
    before = db_state(live)
    r = live.ann.post("/v1/sync/push", content=bad_key.encode(), headers=JSON)
    assert r.status_code == 422 and r.json()["error"] == "invalid_request"
    assert db_state(live) == before
    r = live.ann.post("/v1/sync/push", content=raw.encode(), headers=JSON)
    assert r.status_code == 200, r.text
    results = r.json()["results"]
    assert [(x["status"], x["error"]) for x in results] == [
        ("invalid", "bad_mutation:note"),
        ("invalid", "bad_mutation:lead_id"),
        ("applied", None),
    ]
    # resending is answered from what was stored
    r = live.ann.post("/v1/sync/push", json=_push_body(mutations, guard.client_id))
    assert r.status_code == 200
    assert [x["stored"] for x in r.json()["results"]] == ["invalid"] * len(bad) + ["applied"]
    statuses = [live.backend.lead(i)["status"] for i in ids]
    assert statuses == ["open", "accepted", "accepted"]
    assert live.backend.lead(ids[0])["version"] == 1
    events = live.mo.get("/v1/feedback").json()["events"]
    assert [e["lead_id"] for e in events] == [guard.lead, ids[1], ids[2]]
