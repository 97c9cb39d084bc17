"""Spreadsheet formula injection: every CSV Triage writes neutralises a cell that a
spreadsheet would run as a formula (OWASP: a leading `'` before `=`, `+`, `-`, `@`, tab
or carriage return), and Triage's importer drops that `'` again, so its own CSV
re-imports unchanged."""

from __future__ import annotations

import csv
import io
from pathlib import Path

from hypothesis import given
from hypothesis import strategies as st

from tests.support.cli import run_cli
from tests.support.factories import lead_row
from triage import csvsafe
from triage.server.service import Backend

EVIL_CAMPAIGN = '=HYPERLINK("http://evil.example","Q4")'
EVIL_SOURCE = "@SUM(1+1)"
RISKY = ["=1+1", "+49 30 1234567", "-2+3", "@SUM(A1)", "\tx", "\rx", "'=quoted", "''@x"]


def test_the_report_csv_neutralises_formulas(tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path / 'server.db'}"
    backend = Backend.open(db)
    try:
        backend.add_user("ann@example.com", None, "rep")
        backend.upsert_leads(
            [
                lead_row(1, campaign=EVIL_CAMPAIGN, source=EVIL_SOURCE),
                lead_row(2, campaign="-1+2", source="webinar"),
                lead_row(3, campaign="plain", source="tradeshow"),
            ]
        )
    finally:
        backend.close()
    for by, evil in (("campaign", EVIL_CAMPAIGN), ("source", EVIL_SOURCE)):
        ran = run_cli("server", "report", "--by", by, "--format", "csv", "--db", db, check=True)
        table = list(csv.reader(io.StringIO(ran.stdout)))
        keys = [row[0] for row in table[1:]]
        assert "'" + evil in keys and evil not in keys
        for row in table:
            for value in row:
                assert not value or value[0] not in "=+-@\t\r", (by, value)
    ran = run_cli("server", "report", "--format", "csv", "--db", db, check=True)
    keys = [row[0] for row in csv.reader(io.StringIO(ran.stdout))][1:]
    assert "'-1+2" in keys and "plain" in keys
    # the JSON report carries the data as it is: it is not read by a spreadsheet
    ran = run_cli("server", "report", "--format", "json", "--db", db, check=True)
    assert EVIL_CAMPAIGN.replace('"', '\\"') in ran.stdout


def test_a_csv_written_by_triage_reimports_unchanged(tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path / 'server.db'}"
    rows = [
        lead_row(n, owner=None, campaign=value, title=value, source=value, phone=value)
        for n, value in enumerate(RISKY, 1)
    ]
    keys = list(rows[0])
    buf = io.StringIO()
    w = csvsafe.writer(buf)
    w.writerow(keys)
    for row in rows:
        w.writerow([row[k] for k in keys])
    path = tmp_path / "leads.csv"
    path.write_text(buf.getvalue(), encoding="utf-8", newline="")
    assert "\n=" not in buf.getvalue() and ",=" not in buf.getvalue()
    run_cli("server", "import", str(path), "--db", db, check=True)
    backend = Backend.open(db)
    try:
        for row in rows:
            lead = backend.lead(row["external_id"])
            for key in ("campaign", "title", "source", "phone"):
                # the importer strips surrounding blanks, as it always did
                assert lead[key] == row[key].strip(), (key, row[key], lead[key])
    finally:
        backend.close()


def test_an_apostrophe_a_person_typed_is_kept() -> None:
    for value in ("'tis the season", "O'Brien", "'", "''", "'a=b"):
        assert csvsafe.cell(value) == value
        assert csvsafe.uncell(value) == value


@given(st.text())
def test_cell_and_uncell_round_trip(value: str) -> None:
    written = csvsafe.cell(value)
    assert csvsafe.uncell(written) == value
    assert not written or written[0] not in csvsafe.FORMULA_STARTS


def test_numbers_stay_numbers() -> None:
    assert csvsafe.row([-1, 0.5, None, "-1"]) == [-1, 0.5, None, "'-1"]
