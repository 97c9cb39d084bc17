"""Every endpoint of sync protocol v1, over real HTTP against a live server (SQLite and PostgreSQL)."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest

import triage
from tests.conftest import Actor, Live
from tests.support.backend import open_leads_by_rep, row_counts
from tests.support.factories import lead_row
from triage import domain
from triage.server.service import Backend

NOW = datetime.now(timezone.utc)


def _at(dt: datetime | None = None) -> str:
    return (dt or datetime.now(timezone.utc)).isoformat().replace("+00:00", "Z")


def mut(seq: int, lead_id: str, type: str = "decide", **kw: Any) -> dict[str, Any]:
    m: dict[str, Any] = {"seq": seq, "lead_id": lead_id, "type": type, "at": _at()}
    m.update(kw)
    return m


def accept(seq: int, lead_id: str, **kw: Any) -> dict[str, Any]:
    return mut(seq, lead_id, outcome="accept", **kw)


def reject(seq: int, lead_id: str, reason: str = "no_budget", **kw: Any) -> dict[str, Any]:
    return mut(seq, lead_id, outcome="reject", reason=reason, **kw)


def push(actor: Actor, client_id: str, mutations: list[dict[str, Any]]) -> dict[str, Any]:
    r = actor.post("/v1/sync/push", json={"client_id": client_id, "mutations": mutations})
    assert r.status_code == 200, r.text
    body = r.json()
    assert [x["seq"] for x in body["results"]] == sorted(m["seq"] for m in mutations)
    return body


def by_seq(body: dict[str, Any]) -> dict[int, dict[str, Any]]:
    return {r["seq"]: r for r in body["results"]}


def pull(actor: Actor, cursor: int = 0, limit: int | None = None, **params: Any) -> dict[str, Any]:
    q: dict[str, Any] = {"cursor": cursor, **params}
    if limit is not None:
        q["limit"] = limit
    r = actor.get("/v1/sync/pull", params=q)
    assert r.status_code == 200, r.text
    return r.json()


def pull_all(actor: Actor, cursor: int = 0, limit: int = 500) -> tuple[list[dict], list[str], int]:
    """Pull until has_more is false: (leads, revoked, final cursor)."""
    leads: list[dict] = []
    revoked: list[str] = []
    for _ in range(1000):
        page = pull(actor, cursor, limit)
        assert len(page["leads"]) + len(page["revoked"]) <= limit
        leads += page["leads"]
        revoked += page["revoked"]
        assert page["cursor"] >= cursor
        cursor = page["cursor"]
        if not page["has_more"]:
            return leads, revoked, cursor
    raise AssertionError("pull never finished")


def ids_of(live: Live, external_ids: list[str]) -> list[str]:
    return [live.backend.lead(e)["id"] for e in external_ids]


def cid() -> str:
    return str(uuid.uuid4())


def feedback_all(live: Live, cursor: int = 0, limit: int = 500) -> list[dict]:
    events: list[dict] = []
    while True:
        r = live.mo.get("/v1/feedback", params={"cursor": cursor, "limit": limit})
        assert r.status_code == 200, r.text
        page = r.json()
        events += page["events"]
        cursor = page["cursor"]
        if not page["has_more"]:
            return events


def report(live: Live, by: str) -> dict[str | None, dict]:
    r = live.mo.get("/v1/reports/qualification", params={"by": by})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["by"] == by
    return {row["key"]: row for row in body["rows"]}


@pytest.fixture
def seeded(live: Live) -> Live:
    """ann: ext-1..ext-7, bob: ext-8..ext-10, nobody: ext-11, ext-12."""
    rows = [lead_row(n) for n in range(1, 8)]
    rows += [lead_row(n, owner="bob@example.com") for n in range(8, 11)]
    rows += [lead_row(n, owner=None) for n in (11, 12)]
    assert live.upsert(rows) == {"created": 12, "updated": 0, "unchanged": 0}
    return live


def ann_ids(live: Live) -> list[str]:
    return ids_of(live, [f"ext-{n}" for n in range(1, 8)])


def bob_ids(live: Live) -> list[str]:
    return ids_of(live, [f"ext-{n}" for n in range(8, 11)])


# ---------------------------------------------------------------- health, me, policy


def test_health_needs_no_auth_and_names_the_server(live: Live) -> None:
    r = live.anon.get("/v1/health")
    assert r.status_code == 200
    body = r.json()
    assert set(body) == {"status", "version", "protocol", "server_id", "epoch", "features"}
    assert (body["status"], body["version"], body["protocol"]) == ("ok", triage.__version__, 1)
    assert str(uuid.UUID(body["server_id"])) == body["server_id"]
    assert body["epoch"] == 1
    assert isinstance(body["features"], list)
    assert all(isinstance(f, str) for f in body["features"])
    # the identity belongs to the database: the same after reopening it
    again = Backend.open(live.backend.db.url)
    try:
        assert again.identity.server_id == body["server_id"]
    finally:
        again.close()


def test_me_describes_the_caller(live: Live) -> None:
    ann = live.ann.get("/v1/me").json()
    bob = live.bob.get("/v1/me").json()
    mo = live.mo.get("/v1/me").json()
    assert (ann["email"], ann["name"], ann["role"]) == ("ann@example.com", "ann", "rep")
    assert (bob["email"], bob["role"]) == ("bob@example.com", "rep")
    assert (mo["email"], mo["name"], mo["role"]) == ("mo@example.com", "mo", "marketing")
    assert len({ann["id"], bob["id"], mo["id"]}) == 3


def test_policy_serves_the_default_reasons(live: Live) -> None:
    for actor in (live.ann, live.mo):
        r = actor.get("/v1/policy")
        assert r.status_code == 200
        p = r.json()
        assert p["version"] == 1
        assert p["sla_hours"] == 24
        assert [c["key"] for c in p["bant"]] == ["budget", "authority", "need", "timing"]
        assert all(c["question"] for c in p["bant"])
        assert [r["code"] for r in p["reject_reasons"]] == [
            "no_budget", "not_decision_maker", "no_need", "not_icp_fit", "bad_contact_data",
            "duplicate", "existing_customer", "competitor_or_partner", "spam_or_student", "other",
        ]  # fmt: skip
        assert [r["code"] for r in p["nurture_reasons"]] == [
            "timing_later", "early_research", "no_response", "budget_next_cycle",
        ]  # fmt: skip
        reasons = {r["code"]: r for r in p["reject_reasons"] + p["nurture_reasons"]}
        assert reasons["other"]["note_required"] is True
        assert [c for c, r in reasons.items() if r["note_required"]] == ["other"]
        assert reasons["no_budget"]["bant"] == "budget"
        assert reasons["not_decision_maker"]["bant"] == "authority"
        assert reasons["timing_later"]["bant"] == "timing"
        assert reasons["duplicate"]["bant"] is None


# ---------------------------------------------------------------- pull


def test_pull_pages_join_into_exactly_the_assigned_open_set(seeded: Live) -> None:
    live = seeded
    first = pull(live.ann, 0, 2)
    assert len(first["leads"]) == 2 and first["has_more"] is True
    assert first["revoked"] == [] and first["policy_version"] == 1
    assert first["reset"] is False
    leads, revoked, cursor = pull_all(live.ann, 0, limit=2)
    got = [lead["id"] for lead in leads]
    assert len(got) == len(set(got)) == 7
    assert set(got) == set(ann_ids(live)) == open_leads_by_rep(live.backend)["ann@example.com"]
    assert revoked == []
    assert all(lead["owner"] == "ann@example.com" and lead["status"] == "open" for lead in leads)
    # every page ends where the next one starts: pages in change order
    assert [lead["external_id"] for lead in leads] == [f"ext-{n}" for n in range(1, 8)]
    # the last page's cursor is the server's counter: nothing more to fetch
    again = pull(live.ann, cursor, 2)
    assert again["leads"] == [] and again["revoked"] == [] and again["has_more"] is False
    assert again["cursor"] == cursor
    # one big page gives the same set with has_more false
    whole = pull(live.ann, 0, 1000)
    assert whole["has_more"] is False
    assert {lead["id"] for lead in whole["leads"]} == set(got)
    assert whole["cursor"] == cursor
    # an exact fit: limit == number of leads -> has_more false
    exact = pull(live.ann, 0, 7)
    assert len(exact["leads"]) == 7 and exact["has_more"] is False
    # bob sees only his three
    bob_leads, _, _ = pull_all(live.bob, 0, limit=1)
    assert {lead["id"] for lead in bob_leads} == set(bob_ids(live))


def test_pull_from_zero_excludes_decided_leads(seeded: Live) -> None:
    live = seeded
    ids = ann_ids(live)
    _, _, before = pull_all(live.ann)
    body = push(live.ann, cid(), [reject(1, ids[0]), mut(2, ids[1], "bant", bant={"need": "yes"})])
    assert [r["status"] for r in body["results"]] == ["applied", "applied"]
    page = pull(live.ann, 0)
    assert {lead["id"] for lead in page["leads"]} == set(ids[1:])
    assert page["has_more"] is False
    # a small first page skips the decided lead too
    assert [lead["id"] for lead in pull(live.ann, 0, 2)["leads"]] == ids[2:4]
    # from the old cursor, the decision and the BANT change come through
    changed, _, _ = pull_all(live.ann, before)
    by_id = {lead["id"]: lead for lead in changed}
    assert set(by_id) == {ids[0], ids[1]}
    assert by_id[ids[0]]["status"] == "rejected"
    assert by_id[ids[0]]["decision"]["reason"] == "no_budget"
    assert by_id[ids[0]]["decision"]["by"] == "ann@example.com"
    assert by_id[ids[1]]["bant"] == {"need": "yes"}
    assert by_id[ids[1]]["status"] == "open"


def test_pull_returns_last_seq_for_the_client(seeded: Live) -> None:
    live = seeded
    ids = ann_ids(live)
    client = cid()
    assert pull(live.ann, 0, client_id=client)["last_seq"] == 0  # unknown client: 0
    push(live.ann, client, [accept(1, ids[0]), accept(2, ids[1])])
    assert pull(live.ann, 0, client_id=client)["last_seq"] == 2
    assert pull(live.ann, 0, client_id=client.upper())["last_seq"] == 2
    # any spelling of the UUID names the same client, in push and in pull
    hexed = uuid.UUID(client).hex
    assert pull(live.ann, 0, client_id=hexed)["last_seq"] == 2
    body = push(live.ann, hexed, [accept(1, ids[3])])
    assert body["results"][0]["status"] == "duplicate" and body["last_seq"] == 2
    assert pull(live.ann, 0)["last_seq"] == 0  # no client_id: 0
    assert pull(live.ann, 0, client_id=cid())["last_seq"] == 0
    push(live.ann, client, [mut(3, ids[2], "bant", bant={"budget": "no"})])
    assert pull(live.ann, 0, client_id=client)["last_seq"] == 3
    # another rep may not read ann's client state
    r = live.bob.get("/v1/sync/pull", params={"cursor": 0, "client_id": client})
    assert r.status_code == 403
    assert r.json()["error"] == "client_id_taken"


def test_pull_with_a_cursor_beyond_the_counter_resets(seeded: Live) -> None:
    live = seeded
    ids = ann_ids(live)
    push(live.ann, cid(), [accept(1, ids[0])])
    _, _, top = pull_all(live.ann)
    assert top > 0
    page = pull(live.ann, top + 1000, 3)
    assert page["reset"] is True
    assert page["has_more"] is True
    # served from 0: open leads only, in change order
    assert [lead["id"] for lead in page["leads"]] == ids[1:4]
    leads, revoked, cursor = pull_all(live.ann, page["cursor"], 3)
    # later pages carry every change after the first page's cursor, decided ones included
    everything = {lead["id"]: lead["status"] for lead in page["leads"] + leads}
    assert {i for i, status in everything.items() if status == "open"} == set(ids[1:])
    assert everything.get(ids[0], "accepted") == "accepted"
    assert revoked == [] and cursor == top
    assert pull(live.ann, top)["reset"] is False
    assert pull(live.ann, 0)["reset"] is False


# ---------------------------------------------------------------- push


def test_push_applies_a_decision(seeded: Live) -> None:
    live = seeded
    lead_id = ann_ids(live)[0]
    body = push(
        live.ann,
        cid(),
        [reject(1, lead_id, "other", note="  wrong region  ", bant={"budget": "no"})],
    )
    assert body["last_seq"] == 1
    [res] = body["results"]
    assert (res["status"], res["error"]) == ("applied", None)
    lead = res["lead"]
    assert lead["id"] == lead_id and lead["version"] == 2
    assert lead["status"] == "rejected"
    assert lead["bant"] == {"budget": "no"}
    assert lead["decision"]["outcome"] == "reject"
    assert lead["decision"]["reason"] == "other"
    assert lead["decision"]["by"] == "ann@example.com"
    assert live.backend.lead(lead_id)["status"] == "rejected"


def test_push_nurture_keeps_the_reentry_date(seeded: Live) -> None:
    live = seeded
    lead_id = ann_ids(live)[0]
    body = push(
        live.ann,
        cid(),
        [mut(1, lead_id, outcome="nurture", reason="timing_later", nurture_until="2027-03-01")],
    )
    [res] = body["results"]
    assert res["status"] == "applied"
    assert res["lead"]["status"] == "nurture"
    assert res["lead"]["decision"]["nurture_until"] == "2027-03-01"
    [event] = feedback_all(live)
    assert event["nurture_until"] == "2027-03-01" and event["outcome"] == "nurture"


def test_resent_push_is_a_duplicate_with_no_second_effect(seeded: Live) -> None:
    live = seeded
    ids = ann_ids(live)
    client = cid()
    batch = [reject(1, ids[0], "no_need"), accept(2, ids[1]), reject(3, ids[2], "bogus")]
    first = push(live.ann, client, batch)
    assert [r["status"] for r in first["results"]] == ["applied", "applied", "invalid"]
    versions = {i: live.backend.lead(i)["version"] for i in ids[:3]}
    counts = row_counts(live.backend)
    again = push(live.ann, client, batch)
    assert again["last_seq"] == 3
    res = by_seq(again)
    assert [res[s]["status"] for s in (1, 2, 3)] == ["duplicate"] * 3
    assert [res[s]["stored"] for s in (1, 2, 3)] == ["applied", "applied", "invalid"]
    assert res[3]["error"] == "unknown_reason"
    assert res[1]["lead"]["id"] == ids[0] and res[1]["lead"]["status"] == "rejected"
    assert res[2]["lead"]["status"] == "accepted"
    assert {i: live.backend.lead(i)["version"] for i in ids[:3]} == versions
    assert row_counts(live.backend) == counts
    # the feedback stream and the report counted each decision once
    events = feedback_all(live)
    assert [(e["lead_id"], e["kind"], e["outcome"]) for e in events] == [
        (ids[0], "decide", "reject"),
        (ids[1], "decide", "accept"),
    ]
    rows = report(live, "rep")
    assert rows["ann@example.com"]["accepted"] == 1
    assert rows["ann@example.com"]["rejected"] == 1
    assert rows["ann@example.com"]["reasons"] == {"no_need": 1}
    # a half-resent batch: old seqs are duplicates, the new one applies
    mixed = by_seq(push(live.ann, client, [accept(2, ids[1]), accept(4, ids[3])]))
    assert mixed[2]["status"] == "duplicate" and mixed[4]["status"] == "applied"
    assert len(feedback_all(live)) == 3


def test_a_gap_is_out_of_order_and_not_marked(seeded: Live) -> None:
    live = seeded
    ids = ann_ids(live)
    client = cid()
    push(live.ann, client, [accept(1, ids[0])])
    body = push(live.ann, client, [accept(3, ids[2]), accept(4, ids[3])])
    assert body["last_seq"] == 1
    assert [(r["status"], r["lead"]) for r in body["results"]] == [("out_of_order", None)] * 2
    assert live.backend.lead(ids[2])["status"] == "open"
    assert pull(live.ann, 0, client_id=client)["last_seq"] == 1
    # a gap inside one batch: what comes before it applies
    body = by_seq(push(live.ann, client, [accept(2, ids[1]), accept(4, ids[3])]))
    assert body[2]["status"] == "applied" and body[4]["status"] == "out_of_order"
    # resending from the missing seq works; unsorted input is processed in seq order
    body = push(live.ann, client, [accept(4, ids[3]), accept(3, ids[2])])
    assert body["last_seq"] == 4
    assert [r["status"] for r in body["results"]] == ["applied", "applied"]
    assert {live.backend.lead(i)["status"] for i in ids[:4]} == {"accepted"}
    assert len(feedback_all(live)) == 4


def test_invalid_mutations_are_marked_and_block_nothing(seeded: Live) -> None:
    live = seeded
    ids = ann_ids(live)
    client = cid()
    batch = [
        reject(1, ids[0], "not_a_reason"),
        reject(2, ids[0], "other"),  # note required
        reject(3, ids[0], "other", note="   "),  # a blank note is no note
        mut(4, ids[0], "frobnicate", outcome="accept"),
        mut(5, ids[0], "bant", bant={"budget": "maybe"}),
        mut(6, ids[0], "decide"),  # no outcome
        mut(7, ids[0], "bant", bant={"colour": "yes"}),
        mut(8, ids[0], outcome="accept", reason="no_budget"),  # accept takes no reason
        mut(9, ids[0], outcome="reject"),  # reason required
        mut(10, ids[0], outcome="maybe"),
        {"seq": 11, "lead_id": ids[0], "type": "decide", "outcome": "accept"},  # no `at`
        mut(12, ids[0], outcome="accept", surprise=1),  # unknown field
        mut(13, ids[0], "bant"),  # nothing to set
        accept(14, ids[1]),
    ]
    body = push(live.ann, client, batch)
    assert body["last_seq"] == 14
    res = by_seq(body)
    for s in range(1, 14):
        assert res[s]["status"] == "invalid", (s, res[s])
        assert res[s]["error"], (s, res[s])
    assert res[1]["error"] == "unknown_reason"
    assert res[2]["error"] == "note_required"
    assert res[3]["error"] == "note_required"
    assert res[4]["error"].startswith("bad_mutation") and "type" in res[4]["error"]
    assert res[5]["error"].startswith("bad_mutation") and "bant" in res[5]["error"]
    assert res[6]["error"] == "outcome_required"
    assert res[7]["error"] == "unknown_bant_key"
    assert res[8]["error"] == "unknown_reason"
    assert res[9]["error"] == "reason_required"
    assert res[10]["error"].startswith("bad_mutation") and "outcome" in res[10]["error"]
    assert res[11]["error"].startswith("bad_mutation") and "at" in res[11]["error"]
    assert res[12]["error"].startswith("bad_mutation")
    assert res[13]["error"] == "bant_required"
    assert res[14]["status"] == "applied"
    lead0 = live.backend.lead(ids[0])
    assert (lead0["status"], lead0["version"], lead0["bant"]) == ("open", 1, {})
    assert live.backend.lead(ids[1])["status"] == "accepted"
    # the invalid ones are processed: a resend is a duplicate with the stored error
    again = by_seq(push(live.ann, client, batch[:2]))
    assert again[1]["stored"] == "invalid" and again[1]["error"] == "unknown_reason"
    assert again[2]["stored"] == "invalid" and again[2]["error"] == "note_required"
    # ...and the next batch goes on from 15
    later = push(live.ann, client, [reject(15, ids[0], "other", note="reseller")])
    assert later["results"][0]["status"] == "applied"
    assert later["results"][0]["lead"]["decision"]["note"] == "reseller"
    assert [e["lead_id"] for e in feedback_all(live)] == [ids[1], ids[0]]


def test_already_decided_is_a_conflict_with_the_lead(seeded: Live) -> None:
    live = seeded
    lead_id = ann_ids(live)[0]
    body = by_seq(push(live.ann, cid(), [accept(1, lead_id)]))
    assert body[1]["status"] == "applied"
    # a second device decides the same lead
    other = by_seq(push(live.ann, cid(), [reject(1, lead_id, "duplicate")]))
    assert (other[1]["status"], other[1]["error"]) == ("conflict", "already_decided")
    assert other[1]["lead"]["id"] == lead_id
    assert other[1]["lead"]["status"] == "accepted"
    assert other[1]["lead"]["version"] == 2
    assert live.backend.lead(lead_id)["decision"]["outcome"] == "accept"
    assert len(feedback_all(live)) == 1


def test_not_assigned_returns_no_lead_data(seeded: Live) -> None:
    live = seeded
    bob_lead = bob_ids(live)[0]
    unassigned = live.backend.lead("ext-11")["id"]
    batch = [
        accept(1, bob_lead),
        reject(2, bob_lead, "not_a_reason"),  # even an invalid one: no hint it exists
        mut(3, bob_lead, "bant", bant={"need": "no"}),
        mut(4, bob_lead, "reopen"),
        accept(5, unassigned),
        accept(6, "no-such-lead"),
    ]
    r = live.ann.post("/v1/sync/push", json={"client_id": cid(), "mutations": batch})
    assert r.status_code == 200
    for res in r.json()["results"]:
        assert (res["status"], res["error"], res["lead"]) == ("conflict", "not_assigned", None)
    bob_lead_data = live.backend.lead(bob_lead)
    for secret in (bob_lead_data["name"], bob_lead_data["email"], bob_lead_data["external_id"]):
        assert secret not in r.text
    assert bob_lead_data["status"] == "open" and bob_lead_data["bant"] == {}
    assert feedback_all(live) == []


def test_reopen_undoes_the_callers_own_decision(seeded: Live) -> None:
    live = seeded
    lead_id = ann_ids(live)[0]
    client = cid()
    _, _, cursor = pull_all(live.ann)
    push(live.ann, client, [reject(1, lead_id, "no_need")])
    body = by_seq(push(live.ann, client, [mut(2, lead_id, "reopen")]))
    assert body[2]["status"] == "applied"
    lead = body[2]["lead"]
    assert (lead["status"], lead["decision"], lead["version"]) == ("open", None, 3)
    changed, _, _ = pull_all(live.ann, cursor)
    assert [(x["id"], x["status"]) for x in changed] == [(lead_id, "open")]
    leads, _, _ = pull_all(live.ann)
    assert lead_id in {x["id"] for x in leads}
    # decide again after the reopening
    again = by_seq(push(live.ann, client, [accept(3, lead_id)]))
    assert again[3]["status"] == "applied"
    assert [(e["kind"], e["outcome"]) for e in feedback_all(live)] == [
        ("decide", "reject"),
        ("reopen", None),
        ("decide", "accept"),
    ]


def test_reopen_of_an_open_lead_is_a_conflict(seeded: Live) -> None:
    live = seeded
    lead_id = ann_ids(live)[0]
    body = by_seq(push(live.ann, cid(), [mut(1, lead_id, "reopen")]))
    assert (body[1]["status"], body[1]["error"]) == ("conflict", "not_decided")
    assert body[1]["lead"]["id"] == lead_id and body[1]["lead"]["status"] == "open"
    assert live.backend.lead(lead_id)["version"] == 1
    assert feedback_all(live) == []


def test_reopen_of_another_reps_decision_is_a_conflict(seeded: Live) -> None:
    live = seeded
    lead_id = ann_ids(live)[0]
    push(live.ann, cid(), [reject(1, lead_id, "no_budget")])
    # Issue 8: a decided lead is no longer reassigned without a word (see
    # tests/server/test_reassign.py); a server before it did, as done here by hand.
    r = live.mo.post(f"/v1/leads/{lead_id}/assign", json={"owner": "bob@example.com"})
    assert r.status_code == 409 and r.json()["error"] == "already_decided"
    from sqlalchemy import select

    from triage.server import models
    from triage.server.db import SeqAllocator, utcnow

    with live.backend.db.write() as s:
        seqs = SeqAllocator(s)
        bob = s.execute(
            select(models.User).where(models.User.email == "bob@example.com")
        ).scalar_one()
        Backend._reassign(s, s.get(models.Lead, lead_id), bob, seqs, utcnow())
        seqs.close()
    body = by_seq(push(live.bob, cid(), [mut(1, lead_id, "reopen")]))
    assert (body[1]["status"], body[1]["error"]) == ("conflict", "not_own_decision")
    assert live.backend.lead(lead_id)["status"] == "rejected"
    # and ann, no longer the owner, cannot reopen it either
    body = by_seq(push(live.ann, cid(), [mut(1, lead_id, "reopen")]))
    assert (body[1]["status"], body[1]["error"], body[1]["lead"]) == (
        "conflict",
        "not_assigned",
        None,
    )


def test_a_client_id_belongs_to_its_first_rep(seeded: Live) -> None:
    live = seeded
    client = cid()
    push(live.ann, client, [accept(1, ann_ids(live)[0])])
    bob_lead = bob_ids(live)[0]
    r = live.bob.post(
        "/v1/sync/push", json={"client_id": client, "mutations": [accept(2, bob_lead)]}
    )
    assert r.status_code == 403
    assert r.json()["error"] == "client_id_taken"
    assert live.backend.lead(bob_lead)["status"] == "open"
    # an empty push does not steal it either
    r = live.bob.post("/v1/sync/push", json={"client_id": client, "mutations": []})
    assert r.status_code == 403
    assert pull(live.ann, 0, client_id=client)["last_seq"] == 1
    # ann still owns it and goes on
    assert by_seq(push(live.ann, client, [accept(2, ann_ids(live)[1])]))[2]["status"] == "applied"


# ---------------------------------------------------------------- reassignment


def test_reassignment_revokes_and_restores(seeded: Live) -> None:
    live = seeded
    ids = ann_ids(live)
    moved = ids[2]
    _, _, ann_cursor = pull_all(live.ann)
    _, _, bob_cursor = pull_all(live.bob)
    r = live.mo.post(f"/v1/leads/{moved}/assign", json={"owner": "bob@example.com"})
    assert r.status_code == 200
    assert r.json()["owner"] == "bob@example.com" and r.json()["version"] == 2
    leads, revoked, ann_cursor2 = pull_all(live.ann, ann_cursor, limit=1)
    assert revoked == [moved] and leads == []
    bob_leads, bob_revoked, bob_cursor2 = pull_all(live.bob, bob_cursor)
    assert [x["id"] for x in bob_leads] == [moved] and bob_revoked == []
    assert bob_leads[0]["owner"] == "bob@example.com"
    fresh, _, _ = pull_all(live.bob)
    assert moved in {x["id"] for x in fresh}
    fresh, _, _ = pull_all(live.ann)
    assert moved not in {x["id"] for x in fresh}
    # ann's pushes on it are refused now
    res = by_seq(push(live.ann, cid(), [accept(1, moved)]))
    assert (res[1]["error"], res[1]["lead"]) == ("not_assigned", None)
    # back to ann
    assert live.mo.post(f"/v1/leads/{moved}/assign", json={"owner": "ann@example.com"}).is_success
    leads, revoked, _ = pull_all(live.ann, ann_cursor2)
    assert [x["id"] for x in leads] == [moved] and revoked == []
    assert leads[0]["owner"] == "ann@example.com" and leads[0]["version"] == 3
    # even pulling from before both moves: the lead, not a revocation
    leads, revoked, _ = pull_all(live.ann, ann_cursor)
    assert [x["id"] for x in leads] == [moved] and revoked == []
    _, bob_revoked, _ = pull_all(live.bob, bob_cursor2)
    assert bob_revoked == [moved]
    # assigning to the current owner changes nothing
    version = live.backend.lead(moved)["version"]
    r = live.mo.post(f"/v1/leads/{moved}/assign", json={"owner": "ann@example.com"})
    assert r.status_code == 200 and r.json()["version"] == version
    assert open_leads_by_rep(live.backend)["ann@example.com"] == set(ids)


def test_reassignment_by_upsert_revokes(seeded: Live) -> None:
    live = seeded
    moved = ann_ids(live)[0]
    _, _, cursor = pull_all(live.ann)
    counts = live.upsert([lead_row(1, owner="bob@example.com")])
    assert counts == {"created": 0, "updated": 1, "unchanged": 0}
    leads, revoked, _ = pull_all(live.ann, cursor)
    assert revoked == [moved] and leads == []
    assert live.backend.lead(moved)["owner"] == "bob@example.com"
    # a row without owner leaves the owner alone
    assert live.upsert([lead_row(1, owner=None)])["unchanged"] == 1
    assert live.backend.lead(moved)["owner"] == "bob@example.com"


# ---------------------------------------------------------------- marketing


def test_upsert_counts_and_versions(live: Live) -> None:
    assert live.upsert([lead_row(n) for n in (1, 2, 3)]) == {
        "created": 3,
        "updated": 0,
        "unchanged": 0,
    }
    assert live.upsert([lead_row(n) for n in (1, 2, 3)]) == {
        "created": 0,
        "updated": 0,
        "unchanged": 3,
    }
    _, _, cursor = pull_all(live.ann)
    changed = lead_row(2, name="Renamed Person", evidence_budget="Form: $50k-100k", score=88)
    assert live.upsert([lead_row(1), changed, lead_row(3), lead_row(4)]) == {
        "created": 1,
        "updated": 1,
        "unchanged": 2,
    }
    leads, revoked, _ = pull_all(live.ann, cursor)
    by_ext = {x["external_id"]: x for x in leads}
    assert set(by_ext) == {"ext-2", "ext-4"} and revoked == []
    assert by_ext["ext-2"]["name"] == "Renamed Person"
    assert by_ext["ext-2"]["version"] == 2
    assert by_ext["ext-2"]["score"] == 88
    assert by_ext["ext-2"]["evidence"] == {"budget": "Form: $50k-100k"}
    assert by_ext["ext-4"]["version"] == 1
    assert live.backend.lead("ext-1")["version"] == 1
    # mql_at in another zone but the same instant is unchanged
    same = lead_row(1, mql_at="2026-11-20T10:00:00+01:00")
    assert live.upsert([same])["unchanged"] == 1
    assert row_counts(live.backend)["leads"] == 4


def test_upsert_with_bad_rows_names_each_and_writes_nothing(seeded: Live) -> None:
    live = seeded
    before = row_counts(live.backend)
    _, _, cursor = pull_all(live.ann)
    rows = [
        lead_row(1, name="Would Change"),  # good
        {"external_id": "ext-x1", "name": "No Email"},
        lead_row(20, score=150),
        lead_row(21, owner="nobody@example.com"),
        lead_row(22, owner="mo@example.com"),  # marketing, not a rep
        lead_row(23, mql_at="yesterday-ish"),
        lead_row(30),
        lead_row(30),  # repeats the row before
        lead_row(24, colour="blue"),
        lead_row(25, email="not-an-email"),
    ]
    r = live.mo.post("/v1/leads", json={"leads": rows})
    assert r.status_code == 422
    body = r.json()
    assert body["error"] == "invalid_rows"
    named = {row["row"]: " ".join(row["problems"]) for row in body["rows"]}
    assert list(named) == [f"row {n}" for n in (2, 3, 4, 5, 6, 8, 9, 10)]
    assert "email is required" in named["row 2"]
    assert "score" in named["row 3"]
    assert "nobody@example.com" in named["row 4"]
    assert "not a rep" in named["row 5"]
    assert "mql_at" in named["row 6"]
    assert "row 7" in named["row 8"]
    assert "colour" in named["row 9"]
    assert "not-an-email" in named["row 10"]
    assert all(f"row {n}" in body["detail"] for n in (2, 3, 4, 5, 6, 8, 9, 10))
    assert row_counts(live.backend) == before
    assert live.backend.lead("ext-1")["name"] == "Person 1"
    leads, revoked, _ = pull_all(live.ann, cursor)
    assert leads == [] and revoked == []


def test_assign_endpoint(seeded: Live) -> None:
    live = seeded
    lead_id = live.backend.lead("ext-11")["id"]
    r = live.mo.post("/v1/leads/ext-11/assign", json={"owner": "Bob@Example.com"})
    assert r.status_code == 200
    body = r.json()
    assert (body["id"], body["owner"], body["version"]) == (lead_id, "bob@example.com", 2)
    assert body["assigned_at"] is not None
    assert lead_id in {x["id"] for x in pull_all(live.bob)[0]}
    for path, owner, code in [
        ("/v1/leads/nope/assign", "bob@example.com", "unknown_lead"),
        (f"/v1/leads/{lead_id}/assign", "nobody@example.com", "unknown_rep"),
        (f"/v1/leads/{lead_id}/assign", "mo@example.com", "unknown_rep"),
    ]:
        r = live.mo.post(path, json={"owner": owner})
        assert r.status_code == 404, (path, owner, r.text)
        assert r.json()["error"] == code
    assert live.backend.lead(lead_id)["owner"] == "bob@example.com"


def test_feedback_stream_pages_decisions_and_reopenings(seeded: Live) -> None:
    live = seeded
    ids = ann_ids(live)
    bob_lead = bob_ids(live)[0]
    empty = live.mo.get("/v1/feedback").json()
    assert (empty["events"], empty["has_more"]) == ([], False)
    client = cid()
    push(
        live.ann,
        client,
        [
            reject(1, ids[0], "other", note="student project"),
            accept(2, ids[1]),
            mut(3, ids[2], outcome="nurture", reason="early_research"),
            mut(4, ids[0], "reopen"),
            mut(5, ids[3], "bant", bant={"budget": "yes"}),  # no event
        ],
    )
    push(live.bob, cid(), [reject(1, bob_lead, "duplicate")])
    r = live.mo.get("/v1/feedback", params={"cursor": 0, "limit": 2})
    page = r.json()
    assert len(page["events"]) == 2 and page["has_more"] is True
    assert page["cursor"] == page["events"][-1]["cursor"]
    events = feedback_all(live, 0, limit=2)
    assert [(e["lead_id"], e["kind"], e["outcome"], e["reason"], e["rep"]) for e in events] == [
        (ids[0], "decide", "reject", "other", "ann@example.com"),
        (ids[1], "decide", "accept", None, "ann@example.com"),
        (ids[2], "decide", "nurture", "early_research", "ann@example.com"),
        (ids[0], "reopen", None, None, "ann@example.com"),
        (bob_lead, "decide", "reject", "duplicate", "bob@example.com"),
    ]
    assert events[0]["note"] == "student project"
    assert events[0]["external_id"] == "ext-1"
    assert events[0]["campaign"] == "campaign-1" and events[0]["source"] == "tradeshow"
    cursors = [e["cursor"] for e in events]
    assert cursors == sorted(cursors) and len(set(cursors)) == 5
    # from the middle: only what came after
    tail = feedback_all(live, cursors[2])
    assert [e["cursor"] for e in tail] == cursors[3:]
    last = live.mo.get("/v1/feedback", params={"cursor": cursors[-1]}).json()
    assert last["events"] == [] and last["has_more"] is False
    assert last["cursor"] >= cursors[-1]
    # a cursor past the counter (a restored database): reset, from the start again; the
    # consumer drops the event_ids it has seen (stable and unique)
    beyond = live.mo.get("/v1/feedback", params={"cursor": 2**40})
    assert beyond.status_code == 200 and beyond.json()["reset"] is True
    again = beyond.json()["events"]
    assert [e["event_id"] for e in again] == [e["event_id"] for e in events]
    assert len({e["event_id"] for e in events}) == 5
    decides = [e for e in events if e["kind"] == "decide"]
    assert decides[0]["event_id"] == f"decide:{client}:1" == "decide:" + decides[0]["decision_id"]
    assert events[3]["decision_id"] == decides[0]["decision_id"]  # the reopen names it
    # decide and reopen in one batch left the lead open, two versions on
    lead0 = live.backend.lead(ids[0])
    assert (lead0["status"], lead0["decision"], lead0["version"]) == ("open", None, 3)


def test_report_by_campaign_source_and_rep(live: Live) -> None:
    now = datetime.now(timezone.utc)

    def ago(hours: float) -> str:
        return _at(now - timedelta(hours=hours))

    rows = [
        lead_row(1, campaign="spring", source="webinar", mql_at=ago(10)),
        lead_row(2, campaign="spring", source="webinar", mql_at=ago(20)),
        lead_row(3, campaign="spring", source="tradeshow", mql_at=ago(60)),
        lead_row(4, campaign="spring", source="tradeshow", mql_at=ago(5)),  # stays open
        lead_row(5, campaign="autumn", source="webinar", mql_at=ago(30), owner="bob@example.com"),
        lead_row(6, campaign="autumn", source="webinar", mql_at=ago(40), owner="bob@example.com"),
        lead_row(7, campaign="autumn", source="content", mql_at=ago(1), owner=None),
        lead_row(8, campaign=None, source=None, mql_at=ago(2), owner="bob@example.com"),
    ]
    rows[7].pop("campaign")
    rows[7].pop("source")
    live.upsert(rows)
    i = {n: live.backend.lead(f"ext-{n}")["id"] for n in range(1, 9)}
    # the rep's clock says a year ago: the server clamps it to the assignment time
    push(
        live.ann,
        cid(),
        [
            accept(1, i[1], at=ago(24 * 365)),
            reject(2, i[2], "no_budget"),
            reject(3, i[3], "no_budget"),
        ],
    )
    push(
        live.bob,
        cid(),
        [reject(1, i[5], "not_icp_fit"), mut(2, i[6], outcome="nurture", reason="timing_later")],
    )
    camp = report(live, "campaign")
    # Every decision here is made within seconds of its assignment (the year-old one is
    # clamped to it): the median runs from the assignment, not from mql_at, so it is 0 h
    # whatever the MQL's age (tests/server/test_report_figures.py has the exact figures).
    assert list(camp) == ["autumn", "spring", None]
    s = camp["spring"]
    assert (s["mqls"], s["open"], s["accepted"], s["rejected"], s["nurtured"]) == (4, 1, 1, 2, 0)
    assert s["acceptance_rate"] == pytest.approx(1 / 3, abs=1e-4)
    assert s["reasons"] == {"no_budget": 2}
    assert s["median_hours_to_decision"] == pytest.approx(0, abs=0.1)
    a = camp["autumn"]
    assert (a["mqls"], a["open"], a["accepted"], a["rejected"], a["nurtured"]) == (3, 1, 0, 1, 1)
    assert a["acceptance_rate"] == 0
    assert a["reasons"] == {"not_icp_fit": 1, "timing_later": 1}
    assert a["median_hours_to_decision"] == pytest.approx(0, abs=0.1)
    n = camp[None]
    assert (n["mqls"], n["open"], n["acceptance_rate"], n["median_hours_to_decision"]) == (
        1,
        1,
        None,
        None,
    )
    assert n["reasons"] == {}

    src = report(live, "source")
    assert list(src) == ["content", "tradeshow", "webinar", None]
    w = src["webinar"]
    assert (w["mqls"], w["accepted"], w["rejected"], w["nurtured"], w["open"]) == (4, 1, 2, 1, 0)
    assert w["acceptance_rate"] == 0.25
    assert w["median_hours_to_decision"] == pytest.approx(0, abs=0.1)
    assert w["reasons"] == {"no_budget": 1, "not_icp_fit": 1, "timing_later": 1}
    t = src["tradeshow"]
    assert (t["mqls"], t["open"], t["rejected"], t["acceptance_rate"]) == (2, 1, 1, 0)
    assert t["median_hours_to_decision"] == pytest.approx(0, abs=0.1)
    assert src["content"]["open"] == 1 and src["content"]["mqls"] == 1

    rep = report(live, "rep")
    assert list(rep) == ["ann@example.com", "bob@example.com", None]
    ann = rep["ann@example.com"]
    assert (ann["mqls"], ann["open"], ann["accepted"], ann["rejected"]) == (4, 1, 1, 2)
    assert ann["reasons"] == {"no_budget": 2}
    assert ann["median_hours_to_decision"] == pytest.approx(0, abs=0.1)
    bob = rep["bob@example.com"]
    assert (bob["mqls"], bob["open"], bob["rejected"], bob["nurtured"]) == (3, 1, 1, 1)
    assert rep[None]["mqls"] == 1 and rep[None]["open"] == 1
    # a reopened decision leaves the counts
    push(live.ann, cid(), [mut(1, i[3], "reopen")])
    s = report(live, "campaign")["spring"]
    assert (s["open"], s["rejected"], s["reasons"]) == (2, 1, {"no_budget": 1})
    assert s["median_hours_to_decision"] == pytest.approx(0, abs=0.1)


def test_report_rejects_an_unknown_grouping(live: Live) -> None:
    r = live.mo.get("/v1/reports/qualification", params={"by": "colour"})
    assert r.status_code == 422
    assert r.json()["error"] == "invalid_request"


def test_decided_lead_by_a_rep_stays_hers_in_the_rep_report(seeded: Live) -> None:
    """A decision is credited to who made it, even after the lead moves to another rep."""
    live = seeded
    lead_id = ann_ids(live)[0]
    push(live.ann, cid(), [reject(1, lead_id, "no_need")])
    live.mo.post(f"/v1/leads/{lead_id}/assign", json={"owner": "bob@example.com"})
    rows = report(live, "rep")
    assert rows["ann@example.com"]["rejected"] == 1
    assert rows["ann@example.com"]["mqls"] == 7
    assert rows["bob@example.com"]["mqls"] == 3
    assert domain.Status.REJECTED.value == live.backend.lead(lead_id)["status"]
