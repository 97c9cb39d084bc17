"""A queue belongs to one server and one rep: a login elsewhere opens another queue and
never touches the previous one, whose unsent work waits for the login to come back; a
reinstalled server at the same address is not taken for the old one; a TUI whose queue a
login in another terminal switched away stops instead of writing on."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.cli import queue_path, run_cli
from tests.support.client import decisions_per_lead
from tests.support.factories import lead_row
from tests.support.server import ServerProcess
from tests.support.tui import NOW
from triage.app import make_app
from triage.config import Paths
from triage.server.live import ServerThread
from triage.server.service import Backend
from triage.store import Store


def _server(tmp_path: Path, name: str, prefix: str, n: int) -> tuple[Backend, dict[str, str]]:
    backend = Backend.open(f"sqlite:///{tmp_path / (name + '.db')}")
    tokens = {
        email: backend.add_user(email, None, "rep")[1]
        for email in ("ann@example.com", "bob@example.com")
    }
    rows = [lead_row(i, external_id=f"{prefix}-{i}") for i in range(n)]
    rows += [lead_row(100 + i, owner="bob@example.com", external_id=f"{prefix}-b{i}")
             for i in range(3)]  # fmt: skip
    backend.upsert_leads(rows)
    return backend, tokens


def _login(home: Path, url: str, token: str) -> None:
    run_cli("login", "--server", url, "--token", "-", home=home, stdin=token + "\n", check=True)


def _open_ids(home: Path) -> set[str]:
    from triage.domain import Filter

    with Store.open(queue_path(home)) as store:
        return set(store.queue_ids(Filter(), "sla"))


def test_a_login_to_another_server_keeps_the_first_queue_and_its_unsent_work(tmp_path):
    trial, trial_tokens = _server(tmp_path, "trial", "T", 4)
    prod, prod_tokens = _server(tmp_path, "prod", "P", 6)
    home = tmp_path / "home"
    with ServerThread(trial) as t, ServerThread(prod) as p:
        _login(home, t.url, trial_tokens["ann@example.com"])
        run_cli("sync", home=home, check=True)
        trial_queue = queue_path(home)
        trial_ids = sorted(_open_ids(home))
        run_cli("decide", "reject", *trial_ids[:2], "--reason", "no_budget", home=home, check=True)
        # the company moves to production before the two decisions were sent
        _login(home, p.url, prod_tokens["ann@example.com"])
        prod_queue = queue_path(home)
        assert prod_queue != trial_queue and trial_queue.exists()
        status = run_cli("status", home=home, check=True).stdout
        assert str(prod_queue) in status and "pending        0" in status
        run_cli("sync", home=home, check=True)
        prod_ids = _open_ids(home)
        assert {prod.lead(i)["external_id"][:2] for i in prod_ids} == {"P-"}  # no trial lead
        run_cli("decide", "accept", sorted(prod_ids)[0], home=home, check=True)
        run_cli("sync", home=home, check=True)
        assert decisions_per_lead(prod) == {sorted(prod_ids)[0]: 1}
        assert decisions_per_lead(trial) == {}  # the trial's two wait in its queue
        with Store.open(trial_queue) as kept:
            assert kept.pending_count() == 2
        # back to the trial server: its queue again, and its work goes out, once
        back = run_cli("login", "--server", t.url, "--token", "-", home=home,
                       stdin=trial_tokens["ann@example.com"] + "\n", check=True)  # fmt: skip
        assert "2 changes waiting to be sent" in back.stdout or "2 decisions" in back.stdout
        assert queue_path(home) == trial_queue
        run_cli("sync", home=home, check=True)
        assert decisions_per_lead(trial) == dict.fromkeys(trial_ids[:2], 1)
    trial.close()
    prod.close()


@pytest.mark.slow  # two server processes, one after the other, on one port
def test_a_reinstalled_server_at_the_same_address_is_not_taken_for_the_old_one(tmp_path):
    first, tokens = _server(tmp_path, "first", "A", 3)
    first.close()
    home = tmp_path / "home"
    server = ServerProcess(f"sqlite:///{tmp_path / 'first.db'}").start()
    try:
        _login(home, server.url, tokens["ann@example.com"])
        run_cli("sync", home=home, check=True)
        old_queue = queue_path(home)
        run_cli("decide", "accept", sorted(_open_ids(home))[0], home=home, check=True)
        server.stop()
        # the same address, a new database: another server (another server_id)
        second, tokens2 = _server(tmp_path, "second", "B", 5)
        second.close()
        server = ServerProcess(f"sqlite:///{tmp_path / 'second.db'}", port=server.port).start()
        refused = run_cli(
            "sync", home=home, env={"TRIAGE_TOKEN": tokens2["ann@example.com"]}, check=False
        )
        assert refused.returncode == 1
        assert "not the one this queue belongs to" in refused.stderr
        assert "1 decision" in refused.stderr  # and its unsent work is kept
        _login(home, server.url, tokens2["ann@example.com"])
        assert queue_path(home) != old_queue
        run_cli("sync", home=home, check=True)
        assert len(_open_ids(home)) == 5
        with Store.open(old_queue) as kept:
            assert kept.pending_count() == 1
    finally:
        server.stop()


async def test_a_login_as_another_rep_under_a_running_tui_stops_it(tmp_path):
    backend, tokens = _server(tmp_path, "server", "S", 4)
    home = tmp_path / "home"
    paths = Paths.under(home)
    with ServerThread(backend) as t:
        _login(home, t.url, tokens["ann@example.com"])
        run_cli("sync", home=home, check=True)
        ann_queue = queue_path(home)
        from triage.commands import _login_watch
        from triage.config import load_settings

        store = Store.open(ann_queue)
        app = make_app(
            store=store, settings=load_settings(paths, environ={}), db_path=ann_queue,
            clock=lambda: NOW, sync=False, logged_in_queue=_login_watch(paths),
        )  # fmt: skip
        try:
            async with app.run_test(size=(120, 40)) as pilot:
                await pilot.press("r", "1")  # ann rejects a lead: pending in her queue
                assert store.pending_count() == 1
                _login(home, t.url, tokens["bob@example.com"])  # in another terminal
                app.check_outside_changes()  # the TUI's one-second tick
                await pilot.pause()
                assert app.switched_to == queue_path(home) != ann_queue
            assert not app.is_running
        finally:
            store.close()
        assert ann_queue.exists()  # nothing was deleted under the TUI
        with Store.open(ann_queue) as kept:
            assert kept.pending_count() == 1 and kept.me()["email"] == "ann@example.com"
        run_cli("sync", home=home, check=True)  # bob's queue gets bob's leads, only
        assert {backend.lead(i)["owner"] for i in _open_ids(home)} == {"bob@example.com"}
    backend.close()
