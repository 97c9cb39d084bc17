"""`triage server ...` run in-process on a SQLite file, checked against the database and a live server.

The command line itself runs in a fresh interpreter once (the client never loads the server).
"""

from __future__ import annotations

import csv
import io
import json
import os
import subprocess
import sys
import textwrap
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.support.backend import open_leads_by_rep, opened, row_counts
from tests.support.cli import Ran, run_cli
from triage import domain

REPO = Path(__file__).resolve().parents[2]

CSV_HEADER = (
    "external_id,name,email,title,company,source,campaign,score,mql_at,owner,evidence_budget"
)


def triage(*args: str, home: Path, check: bool | None = None) -> Ran:
    """`triage *args` in this process (see tests/support/cli.py)."""
    return run_cli(*args, home=home, check=check)


class Cli:
    def __init__(self, tmp_path: Path):
        self.home = tmp_path / "home"
        self.home.mkdir()
        self.db = f"sqlite:///{tmp_path / 'server.db'}"
        self.tmp = tmp_path

    def server(self, *args: str, check: bool | None = True) -> Ran:
        return triage("server", *args, "--db", self.db, home=self.home, check=check)

    def backend(self) -> Any:
        from triage.server.service import Backend

        return Backend.open(self.db)

    def file(self, name: str, content: str | bytes) -> Path:
        path = self.tmp / name
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content, encoding="utf-8", newline="")
        return path

    def counts(self) -> dict[str, int]:
        with opened(self.db) as b:
            return row_counts(b)


@pytest.fixture
def cli(tmp_path: Path) -> Cli:
    return Cli(tmp_path)


@pytest.fixture
def users(cli: Cli) -> dict[str, str]:
    """ann and bob (reps) and mo (marketing), made in-process: their tokens."""
    b = cli.backend()
    try:
        return {
            email.split("@")[0]: b.add_user(email, None, role)[1]
            for email, role in [
                ("ann@example.com", "rep"),
                ("bob@example.com", "rep"),
                ("mo@example.com", "marketing"),
            ]
        }
    finally:
        b.close()


@contextmanager
def serve(cli: Cli) -> Iterator[tuple[str, Any]]:
    from triage.server.live import ServerThread

    backend = cli.backend()
    thread = ServerThread(backend).start()
    try:
        yield thread.url, backend
    finally:
        thread.stop()
        backend.close()


def _get(url: str, path: str, token: str, **params: Any) -> httpx.Response:
    return httpx.get(url + path, params=params, headers={"Authorization": f"Bearer {token}"})


# ---------------------------------------------------------------- add-user


def test_add_user_prints_a_working_token_last(cli: Cli) -> None:
    p = cli.server("add-user", "Ann@Example.com", "--name", "Ann Archer")
    token = p.stdout.splitlines()[-1]
    assert len(token) >= 43 and " " not in token
    assert "created rep ann@example.com" in p.stderr
    assert token not in p.stderr
    p = cli.server("add-user", "mo@example.com", "--role", "marketing")
    mo_token = p.stdout.splitlines()[-1]
    # again for ann (issue 8): refused, with the way to a new token; the first still works
    p = cli.server("add-user", "ann@example.com", check=False)
    assert p.returncode == 1 and p.stdout == "" and "token rotate" in p.stderr
    bad = cli.server("add-user", "not-an-email", check=False)
    assert "not an email address" in bad.stderr and bad.stdout == ""
    with serve(cli) as (url, _):
        r = _get(url, "/v1/me", token)
        assert r.status_code == 200
        assert {k: r.json()[k] for k in ("email", "name", "role")} == {
            "email": "ann@example.com",
            "name": "Ann Archer",
            "role": "rep",
        }
        assert _get(url, "/v1/me", mo_token).json()["role"] == "marketing"
        assert _get(url, "/v1/sync/pull", mo_token).status_code == 403
        assert (
            _get(url, "/v1/me", token[:-1] + ("A" if token[-1] != "A" else "B")).status_code == 401
        )
    assert cli.counts()["users"] == 2


# ---------------------------------------------------------------- import


def _csv(rows: list[str]) -> str:
    return "\r\n".join([CSV_HEADER, *rows]) + "\r\n"


GOOD_CSV = [
    'c-1,Ada Lovelace,ada@analytical.example,CTO,Analytical Ltd,webinar,spring,81,2026-11-20T09:00:00Z,ann@example.com,"Form: $50k-100k"',
    "c-2,Bob Babbage,bob@engines.example,Engineer,Engines plc,tradeshow,spring,15,2026-11-19,ann@example.com,",
    "c-3,Cy Hopper,cy@navy.example,Admiral,Navy,content,autumn,40,,,",
]


def test_import_csv_and_jsonl_then_reimport_is_idempotent(cli: Cli, users: dict[str, str]) -> None:
    good = cli.file("leads.csv", _csv(GOOD_CSV))
    p = cli.server("import", str(good))
    assert p.stdout.strip().endswith("3 created, 0 updated, 0 unchanged")
    # one row changed: one update
    changed = cli.file("leads2.csv", _csv([GOOD_CSV[0].replace(",81,", ",90,"), *GOOD_CSV[1:]]))
    p = cli.server("import", str(changed))
    assert p.stdout.strip().endswith("0 created, 1 updated, 2 unchanged")
    p = cli.server("import", str(changed))
    assert p.stdout.strip().endswith("0 created, 0 updated, 3 unchanged")

    jsonl_rows = [
        {
            "external_id": "j-1",
            "name": "Jo Json",
            "email": "jo@json.example",
            "score": 77,
            "owner": "bob@example.com",
            "evidence_need": "Asked for a demo",
            "activities": [{"at": "2026-11-18T10:00:00Z", "kind": "web", "detail": "pricing"}],
        },
        {"external_id": "j-2", "name": "Kim Key", "email": "kim@json.example", "campaign": "q4"},
    ]
    jsonl = cli.file("leads.jsonl", "\n".join(json.dumps(r) for r in jsonl_rows) + "\n\n")
    p = cli.server("import", str(jsonl))
    assert p.stdout.strip().endswith("2 created, 0 updated, 0 unchanged")
    p = cli.server("import", str(jsonl))
    assert p.stdout.strip().endswith("0 created, 0 updated, 2 unchanged")

    b = cli.backend()
    try:
        assert row_counts(b)["leads"] == 5
        ada = b.lead("c-1")
        assert (ada["name"], ada["score"], ada["owner"], ada["version"]) == (
            "Ada Lovelace", 90, "ann@example.com", 2,
        )  # fmt: skip
        assert ada["evidence"] == {"budget": "Form: $50k-100k"}
        assert ada["mql_at"] == "2026-11-20T09:00:00Z"
        assert b.lead("c-2")["mql_at"] == "2026-11-19T00:00:00Z"
        cy = b.lead("c-3")
        assert cy["owner"] is None and cy["mql_at"] is not None
        jo = b.lead("j-1")
        assert (jo["owner"], jo["score"], jo["evidence"]) == (
            "bob@example.com", 77, {"need": "Asked for a demo"},
        )  # fmt: skip
        assert [a["kind"] for a in jo["activities"]] == ["web"]
        assert open_leads_by_rep(b) == {
            "ann@example.com": {b.lead("c-1")["id"], b.lead("c-2")["id"]},
            "bob@example.com": {jo["id"]},
        }
    finally:
        b.close()


def test_import_with_bad_rows_names_every_line_and_imports_nothing(
    cli: Cli, users: dict[str, str]
) -> None:
    text = _csv(
        [
            GOOD_CSV[0],  # line 2
            'c-4,Multi Line,m@x.example,,,,,,,,"Form:\nline two"',  # lines 3-4, good
            "c-5,No Email,,,,,,,,,",  # line 5
            "",  # line 6, blank: skipped
            "c-6,Bad Score,s@x.example,,,,,high,,,",  # line 7
            "c-7,Far Score,f@x.example,,,,,101,,,",  # line 8
            "c-8,Ghost Owner,g@x.example,,,,,,,ghost@example.com,",  # line 9
            "c-9,Short Row,short@x.example",  # line 10
            "c-10,Bad Date,d@x.example,,,,,,31/12/2026,,",  # line 11
            "c-11,Marketer Owner,mo2@x.example,,,,,,,mo@example.com,",  # line 12
            "c-1,Repeat,r@x.example,,,,,,,,",  # line 13: repeats line 2
            GOOD_CSV[2],  # line 14
        ]
    )
    p = cli.server("import", str(cli.file("bad.csv", text)), check=False)
    assert p.returncode == 1
    err = p.stderr
    assert "8 bad row(s); nothing was imported" in err
    named = {line.strip().split(":")[0] for line in err.splitlines() if line.startswith("  line ")}
    assert named == {f"line {n}" for n in (5, 7, 8, 9, 10, 11, 12, 13)}
    expect = {
        5: "email is required",
        7: "score must be a whole number",
        8: "score must be between 0 and 100",
        9: "ghost@example.com is not a user",
        10: "3 fields, the header has 11",
        11: "mql_at",
        12: "not a rep",
        13: "repeats line 2",
    }
    for n, words in expect.items():
        [line] = [x for x in err.splitlines() if x.startswith(f"  line {n}:")]
        assert words in line, (n, line)
    assert cli.counts()["leads"] == 0

    lines = [
        json.dumps({"external_id": "j-1", "name": "Good", "email": "g@json.example"}),  # 1
        '{"external_id": "j-2", "name": "Broken", ',  # 2: not JSON
        "[1, 2, 3]",  # 3: not an object
        json.dumps({"external_id": "j-4", "email": "n@json.example"}),  # 4: no name
        "",  # 5: blank
        json.dumps({"external_id": "j-6", "name": "Good", "email": "g6@json.example"}),  # 6
        json.dumps({"external_id": "j-7", "name": "T", "email": "t@j.example", "mql_at": "soon"}),
        json.dumps(
            {"external_id": "j-8", "name": "N", "email": "nul@j.example", "title": "a\x00b"}
        ),
    ]
    p = cli.server("import", str(cli.file("bad.jsonl", "\n".join(lines) + "\n")), check=False)
    assert p.returncode == 1
    bad = {
        int(x.split(":")[0].split()[-1]): x
        for x in p.stderr.splitlines()
        if x.startswith("  line ")
    }
    assert sorted(bad) == [2, 3, 4, 7, 8]
    assert "not valid JSON" in bad[2]
    assert "expected a JSON object" in bad[3]
    assert "name is required" in bad[4]
    assert "mql_at" in bad[7]
    assert "title" in bad[8]
    assert cli.counts()["leads"] == 0


def test_import_file_problems_are_refused_whole(cli: Cli, users: dict[str, str]) -> None:
    header = cli.file("header.csv", "external_id,name,colour,score\r\nh-1,Hue,blue,5\r\n")
    p = cli.server("import", str(header), check=False)
    assert p.returncode == 1
    assert "unknown column(s): colour" in p.stderr
    assert "missing required column(s): email" in p.stderr
    assert "nothing was imported" in p.stderr
    latin = cli.file(
        "latin.csv", _csv(["l-1,Jos\xe9 M\xfcller,jose@x.example,,,,,,,,"]).encode("latin-1")
    )
    p = cli.server("import", str(latin), check=False)
    assert p.returncode == 1
    assert "not UTF-8" in p.stderr and "nothing was imported" in p.stderr
    assert cli.counts()["leads"] == 0


# ---------------------------------------------------------------- assign


def test_assign_by_id_and_by_external_id(cli: Cli, users: dict[str, str]) -> None:
    cli.server("import", str(cli.file("leads.csv", _csv(GOOD_CSV))))
    b = cli.backend()
    c1, c3 = b.lead("c-1")["id"], b.lead("c-3")["id"]
    b.close()
    p = cli.server("assign", "c-3", "Bob@Example.com")
    assert p.stdout.strip() == f"{c3} (Cy Hopper, Navy) assigned to bob@example.com"
    p = cli.server("assign", c1, "bob@example.com")
    assert "assigned to bob@example.com" in p.stdout
    p = cli.server("assign", "c-404", "bob@example.com", check=False)
    assert "c-404" in p.stderr and p.returncode == 1
    p = cli.server("assign", c1, "mo@example.com", check=False)
    assert "not a rep" in p.stderr
    b = cli.backend()
    try:
        assert b.lead("c-3")["owner"] == "bob@example.com"
        assert b.lead(c1)["owner"] == "bob@example.com"
        assert b.lead(c1)["version"] == 2
        assert open_leads_by_rep(b)["ann@example.com"] == {b.lead("c-2")["id"]}
    finally:
        b.close()


# ---------------------------------------------------------------- policy


GOOD_POLICY = textwrap.dedent(
    """
    sla_hours = 48

    [[reject_reasons]]
    code = "no_budget"
    label = "No budget at all"
    bant = "budget"

    [[reject_reasons]]
    code = "wrong_region"
    label = "Outside our regions"

    [[reject_reasons]]
    code = "other"
    label = "Other"
    note_required = true
    """
)


def test_policy_from_a_file_and_printed_back(cli: Cli, users: dict[str, str]) -> None:
    p = cli.server("policy")
    printed = domain.load_policy_toml(p.stdout)
    assert printed.to_dict() == domain.DEFAULT_POLICY.to_dict()

    p = cli.server("policy", str(cli.file("policy.toml", GOOD_POLICY)))
    assert "policy version 2" in p.stdout and "SLA 48 h" in p.stdout

    bad_files = {
        "broken.toml": ('sla_hours = 48\n[[reject_reasons]\ncode = "x"\n', "not valid TOML"),
        "unknown.toml": ("sla_hours = 12\ncolour = 'blue'\n", "unknown key 'colour'"),
        "code.toml": (
            '[[reject_reasons]]\ncode = "Bad-Code"\nlabel = "Nope"\n',
            "code must be lower_snake_case",
        ),
    }
    for name, (content, message) in bad_files.items():
        p = cli.server("policy", str(cli.file(name, content)), check=False)
        assert p.returncode == 1, name
        assert message in p.stderr, (name, p.stderr)
        assert "policy is unchanged" in p.stderr, name

    with serve(cli) as (url, backend):
        r = _get(url, "/v1/policy", users["ann"])
        assert r.status_code == 200
        pol = r.json()
        assert pol["version"] == 2 and pol["sla_hours"] == 48
        assert [x["code"] for x in pol["reject_reasons"]] == ["no_budget", "wrong_region", "other"]
        assert pol["reject_reasons"][0]["label"] == "No budget at all"
        assert pol["reject_reasons"][2]["note_required"] is True
        # sections left out keep their defaults
        assert [x["code"] for x in pol["nurture_reasons"]] == [
            r.code for r in domain.DEFAULT_NURTURE_REASONS
        ]
        assert _get(url, "/v1/sync/pull", users["ann"]).json()["policy_version"] == 2

    p = cli.server("policy")
    assert p.stdout.startswith("# qualification policy, version 2")
    again = domain.load_policy_toml(p.stdout)
    assert again.sla_hours == 48
    assert [r.code for r in again.reject_reasons] == ["no_budget", "wrong_region", "other"]
    assert again.reject_reasons[2].note_required is True


# ---------------------------------------------------------------- report


REPORT_KEYS = {
    "key", "mqls", "open", "accepted", "rejected", "nurtured", "acceptance_rate",
    "median_hours_to_decision", "reasons", "decided", "sla_compliance", "open_past_sla",
    "reject_reasons", "nurture_reasons",
}  # fmt: skip


def test_report_formats(cli: Cli, users: dict[str, str]) -> None:
    cli.server("import", str(cli.file("leads.csv", _csv(GOOD_CSV))))
    with serve(cli) as (url, backend):
        ids = {e: backend.lead(e)["id"] for e in ("c-1", "c-2")}
        mutations = [
            {"seq": 1, "lead_id": ids["c-1"], "type": "decide", "outcome": "accept",
             "at": "2026-11-21T10:00:00Z"},
            {"seq": 2, "lead_id": ids["c-2"], "type": "decide", "outcome": "reject",
             "reason": "no_budget", "at": "2026-11-21T10:00:00Z"},
        ]  # fmt: skip
        r = httpx.post(
            url + "/v1/sync/push",
            json={"client_id": str(uuid.uuid4()), "mutations": mutations},
            headers={"Authorization": f"Bearer {users['ann']}"},
        )
        assert [x["status"] for x in r.json()["results"]] == ["applied", "applied"]
        api = _get(url, "/v1/reports/qualification", users["mo"], by="campaign").json()

    p = cli.server("report", "--format", "json")
    data = json.loads(p.stdout)
    assert set(data) == {"by", "rows", "sla_hours"} and data["by"] == "campaign"
    assert all(set(row) == REPORT_KEYS for row in data["rows"])
    rows = {row["key"]: row for row in data["rows"]}
    assert list(rows) == ["autumn", "spring"]
    spring = rows["spring"]
    assert (spring["mqls"], spring["open"], spring["accepted"], spring["rejected"]) == (2, 0, 1, 1)
    assert spring["nurtured"] == 0
    assert spring["acceptance_rate"] == 0.5
    assert spring["reasons"] == {"no_budget": 1}
    # decided "before" its assignment by the rep's clock: clamped to the assignment, 0 hours
    # (the median runs from the assignment, not from mql_at)
    assert spring["median_hours_to_decision"] == 0
    assert spring["reject_reasons"] == [{"code": "no_budget", "label": "No budget", "count": 1}]
    assert spring["nurture_reasons"] == [] and spring["sla_compliance"] == 1
    assert (rows["autumn"]["open"], rows["autumn"]["acceptance_rate"]) == (1, None)
    assert rows["autumn"]["median_hours_to_decision"] is None
    assert data == api  # the command and the API agree

    p = cli.server("report", "--by", "source", "--format", "csv")
    table = list(csv.reader(io.StringIO(p.stdout)))
    assert table[0] == [
        "source", "mqls", "open", "accepted", "rejected", "nurtured", "acceptance_rate",
        "median_hours_to_decision", "sla_compliance", "open_past_sla",
        "rejected: No budget (no_budget)",
    ]  # fmt: skip
    by_source = {row[0]: row for row in table[1:]}
    assert set(by_source) == {"content", "tradeshow", "webinar"}
    assert by_source["tradeshow"][1:6] == ["1", "0", "0", "1", "0"]
    assert by_source["tradeshow"][6] == "0.0" and by_source["tradeshow"][10] == "1"
    assert by_source["webinar"][6] == "1.0"
    assert by_source["content"][6] == "" and by_source["content"][7] == ""

    p = cli.server("report", "--by", "rep", "--format", "table")
    lines = p.stdout.splitlines()
    assert lines[0].split()[:4] == ["rep", "MQLs", "open", "acc"]
    assert set(lines[1]) <= {"-", " "}
    ann = next(x for x in lines if x.startswith("ann@example.com"))
    assert ann.split()[1:7] == ["2", "0", "1", "1", "0", "50%"]
    assert "No budget 1" in ann
    none = next(x for x in lines if x.startswith("(none)"))
    assert none.split()[1:3] == ["1", "1"]


# ---------------------------------------------------------------- the client never loads the server


def test_client_commands_do_not_import_the_server_stack(tmp_path: Path) -> None:
    code = textwrap.dedent(
        """
        import json, sys
        import triage.cli
        triage.cli.build_parser()
        for argv in (["--help"], ["server", "--help"], ["server", "import", "--help"]):
            try:
                triage.cli.main(argv)
            except SystemExit as exc:
                assert exc.code == 0, (argv, exc.code)
        # client commands run for real, on an empty profile
        assert triage.cli.main(["status", "--json"]) == 0
        assert triage.cli.main(["queue", "--json"]) == 0
        heavy = {"fastapi", "uvicorn", "sqlmodel", "starlette", "psycopg", "triage.server"}
        loaded = sorted(m for m in sys.modules if m in heavy or m.split(".")[0] in heavy
                        or m.startswith("triage.server"))
        print("LOADED", json.dumps(loaded))
        """
    )
    env = {**os.environ, "TRIAGE_HOME": str(tmp_path), "PYTHONPATH": str(REPO)}
    p = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=60
    )
    assert p.returncode == 0, p.stderr
    [loaded] = [x for x in p.stdout.splitlines() if x.startswith("LOADED ")]
    assert json.loads(loaded.removeprefix("LOADED ")) == []
    assert "usage: triage" in p.stdout and "add-user" in p.stdout and "import" in p.stdout
    assert '"pending": 0' in p.stdout  # status --json ran


def test_tokens_never_look_like_an_option(tmp_path):
    """A token starting with "-" broke `triage login --token T` (argparse took it for a flag)."""
    from triage.server.service import Backend

    backend = Backend.open(f"sqlite:///{tmp_path / 's.db'}")
    try:
        tokens = [backend.add_user(f"r{i}@example.com", None, "rep")[1] for i in range(200)]
    finally:
        backend.close()
    assert all(t.startswith("trg_") and len(t) >= 4 + 43 for t in tokens)
    assert len(set(tokens)) == 200
