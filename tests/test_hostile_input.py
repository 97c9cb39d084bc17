"""Hostile strings and impossible dates: refused where they come in, never shown raw.

- Control characters (terminal escapes) in lead data are refused at upsert and import,
  by row and field; in a rep's note they make the mutation `invalid`.
- Whatever a server sends, the client never writes a control character to a terminal.
- A nurture re-entry date: after today in the CLI; the server answers `invalid`
  (`bad_nurture_until`) for one before the decision's own date, with a day of tolerance.
"""

from __future__ import annotations

import json
import uuid
from datetime import date, datetime, timedelta, timezone
from typing import Any

from tests.conftest import Live
from tests.support.backend import row_counts
from tests.support.cli import run_cli
from tests.support.factories import lead_row, make_lead
from triage import domain
from triage.store import Store

EVIL_NAME = "Evil \x1b[31mRED\x1b]0;pwned\x07"
EVIL_COMPANY = "Esc\x1b[2JCorp"


def test_control_characters_are_refused_at_upsert_by_row(live: Live) -> None:
    rows = [
        lead_row(1),
        lead_row(2, name=EVIL_NAME),
        lead_row(3, company=EVIL_COMPANY),
        lead_row(4, evidence_need="two\nlines\tand a tab"),  # free text keeps \t and \n
        lead_row(5, campaign="q4\x9b"),  # a C1 control (CSI)
    ]
    r = live.mo.post("/v1/leads", json={"leads": rows})
    assert r.status_code == 422, r.text
    body = r.json()
    assert [(x["row"], x["problems"][0].split()[0]) for x in body["rows"]] == [
        ("row 2", "name"), ("row 3", "company"), ("row 5", "campaign"),
    ]  # fmt: skip
    assert all("control character" in x["problems"][0] for x in body["rows"])
    assert row_counts(live.backend)["leads"] == 0  # all or nothing
    ok = live.upsert([lead_row(4, evidence_need="two\nlines\tand a tab")])
    assert ok["created"] == 1
    assert live.backend.lead("ext-4")["evidence"]["need"] == "two\nlines\tand a tab"


def test_control_characters_in_an_import_file_are_named_by_line(tmp_path) -> None:
    db = f"sqlite:///{tmp_path / 'server.db'}"
    run_cli("server", "add-user", "ann@example.com", "--db", db, check=True)
    path = tmp_path / "leads.jsonl"
    lines = [lead_row(1), lead_row(2, name=EVIL_NAME), lead_row(3, company=EVIL_COMPANY)]
    path.write_text("\n".join(json.dumps(x) for x in lines) + "\n")
    ran = run_cli("server", "import", str(path), "--db", db, check=False)
    assert ran.returncode == 1 and "nothing was imported" in ran.stderr
    assert "line 2: name contains a control character (U+001B)" in ran.stderr
    assert "line 3: company contains a control character (U+001B)" in ran.stderr
    assert "\x1b" not in ran.stderr  # the message itself shows the code, not the escape


def _push(live: Live, mutations: list[dict[str, Any]], client_id: str) -> list[dict[str, Any]]:
    r = live.ann.post("/v1/sync/push", json={"client_id": client_id, "mutations": mutations})
    assert r.status_code == 200, r.text
    return r.json()["results"]


def test_a_note_with_an_escape_and_a_past_re_entry_date_are_invalid(live: Live) -> None:
    live.upsert([lead_row(n) for n in range(1, 6)])
    ids = [live.backend.lead(f"ext-{n}")["id"] for n in range(1, 6)]
    decided = datetime(2026, 11, 20, 10, tzinfo=timezone.utc)
    at = decided.isoformat()

    def nurture(lead_id: str, until: date | None, **kw: Any) -> dict[str, Any]:
        m = {"lead_id": lead_id, "type": "decide", "outcome": "nurture",
             "reason": "timing_later", "at": at, **kw}  # fmt: skip
        if until is not None:
            m["nurture_until"] = until.isoformat()
        return m

    # the lead was assigned just now: the decision's time is clamped to the assignment
    assigned = datetime.fromisoformat(live.backend.lead(ids[0])["assigned_at"])
    day = assigned.date()
    mutations = [
        nurture(ids[0], date(2020, 1, 1)),  # long before the decision
        nurture(ids[1], day - timedelta(days=2)),  # two days before
        nurture(ids[2], day - timedelta(days=1)),  # one day before: tolerated
        nurture(ids[3], day + timedelta(days=1), note="call back \x1b[5m"),
        nurture(ids[4], day + timedelta(days=1), note="a note\nover two lines\twith a tab"),
    ]
    client_id = str(uuid.uuid4())
    results = _push(live, [{"seq": i, **m} for i, m in enumerate(mutations, 1)], client_id)
    assert [(x["status"], x["error"]) for x in results] == [
        ("invalid", "bad_nurture_until"),
        ("invalid", "bad_nurture_until"),
        ("applied", None),
        ("invalid", "bad_mutation:note"),
        ("applied", None),
    ]
    assert [live.backend.lead(i)["status"] for i in ids] == [
        "open", "open", "nurture", "open", "nurture",
    ]  # fmt: skip
    # an invalid mutation is processed once: resent, it is a duplicate of its first answer
    again = _push(live, [{"seq": 1, **mutations[0]}], client_id)
    assert (again[0]["status"], again[0]["stored"]) == ("duplicate", "invalid")


def test_the_cli_takes_relative_dates_and_refuses_the_past(tmp_path) -> None:
    store = Store.open(tmp_path / "triage.db")
    store.apply_pull([make_lead(1), make_lead(2), make_lead(3)], [], cursor=3)
    store.close()
    ran = run_cli("decide", "nurture", "L000001", "--reason", "timing_later",
                  "--until", "2020-01-01", home=tmp_path)  # fmt: skip
    assert ran.returncode == 2 and "not after today" in ran.stderr
    ran = run_cli("decide", "nurture", "L000001", "--reason", "timing_later",
                  "--until", "+0d", home=tmp_path)  # fmt: skip
    assert ran.returncode == 2 and "not after today" in ran.stderr
    ran = run_cli("decide", "nurture", "L000001", "--reason", "timing_later",
                  "--until", "some day", home=tmp_path)  # fmt: skip
    assert ran.returncode == 2 and "+30d" in ran.stderr and "next monday" in ran.stderr
    ran = run_cli("decide", "nurture", "L000001", "--reason", "timing_later",
                  "--until", "+30d", home=tmp_path)  # fmt: skip
    assert ran.returncode == 0, ran.stderr
    ran = run_cli("decide", "reject", "L000002", "--reason", "other",
                  "--note", "see \x1b[31mthis", home=tmp_path)  # fmt: skip
    assert ran.returncode == 1 and "control character" in ran.stderr
    with Store.open(tmp_path / "triage.db") as store:
        lead = store.lead("L000001")
        assert lead.decision.nurture_until == datetime.now().astimezone().date() + timedelta(30)
        assert store.lead("L000002").status is domain.Status.OPEN


def test_a_hostile_server_cannot_make_the_client_print_an_escape(tmp_path) -> None:
    """A server that does not check (an old or a hostile one): the pulled lead is cleaned
    before it is stored, so `triage queue` and the TUI print no control character."""
    hostile = make_lead(
        1,
        name=EVIL_NAME,
        company=EVIL_COMPANY,
        source="web\x1b[8m",
        evidence={"need": "fine\x1b]52;c;cGF3bmVk\x07"},
    )
    store = Store.open(tmp_path / "triage.db")
    store.apply_pull([hostile, make_lead(2)], [], cursor=2)
    kept = store.lead(hostile.id)
    store.close()
    assert kept is not None and "\x1b" not in kept.name + kept.company + kept.evidence["need"]
    table = run_cli("queue", "--sort", "name", home=tmp_path, check=True)
    rows = run_cli("queue", "--json", home=tmp_path, check=True)
    for out in (table.stdout, table.stderr, rows.stdout):
        assert not any(ord(c) < 0x20 and c != "\n" or 0x7F <= ord(c) <= 0x9F for c in out)
    assert "Evil ␛[31mRED" in table.stdout


def test_a_number_out_of_range_in_a_filter_is_a_message_not_a_traceback(tmp_path) -> None:
    store = Store.open(tmp_path / "triage.db")
    store.apply_pull([make_lead(1)], [], cursor=1)
    store.close()
    for query in ("score:<99999999999999999999", "colour:red"):
        ran = run_cli("queue", query, home=tmp_path)
        assert ran.returncode == 2 and "bad filter" in ran.stderr, ran.stderr
        assert "Traceback" not in ran.stderr


async def test_the_tui_shows_an_out_of_range_filter_inline_and_keeps_going(tmp_path) -> None:
    from tests.support.tui import build_app, seed_store

    store = seed_store(tmp_path / "triage.db", 20)
    app = build_app(store)
    try:
        async with app.run_test(size=(120, 40)) as pilot:
            await pilot.press("slash", *"score:<99999999999999999999", "enter")
            info = str(app.screen.query_one("#queue-info").render())
            assert "between 0 and 100" in info
            table = app.screen.query_one("#leads")
            assert table.count == 20  # the bad token is ignored, the queue still shows
            await pilot.press("j", "escape")
            assert app.return_code is None and app.is_running
    finally:
        store.close()
