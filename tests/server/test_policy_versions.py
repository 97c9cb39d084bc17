"""Re-applying an identical policy keeps its version: every client refetches the policy
when the version moves, and reps are told "policy changed"."""

from __future__ import annotations

from pathlib import Path

import httpx

from tests.support.cli import run_cli
from triage import domain
from triage.server.live import ServerThread
from triage.server.service import Backend

POLICY = (
    'sla_hours = 48\n[[reject_reasons]]\ncode = "other"\nlabel = "Other"\nnote_required = true\n'
)


def test_the_same_policy_twice_is_one_version(db_url: str, tmp_path: Path) -> None:
    path = tmp_path / "policy.toml"
    path.write_text(POLICY, encoding="utf-8")
    first = run_cli("server", "policy", str(path), "--db", db_url, check=True)
    assert "policy version 2" in first.stdout
    again = run_cli("server", "policy", str(path), "--db", db_url, check=True)
    assert "policy version 2" in again.stdout and "unchanged" in again.stdout
    # the same content written differently (whitespace, comments, order of keys) is the same
    path.write_text("# ours\n" + POLICY.replace("sla_hours = 48", "sla_hours = 48.0"))
    assert "policy version 2" in run_cli("server", "policy", str(path), "--db", db_url).stdout
    backend = Backend.open(db_url)
    try:
        ann = backend.add_user("ann@example.com", None, "rep")[1]
        assert backend.set_policy(backend.policy()).version == 2
        # the defaults, never stored, are version 1: applying them is no change either
        # (only once something else was stored is going back to them a new version)
        assert backend.set_policy(domain.load_policy_toml(POLICY)).version == 2
        with ServerThread(backend) as thread:
            r = httpx.get(thread.url + "/v1/sync/pull", headers={"Authorization": f"Bearer {ann}"})
            assert r.json()["policy_version"] == 2
        changed = backend.set_policy(domain.load_policy_toml(POLICY.replace("48", "24")))
        assert changed.version == 3
        back = backend.set_policy(domain.load_policy_toml(POLICY))
        assert back.version == 4  # a change back is a change
    finally:
        backend.close()


def test_the_defaults_applied_to_a_new_server_stay_version_1(tmp_path: Path) -> None:
    backend = Backend.open(f"sqlite:///{tmp_path / 'server.db'}")
    try:
        assert backend.policy().version == 1
        assert backend.set_policy(domain.load_policy_toml("")).version == 1
        assert backend.policy().version == 1
    finally:
        backend.close()
