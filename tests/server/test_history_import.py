"""`triage server import --history FILE --map MAP` (issue 14): a CRM's past decisions become
decided leads with no owner and their decisions' feature rows, so `suggest train` learns
from them; they are in no rep's pull and no rep's figures; bad rows are refused by line
(nothing written); a second run changes nothing. SQLite and PostgreSQL."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sqlalchemy import func, select

from tests.server.test_history_maps import MAP
from tests.server.test_suggest_model import _write_file, history
from tests.server.test_suggest_pull import _pull
from tests.support.cli import run_cli
from tests.support.factories import lead_row
from triage.server import models, reports
from triage.server.models_suggest import DecisionFeatures
from triage.server.service import Backend

ANN = "ann@example.com"


def _counts(b: Backend) -> tuple[int, int]:
    with b.db.read() as s:
        leads = s.execute(select(func.count()).select_from(models.Lead)).scalar_one()
        feats = s.execute(select(func.count()).select_from(DecisionFeatures)).scalar_one()
    return leads, feats


def _import(db_url: str, tmp_path: Path, name: str, *more: str, check: bool = True):
    return run_cli("server", "import", "--history", str(tmp_path / name), "--map",
                   str(tmp_path / "crm.map.toml"), "--db", db_url, *more,
                   check=check)  # fmt: skip


@pytest.mark.slow
def test_past_decisions_train_the_model_and_reach_no_rep(db_url: str, tmp_path: Path) -> None:
    (tmp_path / "crm.map.toml").write_text(MAP)
    _write_file(tmp_path / "past.csv", history(300))
    b = Backend.open(db_url)
    try:
        b.add_user(ANN, None, "rep")
        b.upsert_leads([lead_row(1, owner=ANN)])  # a lead of ann's, and one with the same
        b.upsert_leads([lead_row(2, owner=ANN) | {"external_id": "1005"}])  # id as a row

        dry = _import(db_url, tmp_path, "past.csv", "--dry-run")
        assert "dry run, nothing written; would be 299 created, 0 updated" in dry.stdout
        assert _counts(b) == (2, 0)

        done = _import(db_url, tmp_path, "past.csv")
        assert "299 created, 0 updated, 0 unchanged, 1 skipped" in done.stdout
        assert "line 7: skipped: lead 1005 is in Triage already (open)" in done.stdout
        assert _counts(b) == (301, 299)
        lead = b.lead("1000")
        first = history(1)[0]
        assert lead["status"] == {"accept": "accepted", "reject": "rejected"}[first.outcome]
        assert lead["email"] == "" and lead.get("owner") is None
        assert lead["decision"]["at"] == "2026-01-01T00:00:00Z"

        again = _import(db_url, tmp_path, "past.csv")
        assert "0 created, 0 updated, 299 unchanged, 1 skipped" in again.stdout
        assert _counts(b) == (301, 299)

        trained = json.loads(run_cli("server", "suggest", "train", "--db", db_url).stdout)
        assert trained["decisions"] == 299

        pulled = {lead["external_id"] for lead in _pull(b, ANN)["leads"]}
        assert pulled == {"ext-1", "1005"}  # none of the history
        with b.db.read() as s:
            conn = s.connection()
            ctx = reports.Context.load(conn, b.policy())
            figures = reports.reps(conn, ctx, ctx.period(start="2026-01-01", end="2026-01-31"))[
                "rows"
            ]
            overall = reports.overview(conn, ctx, ctx.period(start="2026-01-01", end="2026-01-31"))
            page = reports.lead_history(conn, ctx, "1000")
        assert [(r["rep"], r["decided"]) for r in figures] == [(ANN, 0)]
        assert overall["figures"]["decided"] == 0
        # the lead's page says the past decision, though no rep's event does
        decided = [t for t in page["timeline"] if t["kind"] == "decide"]
        assert [(t["at"], t["outcome"], t.get("by")) for t in decided] == [
            ("2026-01-01T00:00:00Z", first.outcome, None)
        ]
        assert decided[0]["detail"] == "before Triage, from the CRM's history"
    finally:
        b.close()


def test_bad_rows_are_refused_by_line_and_nothing_is_written(db_url: str, tmp_path: Path) -> None:
    (tmp_path / "crm.map.toml").write_text(MAP)
    bad = [
        ["9001", "CFO", "webinar", "50", "pro", "Maybe", "", "01/02/2026"],
        ["9002", "CFO", "webinar", "50", "pro", "Unqualified", "", "yesterday"],
        ["9003", "CFO", "webinar", "50", "pro", "Sales Qualified", "", "01/02/2026"],
    ]
    _write_file(tmp_path / "bad.csv", history(5), bad)  # fmt: skip
    _write_file(tmp_path / "twice.csv", history(5), [bad[2], bad[2]])
    b = Backend.open(db_url)
    try:
        ran = _import(db_url, tmp_path, "bad.csv", check=False)
        assert ran.returncode == 1
        assert "2 bad row(s); nothing was imported" in ran.stderr
        assert "line 7: outcome 'Maybe' is none of the map's values" in ran.stderr
        assert "line 8: date 'yesterday' is not a date" in ran.stderr
        twice = _import(db_url, tmp_path, "twice.csv", check=False)
        assert twice.returncode == 1 and "line 8: external_id '9003' is also line 7's" in (
            twice.stderr
        )
        assert _counts(b) == (0, 0)
        no_map = run_cli("server", "import", "--history", str(tmp_path / "bad.csv"),
                         "--db", db_url, check=False)  # fmt: skip
        assert no_map.returncode == 2 and "--map MAP.toml is needed" in no_map.stderr
    finally:
        b.close()
