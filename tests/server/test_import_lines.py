"""`triage server import FILE.jsonl` names every bad line, including lines Python's JSON
reader cannot even hold: a number of more than 4,300 digits (ValueError) and arrays
nested deeper than the interpreter's recursion limit (RecursionError)."""

from __future__ import annotations

import json
from pathlib import Path

from tests.support.cli import run_cli


def test_unreadable_json_lines_are_named_like_the_others(tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path / 'server.db'}"
    good = {"external_id": "j-1", "name": "Good", "email": "g@json.example"}
    lines = [
        json.dumps(good),  # 1
        '{"external_id": "j-2", "name": "Huge", "email": "h@j.example", "score": '
        + "9" * 5000
        + "}",  # 2: more digits than int() takes from text
        '{"external_id": "j-3", "name": "Deep", "email": "d@j.example", "activities": '
        + "[" * 100_000
        + "]" * 100_000
        + "}",  # 3: nested past the recursion limit
        "[" * 100_000,  # 4: nested and broken
        '{"external_id": "j-5", "name": "Broken", ',  # 5: plain bad JSON
        json.dumps({**good, "external_id": "j-6", "email": "g6@json.example"}),  # 6
    ]
    path = tmp_path / "leads.jsonl"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    ran = run_cli("server", "import", str(path), "--db", db, home=tmp_path, check=False)
    assert ran.returncode == 1
    assert "Traceback" not in ran.stderr
    assert "4 bad row(s); nothing was imported" in ran.stderr
    named = {
        int(x.split(":")[0].split()[-1]): x
        for x in ran.stderr.splitlines()
        if x.startswith("  line ")
    }
    assert sorted(named) == [2, 3, 4, 5]
    assert "digits" in named[2]
    assert "nested too deeply" in named[3] and "nested too deeply" in named[4]
    assert "not valid JSON" in named[5]
    assert all(len(x) < 300 for x in named.values())  # a problem, not the line itself
    ran = run_cli("server", "users", "--db", db, home=tmp_path, check=True)
    assert ran.stdout == ""


def test_a_huge_number_in_a_csv_score_is_a_bad_row(tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path / 'server.db'}"
    path = tmp_path / "leads.csv"
    path.write_text(
        "external_id,name,email,score\r\nc-1,Huge,h@x.example," + "9" * 5000 + "\r\n",
        encoding="utf-8",
    )
    ran = run_cli("server", "import", str(path), "--db", db, home=tmp_path, check=False)
    assert ran.returncode == 1 and "Traceback" not in ran.stderr
    [line] = [x for x in ran.stderr.splitlines() if x.startswith("  line 2:")]
    assert "score must be a whole number" in line and len(line) < 300
