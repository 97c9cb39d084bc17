"""Reassigning a decided lead: refused without a word no longer. `assign` of a decided lead
says so and needs --force ("force": true in the API), which starts a new cycle: the lead
is open again, the earlier decision moves to its history (served to the new owner as
outcome, reason, date and who, never the note), and /v1/feedback records a "reassign"."""

from __future__ import annotations

import uuid
from pathlib import Path

from tests.conftest import Live
from tests.support.cli import run_cli
from tests.support.factories import lead_row
from triage import protocol
from triage.server.service import Backend

NOTE = "Spoke to their CFO: secret budget details"


def _push(actor, client_id: str, mutations: list[dict]) -> list[dict]:
    r = actor.post("/v1/sync/push", json={"client_id": client_id, "mutations": mutations})
    assert r.status_code == 200, r.text
    return r.json()["results"]


def _pull(actor, cursor: int = 0) -> dict:
    r = actor.get("/v1/sync/pull", params={"cursor": cursor})
    assert r.status_code == 200, r.text
    return protocol.PullResponse.model_validate(r.json()) and r.json()


def _feedback(live: Live) -> list[dict]:
    r = live.mo.get("/v1/feedback", params={"cursor": 0})
    assert r.status_code == 200
    body = protocol.FeedbackResponse.model_validate(r.json())  # a client accepts every kind
    assert body.has_more is False
    return r.json()["events"]


def test_a_decided_lead_needs_force_and_starts_a_new_cycle(live: Live) -> None:
    live.upsert([lead_row(1)])
    lead_id = live.backend.lead("ext-1")["id"]
    ann_client = str(uuid.uuid4())
    ann_cursor = _pull(live.ann)["cursor"]
    decide = {"seq": 1, "lead_id": lead_id, "type": "decide", "outcome": "reject",
              "reason": "no_budget", "note": NOTE, "at": "2026-11-21T10:00:00Z"}  # fmt: skip
    assert _push(live.ann, ann_client, [decide])[0]["status"] == "applied"
    before = live.backend.lead(lead_id)

    r = live.mo.post(f"/v1/leads/{lead_id}/assign", json={"owner": "bob@example.com"})
    assert r.status_code == 409 and r.json()["error"] == "already_decided"
    assert "force" in r.json()["detail"]
    assert live.backend.lead(lead_id) == before  # nothing changed

    r = live.mo.post(
        f"/v1/leads/{lead_id}/assign", json={"owner": "bob@example.com", "force": True}
    )
    assert r.status_code == 200, r.text
    lead = r.json()
    assert (lead["owner"], lead["status"], lead["decision"]) == ("bob@example.com", "open", None)
    assert lead["version"] == before["version"] + 1
    [past] = lead["history"]
    assert past["outcome"] == "reject" and past["reason"] == "no_budget"
    assert past["by"] == "ann@example.com" and past["at"].startswith("2026-11-21")
    assert "note" not in past and NOTE not in r.text

    # the new owner pulls it open, with its history and never the note
    page = _pull(live.bob)
    [got] = [x for x in page["leads"] if x["id"] == lead_id]
    assert got["status"] == "open" and got["history"] == lead["history"]
    assert NOTE not in str(page)
    # the old owner is told it left them; their late undo finds it is not theirs
    assert lead_id in _pull(live.ann, ann_cursor)["revoked"]
    reopen = {"seq": 2, "lead_id": lead_id, "type": "reopen", "at": "2026-11-21T11:00:00Z"}
    [res] = _push(live.ann, ann_client, [reopen])
    assert (res["status"], res["error"], res["lead"]) == ("conflict", "not_assigned", None)
    # and the new owner decides it: a cycle of its own
    accept = {"seq": 1, "lead_id": lead_id, "type": "decide", "outcome": "accept",
              "at": "2026-11-22T10:00:00Z"}  # fmt: skip
    assert _push(live.bob, str(uuid.uuid4()), [accept])[0]["status"] == "applied"

    events = _feedback(live)
    assert [(e["kind"], e["rep"], e["outcome"]) for e in events] == [
        ("decide", "ann@example.com", "reject"),
        ("reassign", "bob@example.com", None),
        ("decide", "bob@example.com", "accept"),
    ]
    assert events[1]["note"] is None and events[1]["lead_id"] == lead_id
    final = live.backend.lead(lead_id)
    assert final["status"] == "accepted" and len(final["history"]) == 1


def test_force_on_the_same_owner_reopens_it_for_them(live: Live) -> None:
    live.upsert([lead_row(1)])
    lead_id = live.backend.lead("ext-1")["id"]
    accept = {"seq": 1, "lead_id": lead_id, "type": "decide", "outcome": "accept",
              "at": "2026-11-21T10:00:00Z"}  # fmt: skip
    _push(live.ann, str(uuid.uuid4()), [accept])
    same = live.mo.post(f"/v1/leads/{lead_id}/assign", json={"owner": "ann@example.com"})
    assert same.status_code == 200 and same.json()["status"] == "accepted"  # a no-op
    r = live.mo.post(
        f"/v1/leads/{lead_id}/assign", json={"owner": "ann@example.com", "force": True}
    )
    assert r.status_code == 200 and r.json()["status"] == "open"
    assert [h["outcome"] for h in r.json()["history"]] == ["accept"]
    # an open lead has no history to show: the field is left out, not null
    live.upsert([lead_row(2)])
    fresh = live.mo.post(
        f"/v1/leads/{live.backend.lead('ext-2')['id']}/assign",
        json={"owner": "bob@example.com", "force": True},
    )
    assert fresh.status_code == 200 and "history" not in fresh.json()


def test_the_command_line_says_so_and_takes_force(tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path / 'server.db'}"
    backend = Backend.open(db)
    try:
        backend.add_user("ann@example.com", None, "rep")
        backend.add_user("bob@example.com", None, "rep")
        backend.upsert_leads([lead_row(1)])
        lead_id = backend.lead("ext-1")["id"]
        with backend.db.write() as s:  # ann rejected it (as a push would have)
            from triage.server import models

            lead = s.get(models.Lead, lead_id)
            lead.status = "rejected"
            lead.decision = {"outcome": "reject", "reason": "no_need", "note": NOTE,
                             "at": "2026-11-21T10:00:00Z", "by": "ann@example.com",
                             "nurture_until": None}  # fmt: skip
    finally:
        backend.close()
    ran = run_cli("server", "assign", "ext-1", "bob@example.com", "--db", db)
    assert ran.returncode == 1 and "Traceback" not in ran.stderr
    assert "rejected by ann@example.com" in ran.stderr and "--force" in ran.stderr
    ran = run_cli("server", "assign", "ext-1", "bob@example.com", "--force", "--db", db)
    assert ran.returncode == 0, ran.stderr
    assert "assigned to bob@example.com" in ran.stdout and "history" in ran.stdout
    backend = Backend.open(db)
    try:
        lead = backend.lead("ext-1")
        assert lead["status"] == "open" and lead["history"][0]["reason"] == "no_need"
    finally:
        backend.close()


def test_an_import_does_not_move_a_decided_lead_either(live: Live) -> None:
    live.upsert([lead_row(1), lead_row(2)])
    lead_id = live.backend.lead("ext-1")["id"]
    accept = {"seq": 1, "lead_id": lead_id, "type": "decide", "outcome": "accept",
              "at": "2026-11-21T10:00:00Z"}  # fmt: skip
    _push(live.ann, str(uuid.uuid4()), [accept])
    # the same file again: nothing moves, nothing refused
    assert live.upsert([lead_row(1), lead_row(2)])["unchanged"] == 2
    r = live.mo.post(
        "/v1/leads",
        json={
            "leads": [lead_row(1, owner="bob@example.com"), lead_row(2, owner="bob@example.com")]
        },
    )
    assert r.status_code == 422
    [row] = r.json()["rows"]
    assert row["row"] == "row 1" and "assign --force" in row["problems"][0]
    assert live.backend.lead(lead_id)["owner"] == "ann@example.com"
    assert live.backend.lead("ext-2")["owner"] == "ann@example.com"  # all or nothing
