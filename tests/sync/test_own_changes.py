"""The client's side of "own_changes": after its push, the pull names the leads this client
changed last by id and version; the store keeps what the push answered, and looks up whole
any it does not hold at that version (an answer lost). Nothing else changes."""

from __future__ import annotations

import httpx

from tests.support.client import NO_WAIT, device
from tests.support.factories import lead_row
from tests.support.faults import FaultTransport
from triage import domain, protocol
from triage.sync.client import ApiClient
from triage.sync.engine import RetryPolicy, SyncEngine


class Spy(httpx.BaseTransport):
    def __init__(self, inner: httpx.BaseTransport | None = None):
        self.inner = inner or httpx.HTTPTransport()
        self.pulls: list[tuple[dict, dict]] = []  # (query, answer)
        self.lookups = 0

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        response = self.inner.handle_request(request)
        response.read()
        if request.url.path == "/v1/sync/pull":
            self.pulls.append((dict(request.url.params), response.json()))
        if request.url.path == "/v1/sync/lookup":
            self.lookups += 1
        return response


def _server_lead(live, lead_id: str) -> domain.Lead:
    return protocol.lead_from_wire(protocol.LeadWire.model_validate(live.backend.lead(lead_id)))


def _device_with_decisions(live, tmp_path):
    live.upsert([lead_row(n) for n in range(1, 13)])
    dev = device(tmp_path, live, live.ann)
    assert dev.sync().ok
    ids = sorted(dev.open_ids())
    dev.decide(ids[:8], "reject", "no_budget")
    undecided = live.backend.lead(ids[10])["external_id"]
    live.upsert([lead_row(int(undecided.split("-")[1]), name="Renamed by marketing")])
    return dev, ids


def test_the_pull_after_a_push_names_own_changes_and_sends_the_rest_whole(live_sqlite, tmp_path):
    dev, ids = _device_with_decisions(live_sqlite, tmp_path)
    spy = Spy()
    report = dev.sync(transport=spy)
    assert report.ok and report.pushed == 8 and report.pulled == 9
    [(query, page)] = [p for p in spy.pulls if p[0]["limit"] != "1"]  # (not the probe)
    assert query["own"] == "true" and sorted(o["id"] for o in page["own"]) == sorted(ids[:8])
    assert [x["name"] for x in page["leads"]] == ["Renamed by marketing"]
    assert spy.lookups == 0
    with dev.open() as store:
        assert [store.lead(i) for i in ids] == [_server_lead(live_sqlite, i) for i in ids]


def test_a_lost_push_answer_is_made_good_by_a_lookup(live_sqlite, tmp_path):
    dev, ids = _device_with_decisions(live_sqlite, tmp_path)
    lost = FaultTransport(lambda r: "drop_response" if r.url.path == "/v1/sync/push" else None)
    once = RetryPolicy(attempts=1, base=0.0, sleep=lambda _s: None)
    with dev.open() as store, ApiClient(dev.url, dev.token, transport=lost) as client:
        report = SyncEngine(store, client, retry=once).sync()
    assert not report.ok and report.pending == 8  # applied on the server, answer lost
    spy = Spy()
    with dev.open() as store, ApiClient(dev.url, dev.token, transport=spy) as client:
        engine = SyncEngine(store, client, retry=NO_WAIT)
        engine._meet_server()
        engine.pull_all()  # a pull alone: its last_seq says the 8 were processed
        assert store.pending_count() == 0
        [(query, page)] = spy.pulls
        assert query["own"] == "true" and len(page["own"]) == 8 and spy.lookups == 1
        assert [store.lead(i) for i in ids] == [_server_lead(live_sqlite, i) for i in ids]
        assert {store.lead(i).status for i in ids[:8]} == {domain.Status.REJECTED}
