"""The client's side of "push_patch": it asks a server that lists the feature for patches,
and the server state it keeps from them is the server's lead exactly; an older server is
never sent the flag; a patch that does not follow the stored version is left to the pull."""

from __future__ import annotations

import json
from datetime import date, datetime, timedelta, timezone

import httpx

from tests.support.client import NO_WAIT, device
from tests.support.factories import lead_row
from triage import domain, protocol
from triage.store import PushResult, Store
from triage.sync.client import ApiClient
from triage.sync.engine import SyncEngine


class Spy(httpx.BaseTransport):
    """The real exchange, with the push bodies kept; `drop_feature` takes a feature out of
    the health answer (the server then looks older)."""

    def __init__(self, drop_feature: str | None = None):
        self.inner = httpx.HTTPTransport()
        self.drop = drop_feature
        self.pushes: list[dict] = []
        self.results: list[dict] = []

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        if request.url.path == "/v1/sync/push":
            self.pushes.append(json.loads(request.content))
        response = self.inner.handle_request(request)
        response.read()
        if request.url.path == "/v1/sync/push":
            self.results += response.json()["results"]
        if self.drop and request.url.path == "/v1/health":
            body = response.json()
            body["features"] = [f for f in body["features"] if f != self.drop]
            return httpx.Response(200, json=body, request=request)
        return response


def _decided_device(live, tmp_path):
    live.upsert([lead_row(n) for n in range(1, 9)])
    dev = device(tmp_path, live, live.ann)
    assert dev.sync().ok
    ids = sorted(dev.open_ids())
    with dev.open() as store:
        store.set_bant(ids[0], "budget", "yes")
        store.decide(ids[:3], "reject", reason="other", note="line one\nline two")
        store.decide(ids[3:5], "nurture", reason="timing_later", nurture_until=date(2027, 3, 1))
        store.decide(ids[5:6], "accept")
        store.set_bant(ids[6], "need", "no")
    return dev, ids


def _push_only(dev, transport: Spy) -> None:
    """Push, with no pull after it: what the server state is then comes from the answers."""
    with dev.open() as store, ApiClient(dev.url, dev.token, transport=transport) as client:
        engine = SyncEngine(store, client, retry=NO_WAIT)
        engine._meet_server()
        engine.push_all()


def _server_lead(live, lead_id: str) -> domain.Lead:
    return protocol.lead_from_wire(protocol.LeadWire.model_validate(live.backend.lead(lead_id)))


def test_patches_leave_the_servers_state_exactly(live_sqlite, tmp_path):
    dev, ids = _decided_device(live_sqlite, tmp_path)
    spy = Spy()
    _push_only(dev, spy)
    assert spy.pushes and all(body.get("patch") is True for body in spy.pushes)
    patched = [r["seq"] for r in spy.results if r.get("patch")]
    assert len(spy.results) == 8 and len(patched) == 7  # ids[0]'s decision came whole
    with dev.open() as store:
        assert store.pending_count() == 0
        for lead_id in ids[:7]:
            assert store.lead(lead_id) == _server_lead(live_sqlite, lead_id), lead_id
        assert store.lead(ids[0]).version == 3  # the BANT answer, then the decision
    assert dev.sync().ok  # the pull brings nothing newer
    with dev.open() as store:
        assert [store.lead(i) for i in ids] == [_server_lead(live_sqlite, i) for i in ids]


def test_an_older_server_is_never_sent_the_flag(live_sqlite, tmp_path):
    dev, ids = _decided_device(live_sqlite, tmp_path)
    spy = Spy(drop_feature="push_patch")
    _push_only(dev, spy)
    assert spy.pushes and not any("patch" in body for body in spy.pushes)
    assert not any(r.get("patch") for r in spy.results)
    with dev.open() as store:
        for lead_id in ids[:7]:
            assert store.lead(lead_id) == _server_lead(live_sqlite, lead_id), lead_id


NOW = datetime(2026, 11, 20, 12, 0, tzinfo=timezone.utc)


def _store_with_a_decision(tmp_path) -> tuple[Store, int]:
    store = Store.open(tmp_path / "q.db")
    lead = domain.Lead(id="L1", external_id="e1", name="Ann", email="a@x.example", version=4,
                       assigned_at=NOW - timedelta(hours=1))  # fmt: skip
    store.apply_pull([lead], [], cursor=1)
    store.save_policy(domain.DEFAULT_POLICY)
    store.decide(["L1"], "reject", reason="other", note="ok")
    [item] = store.pending()
    return store, item.seq


def _patch(version: int, note: str = "ok") -> domain.LeadState:
    decision = domain.Decision(domain.Outcome.REJECT, "other", note, NOW, by="ann@example.com")
    return domain.LeadState("L1", version, domain.Status.REJECTED, {"need": "no"}, decision)


def test_a_patch_applies_over_the_version_before_it_only(tmp_path):
    store, seq = _store_with_a_decision(tmp_path)
    store.apply_push_results([PushResult(seq, "applied", patch=_patch(6))])
    lead = store.lead("L1")  # not the version just before: left for the pull
    assert (lead.version, lead.status, lead.decision) == (4, domain.Status.OPEN, None)
    store.close()
    store, seq = _store_with_a_decision(tmp_path / "again")
    store.apply_push_results([PushResult(seq, "applied", patch=_patch(5, "a\x1b[2Jb"))])
    lead = store.lead("L1")
    assert (lead.version, lead.status, lead.bant) == (5, domain.Status.REJECTED, {"need": "no"})
    assert lead.decision.note == domain.terminal_text("a\x1b[2Jb", multiline=True) != "a\x1b[2Jb"
    assert lead.name == "Ann" and store.pending_count() == 0
    store.close()
