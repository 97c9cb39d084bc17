"""Import maps for files of past decisions (issue 14): [history] names the outcome column
(and the reason and date), [templates] builds a field from other columns (a name from a
lead number), [options] empty names the values that mean empty ("Select"). Each is
checked when the map is read; `triage server import` reads such a map too, and the
[history] columns never become attributes."""

from __future__ import annotations

from pathlib import Path

import pytest

from triage.server.importer import read_file
from triage.server.maps import MapError, parse_map

MAP = """
[columns]
external_id = "Record ID"
title = "Job Title"
source = "Original Source"
[templates]
name = "Lead {Record ID}"
[history]
outcome = "Lead Status"
accept = ["Sales Qualified"]
reject = ["Unqualified"]
reason = "Disqualification Reason"
date = "Decided"
[reasons]
not_icp_fit = "Not a fit"
[dates]
formats = ["%m/%d/%Y"]
[options]
empty = ["Select", "-"]
"""


@pytest.mark.parametrize(
    ("section", "says"),
    [('[history]\nreason = "R"', "outcome must name the column"),
     ('[history]\noutcome = "S"\naccept = ["x"]\nreject = ["x"]', "listed for two outcomes"),
     ('[history]\noutcome = "S"\nreason = "S"', "must be different columns"),
     ('[templates]\nname = "Lead"', "naming a column in braces"),
     ('[options]\nempty = "Select"', "empty must be a list")],
)  # fmt: skip
def test_a_maps_history_and_templates_are_checked(section: str, says: str) -> None:
    with pytest.raises(MapError, match=says.replace("[", r"\[")):
        parse_map('[columns]\nexternal_id = "Id"\n' + section, "m.toml")


def test_an_import_through_such_a_map_builds_the_name_and_keeps_no_outcome(
    tmp_path: Path,
) -> None:
    """`triage server import` reads the same map: the name from its template, "Select" as
    empty, and the [history] columns (written after the decision) never as attributes."""
    mapped = parse_map(MAP.replace("[columns]", '[columns]\nemail = "Email"'), "crm.map.toml")
    path = tmp_path / "leads.csv"
    path.write_text(
        "Record ID,Email,Job Title,Plan,Lead Status,Disqualification Reason,Decided\n"
        "77,a@x.example,CFO,Select,Unqualified,Not a fit,01/02/2026\n"
        "78,b@x.example,CTO,pro,,,\n"
    )
    found = read_file(path, import_map=mapped)
    assert found.problems == []
    assert [r["name"] for r in found.rows] == ["Lead 77", "Lead 78"]
    assert [r["attributes"] for r in found.rows] == [{}, {"plan": "pro"}]
