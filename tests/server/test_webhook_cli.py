"""`triage server webhook add|list|test|deliveries|redeliver|remove`, against a real receiver
process; and the TRIAGE_WEBHOOKS settings."""

from __future__ import annotations

import asyncio
import json
import re
from datetime import datetime, timezone
from pathlib import Path

import pytest

from tests.support.cli import run_cli
from tests.support.factories import lead_row
from tests.support.receiver import Receiver
from triage.server.service import Backend
from triage.server.webhooks import signing
from triage.server.webhooks.delivery import Dispatcher, Settings


def test_the_webhook_commands(sqlite_url: str, tmp_path: Path) -> None:
    db = ("--db", sqlite_url)
    run_cli("server", "add-user", "ann@example.com", *db, check=True)
    with Receiver(tmp_path / "got.jsonl") as receiver:
        added = run_cli("server", "webhook", "add", receiver.url, "--events",
                        "lead.assigned,lead.decided", *db, check=True)  # fmt: skip
        secret = added.stdout.strip()
        assert secret.startswith("whsec_") and len(secret) > 40
        assert "shown once" in added.stderr and "lead.assigned, lead.decided" in added.stderr
        listed = run_cli("server", "webhook", "list", *db, check=True).stdout
        assert receiver.url in listed and "active" in listed and secret not in listed

        tested = run_cli("server", "webhook", "test", "1", *db, check=True)
        assert "200 OK" in tested.stdout
        (got,) = receiver.records()
        assert json.loads(got["body"])["type"] == "webhook.test"
        now = datetime.now(timezone.utc).timestamp()
        assert signing.verify(secret, got["headers"]["triage-signature"], got["body"].encode(), now)
        readme_ok = _readme_snippet()  # what README tells a receiver to do, run as written
        header, body = got["headers"]["triage-signature"], got["body"].encode()
        assert readme_ok(secret, header, body)
        assert not readme_ok(secret, header, body.replace(b"test", b"tost"))
        assert not readme_ok(secret[:-1], header, body)
        stale = signing.header(secret, int(now) - 301, body)
        assert signing.verify(secret, stale, body, now - 301) and not readme_ok(secret, stale, body)

        b = Backend.open(sqlite_url)
        try:
            b.upsert_leads([lead_row(1), lead_row(2)])
            asyncio.run(_deliver(b))
        finally:
            b.close()
        shown = run_cli("server", "webhook", "deliveries", "1", *db, check=True).stdout
        assert "0 pending, 2 delivered" in shown and shown.count("lead.assigned") == 2
        event = re.search(r"evt_[0-9a-f]{32}", shown)
        assert event is not None
        again = run_cli("server", "webhook", "redeliver", event.group(0), *db, check=True)
        assert "will be sent again to webhook 1" in again.stdout
        listed = run_cli("server", "webhook", "list", *db, check=True).stdout
        assert re.search(r"^1 +active +1 +1 ", listed, re.M), listed  # 1 pending, 1 delivered
    refused = run_cli("server", "webhook", "test", "1", *db, check=False)  # receiver gone
    assert "did not take the test event" in refused.stderr

    bad = run_cli("server", "webhook", "add", "http://crm.example.com/h", *db, check=False)
    assert "use https://" in bad.stderr and bad.stdout == ""
    bad = run_cli("server", "webhook", "add", "https://crm.example.com/h", "--events",
                  "lead.won", *db, check=False)  # fmt: skip
    assert "unknown event(s): lead.won" in bad.stderr
    assert "no event evt_nope" in run_cli("server", "webhook", "redeliver", "evt_nope", *db).stderr
    removed = run_cli("server", "webhook", "remove", "1", *db, check=True)
    assert "1 undelivered event(s) dropped" in removed.stdout
    assert "no webhooks" in run_cli("server", "webhook", "list", *db, check=True).stdout
    assert "no webhook 1" in run_cli("server", "webhook", "deliveries", "1", *db).stderr


def _readme_snippet():
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text(encoding="utf-8")
    (code,) = [b for b in re.findall(r"```python\n(.*?)```", readme, re.S)
               if "def triage_signature_ok" in b]  # fmt: skip
    scope: dict = {}
    exec(code, scope)
    return scope["triage_signature_ok"]


async def _deliver(b: Backend) -> None:
    d = Dispatcher(b.db, Settings(timeout=2, poll=0))
    async with d.session():
        await d.tick()
        await d.idle()


def test_the_delivery_settings(sqlite_url: str) -> None:
    refused = run_cli("server", "run", "--db", sqlite_url, "--port", "0",
                      env={"TRIAGE_WEBHOOKS": "timeout=2,lease=3"}, check=False)  # fmt: skip
    assert refused.returncode == 1 and "lease must be longer than timeout" in refused.stderr
    assert Settings.from_env(None) == Settings()
    assert not Settings.from_env("off").enabled
    s = Settings.from_env("timeout=2, retry_for=60,concurrency=4")
    assert (s.timeout, s.retry_for, s.concurrency, s.lease_seconds) == (2.0, 60.0, 4, 24.0)
    with pytest.raises(ValueError, match="unknown setting 'timout'"):
        Settings.from_env("timout=2")
    with pytest.raises(ValueError, match="timeout must be a number"):
        Settings.from_env("timeout=soon")
    with pytest.raises(ValueError, match="lease must be longer"):
        Settings.from_env("timeout=10,lease=5")  # a lease shorter than a request: two senders


def test_rotating_a_secret_signs_with_both_during_the_overlap(
    sqlite_url: str, tmp_path: Path
) -> None:
    db = ("--db", sqlite_url)
    run_cli("server", "add-user", "ann@example.com", *db, check=True)
    readme_ok = _readme_snippet()
    with Receiver(tmp_path / "got.jsonl") as receiver:
        old = run_cli("server", "webhook", "add", receiver.url, *db, check=True).stdout.strip()
        bad = run_cli("server", "webhook", "rotate", "1", "--overlap", "40d", *db, check=False)
        assert bad.returncode == 1 and "between 0 and 30 days" in bad.stderr and not bad.stdout
        assert run_cli("server", "webhook", "rotate", "7", *db, check=False).returncode == 1
        rotated = run_cli("server", "webhook", "rotate", "1", "--overlap", "24h", *db, check=True)
        new = rotated.stdout.strip()
        assert new.startswith("whsec_") and new != old and "shown once" in rotated.stderr
        listed = run_cli("server", "webhook", "list", *db, check=True).stdout
        assert "two secrets until" in listed and new not in listed and old not in listed
        run_cli("server", "webhook", "test", "1", *db, check=True)
        b = Backend.open(sqlite_url)
        try:
            b.upsert_leads([lead_row(1)])
            asyncio.run(_deliver(b))  # the delivery task signs with both too
        finally:
            b.close()
        records = receiver.records()
        assert [json.loads(r["body"])["type"] for r in records] == ["webhook.test", "lead.assigned"]
        for r in records:
            header, body = r["headers"]["triage-signature"], r["body"].encode()
            assert header.count("v1=") == 2
            assert readme_ok(new, header, body) and readme_ok(old, header, body)
            assert not readme_ok("whsec_other", header, body)
        # no overlap: the old secret signs nothing from now on
        newest = run_cli("server", "webhook", "rotate", "1", "--overlap", "0", *db, check=True)
        newest_secret = newest.stdout.strip()
        run_cli("server", "webhook", "test", "1", *db, check=True)
        last = receiver.records()[-1]
        header, body = last["headers"]["triage-signature"], last["body"].encode()
        assert header.count("v1=") == 1 and readme_ok(newest_secret, header, body)
        assert not readme_ok(new, header, body) and not readme_ok(old, header, body)
        assert "two secrets" not in run_cli("server", "webhook", "list", *db, check=True).stdout
