"""Decisions out: `triage server export --format hubspot|salesforce|csv|jsonl`, `GET
/v1/exports` and the workspace's download. Leads come in through the real import (a
HubSpot contacts export, a Salesforce Leads report, Triage's own columns), reps decide
through the sync protocol's push, and the files are read back as the CRM would read them;
the round trip re-imports an export with the same map and nothing changes. Both engines."""

from __future__ import annotations

import csv
import io
import json
import re
import uuid
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import update

from tests.server.test_crm_imports import hubspot_file, salesforce_file
from tests.support.backend import row_counts
from tests.support.cli import Server
from triage.protocol import MutationEnvelope
from triage.server import models
from triage.server.db import current_seq

LONG_AGO = datetime(2025, 1, 1, tzinfo=timezone.utc)


@pytest.fixture
def server(db_url: str, tmp_path: Path) -> Server:
    return Server.with_reps(db_url, tmp_path / "home")


def push(server: Server, rep: str, *mutations: dict[str, Any]) -> list[dict[str, Any]]:
    """The rep's client pushes these mutations (`lead` an external id); each applies."""
    b = server.backend()
    try:
        caller = b.rotate_token(rep)[0]
        sent = []
        for i, m in enumerate(mutations, 1):
            fields = {k: v for k, v in m.items() if k != "lead"}
            body = {
                "seq": i,
                "at": "2025-11-05T10:00:00Z",
                **fields,
                "lead_id": b.lead(m["lead"])["id"],
            }
            sent.append(MutationEnvelope.model_validate(body))
        done = b.push(caller, str(uuid.uuid4()), sent)["results"]
    finally:
        b.close()
    assert [r["status"] for r in done] == ["applied"] * len(mutations), done
    return done


def assigned_long_ago(server: Server) -> None:
    """Every lead was assigned on 1 January 2025: a decision keeps the time the rep made it."""
    b = server.backend()
    try:
        with b.db.write() as s:
            s.execute(update(models.Lead).values(assigned_at=LONG_AGO))
    finally:
        b.close()


def export(server: Server, *args: str, check: bool | None = True) -> Any:
    return server("export", *args, check=check)


def rows_of(text: str) -> list[list[str]]:
    assert text == "" or text.endswith("\r\n")  # RFC 4180 rows
    return list(csv.reader(io.StringIO(text, newline="")))


def snapshot(server: Server, refs: list[str]) -> tuple[Any, ...]:
    """Everything an import could change: each lead whole, the counts, the change counter."""
    b = server.backend()
    try:
        leads = [b.lead(r) for r in refs]
        with b.db.read() as s:
            seq = current_seq(s)
        return leads, row_counts(b), seq
    finally:
        b.close()


def _hubspot_and_native(server: Server, tmp_path: Path) -> None:
    server("import", str(hubspot_file(tmp_path)), "--map", "hubspot", "--owner", "ann@example.com")
    native = tmp_path / "native.csv"
    native.write_text("external_id,name,email,owner,campaign,source\r\n"
                      "L-7,Lee Seven,Lee@Seven.example,bob@example.com,=HYPERLINK(\"x\"),Ads\r\n",
                      encoding="utf-8")  # fmt: skip
    server("import", str(native))
    assigned_long_ago(server)
    push(server, "ann@example.com",
         {"lead": "1001", "type": "decide", "outcome": "reject", "reason": "no_budget",
          "note": '=HYPERLINK("http://evil.example","x")', "at": "2025-11-03T09:00:00Z"},
         {"lead": "1003", "type": "decide", "outcome": "nurture", "reason": "no_response",
          "at": "2025-11-04T09:00:00Z"},
         {"lead": "1004", "type": "decide", "outcome": "accept", "at": "2025-11-05T09:00:00Z"})  # fmt: skip
    push(server, "bob@example.com",
         {"lead": "L-7", "type": "decide", "outcome": "nurture", "reason": "timing_later",
          "note": "Budget in Q2,\nsay \"hi\"", "nurture_until": "2027-03-01",
          "at": "2025-11-06T09:00:00Z"})  # fmt: skip


def test_the_hubspot_file_has_the_id_status_reason_and_note(server: Server, tmp_path) -> None:
    _hubspot_and_native(server, tmp_path)
    ran = export(server, "--since", "2025-11-01", "--until", "2025-11-30", "--format", "hubspot")
    assert "4 decision(s) made 2025-11-01 to 2025-11-30 (UTC), hubspot format" in ran.stderr
    assert rows_of(ran.stdout) == [
        ["Record ID", "Email", "Lead Status", "Disqualification Reason", "Triage Note"],
        # a formula in a note is text to a spreadsheet: a ' before it (triage.csvsafe)
        ["1001", "", "UNQUALIFIED", "No Budget", '\'=HYPERLINK("http://evil.example","x")'],
        # no_response has a status of its own in the preset's [reasons]
        ["1003", "", "ATTEMPTED_TO_CONTACT", "No Response", ""],
        ["1004", "", "IN_PROGRESS", "", ""],  # an accept has no reason
        # an external id that is no HubSpot Record ID: the contact is found by its email
        ["", "Lee@Seven.example", "BAD_TIMING", "Timing: Buying Later", 'Budget in Q2,\nsay "hi"'],
    ]  # fmt: skip
    out = tmp_path / "hubspot-out.csv"
    ran = export(server, "--since", "2025-11-01", "--format", "hubspot", "--out", str(out))
    assert ran.stdout == "" and f"written to {out}" in ran.stderr
    assert out.read_bytes().startswith(b"Record ID,Email,Lead Status,")
    assert out.read_bytes().count(b"\r\n") == 5  # a row ends in CRLF; a note keeps its "\n"


def test_the_salesforce_file_and_the_whole_record(server: Server, tmp_path) -> None:
    server("import", str(salesforce_file(tmp_path)), "--map", "salesforce", "--encoding",
           "cp1252", "--owner", "bob@example.com")  # fmt: skip
    assigned_long_ago(server)
    push(server, "bob@example.com",
         {"lead": "00Q5g00000AbCdEEA1", "type": "decide", "outcome": "reject",
          "reason": "other", "note": "+49 is a competitor's number", "at": "2025-11-07T08:00:00Z"},
         {"lead": "00Q5g00000AbCdGEA1", "type": "decide", "outcome": "accept",
          "at": "2025-11-08T08:00:00Z"})  # fmt: skip
    ran = export(server, "--since", "2025-11-01", "--format", "salesforce")
    assert rows_of(ran.stdout) == [
        ["Lead ID", "Lead Status", "Disqualification Reason", "Triage Note"],
        ["00Q5g00000AbCdEEA1", "Closed - Not Converted", "Other", "'+49 is a competitor's number"],
        ["00Q5g00000AbCdGEA1", "Working - Contacted", "", ""],
    ]  # fmt: skip
    whole = rows_of(export(server, "--since", "2025-11-01", "--format", "csv").stdout)
    assert whole[0] == ["lead_id", "external_id", "email", "outcome", "reason", "reason_label",
                        "note", "nurture_until", "rep", "decided_at", "campaign",
                        "source"]  # fmt: skip
    jose = dict(zip(whole[0], whole[1], strict=True))
    assert jose | {"lead_id": ""} == {
        "lead_id": "", "external_id": "00Q5g00000AbCdEEA1", "email": "jose@kuehne.example",
        "outcome": "reject", "reason": "other", "reason_label": "Other (say why)",
        "note": "'+49 is a competitor's number", "nurture_until": "", "rep": "bob@example.com",
        "decided_at": "2025-11-07T08:00:00Z", "campaign": "", "source": "Trade Show",
    }  # fmt: skip
    assert jose["lead_id"] == server.lead("00Q5g00000AbCdEEA1")["id"]


def test_json_lines_carry_the_record_as_it_is(server: Server, tmp_path) -> None:
    _hubspot_and_native(server, tmp_path)
    ran = export(server, "--since", "2025-11-06", "--until", "2025-11-06", "--format", "jsonl")
    lines = ran.stdout.splitlines()
    assert len(lines) == 1
    assert json.loads(lines[0]) == {
        "lead_id": server.lead("L-7")["id"], "external_id": "L-7", "email": "Lee@Seven.example",
        "outcome": "nurture", "reason": "timing_later", "reason_label": "Timing: buying later",
        "note": 'Budget in Q2,\nsay "hi"', "nurture_until": "2027-03-01",
        "rep": "bob@example.com", "decided_at": "2025-11-06T09:00:00Z",
        "campaign": '=HYPERLINK("x")', "source": "Ads",  # JSON is no spreadsheet: as it is
    }  # fmt: skip


def test_a_map_of_ones_own_maps_reasons_and_outcomes(server: Server, tmp_path) -> None:
    _hubspot_and_native(server, tmp_path)
    crm = tmp_path / "crm.toml"
    crm.write_text(
        '[columns]\nexternal_id = "Kontakt-ID"\nemail = "E-Mail"\n'
        '[export]\nid = "Kontakt-ID"\nstatus = "Status"\nreason = "Grund"\nnote = "Notiz"\n'
        '[outcomes]\naccept = "Angenommen"\nreject = "Abgelehnt"\nnurture = "Später"\n'
        '[reasons]\nno_budget = "Kein Budget"\n'
        'timing_later = { value = "Zeitpunkt", status = "Wiedervorlage" }\n',
        encoding="utf-8",
    )
    ran = export(server, "--since", "2025-11-01", "--format", "hubspot", "--map", str(crm))
    assert rows_of(ran.stdout) == [
        ["Kontakt-ID", "Status", "Grund", "Notiz"],
        ["1001", "Abgelehnt", "Kein Budget", '\'=HYPERLINK("http://evil.example","x")'],
        ["1003", "Später", "No response", ""],  # a code the map does not name: its label
        ["1004", "Angenommen", "", ""],
        ["L-7", "Wiedervorlage", "Zeitpunkt", 'Budget in Q2,\nsay "hi"'],
    ]  # fmt: skip
    bare = tmp_path / "bare.toml"
    bare.write_text('[columns]\nexternal_id = "Kontakt-ID"\n', encoding="utf-8")
    ran = export(server, "--since", "2025-11-01", "--format", "salesforce", "--map", str(bare),
                 check=False)  # fmt: skip
    assert ran.returncode == 2 and "bare.toml: the map has no [export] section" in ran.stderr
    half = tmp_path / "half.toml"
    half.write_text('[export]\nid = "Id"\nstatus = "S"\nreason = "R"\nnote = "N"\n'
                    '[outcomes]\nreject = "No"\n', encoding="utf-8")  # fmt: skip
    ran = export(server, "--since", "2025-11-01", "--format", "hubspot", "--map", str(half),
                 check=False)  # fmt: skip
    assert ran.returncode == 2 and "[outcomes]" in ran.stderr and "accept, nurture" in ran.stderr
    ran = export(server, "--since", "2025-11-01", "--format", "csv", "--map", "hubspot",
                 check=False)  # fmt: skip
    assert ran.returncode == 2 and "--map is for the CRM formats" in ran.stderr
    ran = export(server, "--since", "1 Nov", "--format", "csv", check=False)
    assert ran.returncode == 2 and "dates like 2026-11-30" in ran.stderr
    ran = export(server, "--since", "2025-11-02", "--until", "2025-11-01", "--format", "csv",
                 check=False)  # fmt: skip
    assert ran.returncode == 2 and "ends (2025-11-01) before it starts" in ran.stderr


def _ids(server: Server, *args: str) -> list[str]:
    ran = export(server, *args, "--format", "csv")
    return [r[1] for r in rows_of(ran.stdout)[1:]]


def test_the_days_in_the_policys_time_zone_and_only_decisions_that_stand(
    server: Server, tmp_path
) -> None:
    rows = [f"D-{i},Dee {i},d{i}@x.example,ann@example.com" for i in range(1, 8)]
    native = tmp_path / "d.csv"
    native.write_text("external_id,name,email,owner\r\n" + "\r\n".join(rows) + "\r\n")
    server("import", str(native))
    assigned_long_ago(server)
    times = ["2025-10-31T22:59:59Z", "2025-10-31T23:30:00Z", "2025-11-15T12:00:00Z",
             "2025-11-30T22:59:59Z", "2025-11-30T23:30:00Z", "2025-11-10T10:00:00Z",
             "2025-11-11T10:00:00Z"]  # fmt: skip
    push(server, "ann@example.com", *({"lead": f"D-{i}", "type": "decide", "outcome": "reject",
                                       "reason": "no_need", "at": at}
                                      for i, at in enumerate(times, 1)))  # fmt: skip
    november = ("--since", "2025-11-01", "--until", "2025-11-30")
    assert _ids(server, *november) == ["D-6", "D-7", "D-3", "D-4", "D-5"]  # UTC days
    policy = tmp_path / "policy.toml"
    policy.write_text('timezone = "Europe/Berlin"\n', encoding="utf-8")
    server("policy", str(policy))
    # Berlin is UTC+1 in November: its 1 November starts at 2025-10-31T23:00Z
    assert _ids(server, *november) == ["D-2", "D-6", "D-7", "D-3", "D-4"]
    assert _ids(server, "--since", "2025-12-01", "--until", "2025-12-01") == ["D-5"]
    # an undone decision no longer stands: not exported; a set-aside one neither, until the
    # lead is decided again
    push(server, "ann@example.com", {"lead": "D-6", "type": "reopen"})
    server("assign", "D-7", "bob@example.com", "--force")
    assert _ids(server, *november) == ["D-2", "D-3", "D-4"]
    push(server, "bob@example.com", {"lead": "D-7", "type": "decide", "outcome": "accept",
                                     "at": "2025-11-20T10:00:00Z"})  # fmt: skip
    assert _ids(server, *november) == ["D-2", "D-3", "D-4"]  # its decision is not November's
    ran = export(server, "--since", "2025-11-01", "--format", "jsonl")  # until today
    d7 = [json.loads(x) for x in ran.stdout.splitlines() if '"D-7"' in x]
    assert len(d7) == 1 and (d7[0]["outcome"], d7[0]["rep"]) == ("accept", "bob@example.com")
    assert d7[0]["decided_at"] > "2025-12"  # the new cycle's own time (at most now)


def test_a_round_trip_through_each_preset_changes_nothing(server: Server, tmp_path) -> None:
    _hubspot_and_native(server, tmp_path)
    refs = ["1001", "1003", "1004", "L-7"]
    out = tmp_path / "to-hubspot.csv"
    export(server, "--since", "2025-11-01", "--format", "hubspot", "--out", str(out))
    before = snapshot(server, refs)
    dry = server("import", str(out), "--map", "hubspot", "--dry-run")
    assert "would be 0 created, 0 updated, 4 unchanged" in dry.stdout
    ran = server("import", str(out), "--map", "hubspot", "--strict")
    assert ran.stdout == f"{out}: 0 created, 0 updated, 4 unchanged\n"
    assert snapshot(server, refs) == before  # decisions, attributes, versions, change numbers
    assert server.lead("1001")["status"] == "rejected"
    assert server.lead("1001")["attributes"]["lead_status"] == "New"  # not the exported one
    # Salesforce: a Leads report in, decisions out, the file back in
    server("import", str(salesforce_file(tmp_path)), "--map", "salesforce", "--encoding",
           "cp1252", "--owner", "bob@example.com")  # fmt: skip
    assigned_long_ago(server)
    push(server, "bob@example.com",
         {"lead": "00Q5g00000AbCdEEA1", "type": "decide", "outcome": "nurture",
          "reason": "early_research", "at": "2025-11-09T08:00:00Z"})  # fmt: skip
    out = tmp_path / "to-salesforce.csv"
    export(server, "--since", "2025-11-09", "--format", "salesforce", "--out", str(out))
    refs.append("00Q5g00000AbCdEEA1")
    before = snapshot(server, refs)
    ran = server("import", str(out), "--map", "salesforce")
    assert ran.stdout == f"{out}: 0 created, 0 updated, 1 unchanged\n"
    assert snapshot(server, refs) == before


def test_a_file_without_names_only_updates_leads_that_exist(server: Server, tmp_path) -> None:
    _hubspot_and_native(server, tmp_path)
    path = tmp_path / "back.csv"
    path.write_text("Record ID,Email,Lead Status,Disqualification Reason,Triage Note\r\n"
                    "1001,jane@new.example,UNQUALIFIED,No Budget,\r\n"
                    "9999,,UNQUALIFIED,No Budget,\r\n"
                    ",nobody@x.example,BAD_TIMING,,\r\n", encoding="utf-8")  # fmt: skip
    ran = server("import", str(path), "--map", "hubspot", check=False)
    assert ran.returncode == 1 and "2 bad row(s); nothing was imported" in ran.stderr
    assert "line 3: no lead with external_id '9999'" in ran.stderr
    assert "line 4: no lead with email 'nobody@x.example'" in ran.stderr
    path.write_text(path.read_text().splitlines()[0] + "\r\n1001,jane@new.example,x,,\r\n")
    ran = server("import", str(path), "--map", "hubspot")
    assert "0 created, 1 updated, 0 unchanged" in ran.stdout  # the email, nothing else
    jane = server.lead("1001")
    assert (jane["email"], jane["name"], jane["status"]) == ("jane@new.example", "Jane Doe",
                                                             "rejected")  # fmt: skip
    # two leads with one email (a duplicate, linked): HubSpot has one contact for both, and
    # the file cannot say which lead a row is: skipped, named, nothing changed
    twin = tmp_path / "twin.csv"
    twin.write_text("external_id,name,email,owner\r\nL-8,Lee Again,lee@seven.example,"
                    "bob@example.com\r\n", encoding="utf-8")  # fmt: skip
    server("import", str(twin))
    assigned_long_ago(server)
    push(server, "bob@example.com", {"lead": "L-8", "type": "decide", "outcome": "reject",
                                     "reason": "duplicate", "at": "2025-11-07T09:00:00Z"})  # fmt: skip
    out = tmp_path / "out.csv"
    export(server, "--since", "2025-11-06", "--format", "hubspot", "--out", str(out))
    assert [r[1] for r in rows_of(out.read_bytes().decode())] == ["Email", "Lee@Seven.example",
                                                        "lee@seven.example"]  # fmt: skip
    before = snapshot(server, ["L-7", "L-8"])
    ran = server("import", str(out), "--map", "hubspot")
    assert "0 created, 0 updated, 0 unchanged, 2 skipped" in ran.stdout
    assert "line 2: skipped: 2 leads have email 'Lee@Seven.example' (L-7, L-8)" in ran.stdout
    assert snapshot(server, ["L-7", "L-8"]) == before
    nothing = tmp_path / "nothing.csv"
    nothing.write_text("Lead Status\r\nNew\r\n", encoding="utf-8")
    ran = server("import", str(nothing), "--map", "hubspot", check=False)
    assert ran.returncode == 1 and "no column to find the leads by" in ran.stderr


def test_the_endpoint_is_for_marketing(live) -> None:
    live.upsert([{"external_id": "E-1", "name": "Eve", "email": "eve@x.example",
                  "owner": "ann@example.com"}])  # fmt: skip
    lead_id = live.backend.lead("E-1")["id"]
    r = live.ann.post("/v1/sync/push", json={"client_id": str(uuid.uuid4()), "mutations": [
        {"seq": 1, "lead_id": lead_id, "type": "decide", "outcome": "reject",
         "reason": "spam_or_student", "note": "@SUM(1)", "at": "2025-11-05T10:00:00Z"}]})  # fmt: skip
    assert r.json()["results"][0]["status"] == "applied"
    today = datetime.now(timezone.utc).date().isoformat()
    r = live.mo.get("/v1/exports", params={"since": today, "format": "hubspot"})
    assert r.status_code == 200, r.text
    assert r.headers["content-type"] == "text/csv; charset=utf-8"
    assert r.headers["triage-decisions"] == "1"
    assert re.match(r'attachment; filename="triage-decisions-hubspot-[0-9-]+-to-[0-9-]+\.csv"',
                    r.headers["content-disposition"])  # fmt: skip
    assert rows_of(r.text)[1] == ["", "eve@x.example", "UNQUALIFIED", "Spam or Student",
                                  "'@SUM(1)"]  # fmt: skip
    r = live.mo.get("/v1/exports", params={"since": today, "format": "jsonl"})
    assert r.headers["content-type"].startswith("application/x-ndjson")
    assert json.loads(r.text)["note"] == "@SUM(1)"
    assert live.ann.get("/v1/exports", params={"since": today, "format": "csv"}).status_code == 403
    assert live.anon.get("/v1/exports", params={"since": today, "format": "csv"}).status_code == 401
    bad = live.mo.get("/v1/exports", params={"since": "yesterday", "format": "csv"})
    assert bad.status_code == 400 and bad.json()["error"] == "bad_export"
    assert live.mo.get("/v1/exports", params={"since": today, "format": "xls"}).status_code == 422


def test_the_workspace_downloads_an_export(live) -> None:
    from tests.server.test_web import signed_in

    live.upsert([{"external_id": "E-1", "name": "Eve", "email": "eve@x.example",
                  "owner": "ann@example.com"}])  # fmt: skip
    r = live.ann.post("/v1/sync/push", json={"client_id": str(uuid.uuid4()), "mutations": [
        {"seq": 1, "lead_id": live.backend.lead("E-1")["id"], "type": "decide",
         "outcome": "accept", "at": "2025-11-05T10:00:00Z"}]})  # fmt: skip
    assert r.json()["results"][0]["status"] == "applied"
    c, _ = signed_in(live.url, live.mo.token)
    page = c.get("/web/import")
    assert 'action="/web/export"' in page.text and "Export decisions" in page.text
    csrf = re.search(r'name="csrf" value="([^"]+)"', page.text).group(1)
    today = datetime.now(timezone.utc).date().isoformat()
    got = c.post("/web/export", data={"csrf": csrf, "since": today, "format": "salesforce"})
    assert got.status_code == 200, got.text
    assert got.headers["content-disposition"].startswith('attachment; filename="triage-decisions')
    assert rows_of(got.text) == [["Lead ID", "Lead Status", "Disqualification Reason",
                                  "Triage Note"], ["E-1", "Working - Contacted", "", ""]]  # fmt: skip
    forged = c.post("/web/export", data={"since": today, "format": "salesforce"})
    assert forged.status_code == 403 and "Lead ID" not in forged.text
    bad = c.post("/web/export", data={"csrf": csrf, "since": "", "format": "csv"})
    assert bad.status_code == 400 and "say from which day" in bad.text
    c.close()
    rep, _ = signed_in(live.url, live.ann.token)  # the workspace is marketing's
    assert rep.post("/web/export", data={"csrf": csrf, "since": today,
                                         "format": "csv"}).status_code == 303  # fmt: skip
    rep.close()
