"""`triage demo`: what it says when the workstation ends, its data directories, its data."""

from __future__ import annotations

import sys

from tests.support.cli import run_cli


class CrashingApp:
    """Stands in for the TUI: ends as Textual ends an app that raised (return code 1)."""

    return_code: int | None = None

    def run(self) -> None:
        print("NoMatches: No nodes match '#reason-title' on ReasonPicker()", file=sys.stderr)
        self.return_code = 1


def test_demo_after_a_crash_does_not_claim_success(tmp_path, monkeypatch):
    import triage.app

    monkeypatch.setattr(triage.app, "make_app", lambda **kw: CrashingApp())
    ran = run_cli("demo", "--leads", "5", "--dir", str(tmp_path / "demo"), home=tmp_path)
    assert ran.returncode == 1
    assert "The workstation stopped with an error" in ran.stderr
    assert "Demo over" not in ran.stderr
    assert "What you decided reached" not in ran.stderr
    assert "the demo did not finish" in ran.stderr
