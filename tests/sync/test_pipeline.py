"""Push and pull keep one request in flight while they save the answer before it: the next
batch (page) goes out as soon as an answer comes, and answers are saved in order. Whatever
stops a push midway (a crash while saving an answer, with the next batch at the server),
the next sync delivers each decision once and nothing is lost; a pull saves each page with
its cursor, in order."""

from __future__ import annotations

import json
import threading

import httpx
import pytest

from tests.support.client import NO_WAIT, decisions_per_lead, device
from tests.support.factories import lead_row
from triage import domain, protocol
from triage.store import Store
from triage.sync.client import ApiClient
from triage.sync.engine import SyncEngine


class Log(httpx.BaseTransport):
    """Logs each push as it leaves; `sent` counts them (a condition to wait on)."""

    def __init__(self, events: list[str]):
        self.inner = httpx.HTTPTransport()
        self.events = events
        self.sent = 0
        self.changed = threading.Condition()

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        if request.url.path == "/v1/sync/push":
            seqs = [m["seq"] for m in json.loads(request.content)["mutations"]]
            with self.changed:
                self.events.append(f"send {seqs[0]}-{seqs[-1]}")
                self.sent += 1
                self.changed.notify_all()
        response = self.inner.handle_request(request)
        response.read()
        return response


class Saving(Store):
    """A store that logs each push answer it saves, and can fail the first save. Before it
    saves an answer that is not the last, it waits (5 s at most) for the next batch to
    leave: with a push that sends only after saving, that never happens, and the log says so.
    """

    events: list[str]
    log: Log
    batches = 0
    fail_first = False

    def apply_push_results(self, results, **kw):  # type: ignore[no-untyped-def]
        seqs = [r.seq for r in results]
        saved = sum(e.startswith("save") for e in self.events)
        if saved + 1 < self.batches:
            with self.log.changed:
                self.log.changed.wait_for(lambda: self.log.sent > saved + 1, timeout=5)
        self.events.append(f"save {seqs[0]}-{seqs[-1]}")
        if self.fail_first:
            self.fail_first = False
            raise RuntimeError("crashed while saving an answer")
        return super().apply_push_results(results, **kw)


def _decided(live, tmp_path, n: int = 6):
    live.upsert([lead_row(i) for i in range(1, n + 1)])
    dev = device(tmp_path, live, live.ann)
    assert dev.sync().ok
    ids = sorted(dev.open_ids())
    for i in ids:  # one action each: seqs follow the ids
        dev.decide([i], "reject", "no_budget")
    return dev, ids


def _engine(dev, events: list[str], batch: int, *, fail_first: bool = False):
    store = Saving.open(dev.db_path)
    store.events, store.fail_first, store.log = events, fail_first, Log(events)
    store.batches = -(-6 // batch)
    client = ApiClient(dev.url, dev.token, transport=store.log)
    return store, client, SyncEngine(store, client, batch=batch, retry=NO_WAIT)


def _server_lead(live, lead_id: str) -> domain.Lead:
    return protocol.lead_from_wire(protocol.LeadWire.model_validate(live.backend.lead(lead_id)))


def test_the_next_batch_goes_out_before_the_answer_before_it_is_saved(live_sqlite, tmp_path):
    dev, ids = _decided(live_sqlite, tmp_path)
    events: list[str] = []
    store, client, engine = _engine(dev, events, 2)
    with store, client:
        report = engine.sync()
    assert report.ok and report.pushed == 6 and report.pending == 0
    assert events == ["send 1-2", "send 3-4", "save 1-2", "send 5-6", "save 3-4", "save 5-6"]
    assert set(decisions_per_lead(live_sqlite.backend).values()) == {1}


@pytest.mark.parametrize("batch", [2, 4])
def test_a_crash_while_saving_an_answer_loses_nothing_and_sends_nothing_twice(
    live_sqlite, tmp_path, batch
):
    dev, ids = _decided(live_sqlite, tmp_path)
    events: list[str] = []
    store, client, engine = _engine(dev, events, batch, fail_first=True)
    with store, client, pytest.raises(RuntimeError):
        engine.sync()
    second = "send 3-4" if batch == 2 else "send 5-6"
    assert events == [f"send 1-{batch}", second, f"save 1-{batch}"]
    # The server applied what it was sent; the store kept every row it had no saved answer for.
    with dev.open() as store:
        assert store.pending_count() == 6
    report = dev.sync()
    assert report.ok and report.pending == 0
    assert decisions_per_lead(live_sqlite.backend) == dict.fromkeys(ids, 1)
    with dev.open() as store:
        assert [store.lead(i) for i in ids] == [_server_lead(live_sqlite, i) for i in ids]


class PullLog(httpx.BaseTransport):
    def __init__(self, events: list[str]):
        self.inner = httpx.HTTPTransport()
        self.events = events
        self.asked = 0
        self.changed = threading.Condition()

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        if request.url.path == "/v1/sync/pull" and request.url.params["limit"] == "2":
            with self.changed:
                self.events.append(f"ask {request.url.params['cursor']}")
                self.asked += 1
                self.changed.notify_all()
        response = self.inner.handle_request(request)
        response.read()
        return response


class SavingPages(Store):
    events: list[str]
    log: PullLog
    pages = 0

    def apply_pull(self, leads, revoked, cursor, **kw):  # type: ignore[no-untyped-def]
        saved = sum(e.startswith("save") for e in self.events)
        if saved + 1 < self.pages:  # wait (5 s at most) for the next page to be asked for
            with self.log.changed:
                self.log.changed.wait_for(lambda: self.log.asked > saved + 1, timeout=5)
        self.events.append(f"save {len(leads)}")
        return super().apply_pull(leads, revoked, cursor, **kw)


def test_the_next_page_is_asked_for_before_the_page_before_it_is_saved(live_sqlite, tmp_path):
    live_sqlite.upsert([lead_row(i) for i in range(1, 6)])
    dev = device(tmp_path, live_sqlite, live_sqlite.ann)
    events: list[str] = []
    store = SavingPages.open(dev.db_path)
    store.events, store.log, store.pages = events, PullLog(events), 3
    with store, ApiClient(dev.url, dev.token, transport=store.log) as client:
        report = SyncEngine(store, client, page=2, retry=NO_WAIT).sync()
        assert report.ok and report.pulled == 5
        assert sorted(store.queue_ids(domain.Filter(), "sla")) == sorted(
            live_sqlite.backend.lead(f"ext-{i}")["id"] for i in range(1, 6)
        )
    asks = [e for e in events if e.startswith("ask")]
    assert events == [asks[0], asks[1], "save 2", asks[2], "save 2", "save 1"]
    assert asks[0] == "ask 0"
