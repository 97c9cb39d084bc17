"""Domain rules with one meaning everywhere: the nurture re-entry date, the SLA clock,
control characters in lead text, and the folding of what a rep types into a search."""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.support.factories import make_lead
from triage import domain
from triage.domain import Decision, Outcome


def test_nurture_dates_a_rep_types() -> None:
    today = date(2026, 1, 31)
    parse = domain.parse_nurture_until
    assert parse("+30d", today) == date(2026, 3, 2)
    assert parse("+1m", today) == date(2026, 2, 28)  # the last day of a shorter month
    assert parse("+2w", today) == date(2026, 2, 14)
    assert parse("+1y", today) == date(2027, 1, 31)
    assert parse(" 2026-06-01 ", today) == date(2026, 6, 1)
    assert parse("+1D", today) == date(2026, 2, 1)
    for bad in ("yesterday", "+3x", "2026-13-01", "", "+99999d", "-3d", "next blursday",
                "in 3 fortnights", "31 february", "q5", "ma"):  # fmt: skip
        with pytest.raises(ValueError, match="not a date"):
            parse(bad, today)
    # only a date after today: the past, today and +0d are refused
    for early in ("2025-01-01", "2026-01-31", "+0d", "+0m"):
        with pytest.raises(ValueError, match="not after today"):
            parse(early, today)


def test_nurture_dates_in_words() -> None:
    """English words, the first such date after today. 2026-12-01 is a Tuesday."""
    today = date(2026, 12, 1)
    parse = domain.parse_nurture_until
    cases = {
        "tomorrow": date(2026, 12, 2),
        "next monday": date(2026, 12, 7), "Monday": date(2026, 12, 7), "mon": date(2026, 12, 7),
        "next tuesday": date(2026, 12, 8),  # a week on, never today
        "next week": date(2026, 12, 7),  # next Monday
        "in 3 weeks": date(2026, 12, 22), "in a month": date(2027, 1, 1),
        "in  2   days": date(2026, 12, 3),
        "next month": date(2027, 1, 1), "next quarter": date(2027, 1, 1),
        "next year": date(2027, 1, 1),
        "march": date(2027, 3, 1), "15 March": date(2027, 3, 15), "march 15": date(2027, 3, 15),
        "december 25": date(2026, 12, 25), "dec": date(2027, 12, 1),  # 1 Dec is today
        "Q2": date(2027, 4, 1), "q4": date(2027, 10, 1), "Q1 2028": date(2028, 1, 1),
    }  # fmt: skip
    assert {text: parse(text, today) for text in cases} == cases
    with pytest.raises(ValueError, match="not after today"):
        parse("Q2 2026", today)


@given(
    today=st.dates(date(2000, 1, 1), date(2090, 12, 31)),
    text=st.one_of(
        st.sampled_from(["tomorrow", "next week", "next month", "next quarter", "next year"]),
        st.builds("next {}".format, st.sampled_from(["monday", "wed", "friday", "sunday"])),
        st.builds(
            "in {} {}".format, st.integers(1, 99), st.sampled_from(["days", "weeks", "months"])
        ),
        st.sampled_from(["january", "feb", "march", "sept", "december", "q1", "q2", "q3", "q4"]),
    ),
)
def test_a_date_in_words_is_after_today_and_what_it_names(today: date, text: str) -> None:
    found = domain.parse_nurture_until(text, today)
    assert found > today
    if text in ("next monday", "next wed", "next friday", "next sunday"):
        assert found.strftime("%a").lower() == text[5:8] and found - today <= timedelta(days=7)
    if text[:2] in ("q1", "q2", "q3", "q4"):
        assert found.day == 1 and found.month == 3 * int(text[1]) - 2
        assert found - today <= timedelta(days=366)
    if text in ("january", "feb", "march", "sept", "december"):
        assert found.day == 1 and found - today <= timedelta(days=366)


def test_the_server_refuses_a_re_entry_date_before_the_decision_with_a_day_of_tolerance() -> None:
    decided = datetime(2026, 3, 10, 23, 30, tzinfo=timezone.utc)
    check = domain.nurture_until_error
    assert check(None, decided) is None
    assert check(date(2026, 3, 11), decided) is None
    assert check(date(2026, 3, 10), decided) is None
    assert check(date(2026, 3, 9), decided) is None  # one day of tolerance (time zones)
    assert check(date(2026, 3, 8), decided) == "bad_nurture_until"
    assert check(date(2020, 1, 1), decided) == "bad_nurture_until"
    # "until tomorrow" decided on a plane, received three days later: the decision's own
    # date counts (its time as clamped), not the day it arrived
    assert check(date(2026, 3, 11), decided) is None


def test_one_sla_clock_from_assignment_else_mql() -> None:
    mql = datetime(2026, 11, 1, tzinfo=timezone.utc)
    assigned = mql + timedelta(days=3)
    assert domain.sla_start(assigned, mql) == assigned
    assert domain.sla_start(None, mql) == mql
    assert domain.sla_start(None, None) is None
    assert [domain.sla_level(h, 24) for h in (1, 12, 23.9, 24, 47, 48)] == [
        "fresh", "due", "due", "late", "late", "very-late",
    ]  # fmt: skip
    assert not domain.past_sla(23.9, 24) and domain.past_sla(24.1, 24)


HOSTILE = "Evil \x1b[31mRED\x1b]0;pwned\x07 \x9b2J \x7f"


def test_control_characters_become_visible_never_raw() -> None:
    shown = domain.terminal_text(HOSTILE)
    assert not any(ord(c) < 0x20 or 0x7F <= ord(c) <= 0x9F for c in shown)
    assert "␛[31mRED" in shown and "␇" in shown
    assert domain.terminal_text("a\tb\nc") == "a b c"
    assert domain.terminal_text("a\tb\r\nc\x1b", multiline=True) == "a\tb\nc␛"


@given(st.text())
def test_terminal_text_never_lets_a_control_character_through(text: str) -> None:
    for multiline in (False, True):
        shown = domain.terminal_text(text, multiline=multiline)
        allowed = "\t\n" if multiline else ""
        assert all(c in allowed or not (ord(c) < 0x20 or 0x7F <= ord(c) <= 0x9F) for c in shown)


def test_clean_lead_cleans_every_text_and_leaves_a_clean_lead_alone() -> None:
    plain = make_lead(3)
    assert domain.clean_lead(plain) is plain
    dirty = make_lead(
        4,
        name=HOSTILE,
        company="Esc\x1b[2JCorp",
        evidence={"need": "two\nlines \x1b[1m"},
        activities=(domain.Activity(plain.mql_at, "web\x07", "detail\r\nmore\x1b"),),
        decision=Decision(Outcome.REJECT, "other", "note\x1b]8;;x", plain.mql_at),
    )
    clean = domain.clean_lead(dirty)
    texts = [clean.name, clean.company, *clean.evidence.values(), clean.decision.note]
    texts += [a.kind for a in clean.activities] + [a.detail for a in clean.activities]
    assert all("\x1b" not in t and "\x07" not in t and "\r" not in t for t in texts)
    assert clean.evidence["need"].startswith("two\nlines")  # newlines stay in free text
    assert clean.company == "Esc␛[2JCorp"


def test_an_import_row_with_a_control_character_is_refused_by_field() -> None:
    row = {"external_id": "x-1", "name": "Evil \x1b[31mRED", "email": "e@x.example",
           "company": "Esc\x1b[2JCorp", "campaign": "q4\x9b"}  # fmt: skip
    parsed, problems = domain.parse_import_row(row)
    assert parsed is None
    assert [p.split()[0] for p in problems] == ["name", "company", "campaign"]
    assert all("control character" in p for p in problems)
    # tabs and newlines (CRLF from a CRM export too) stay allowed in free text
    ok, problems = domain.parse_import_row(
        {"external_id": "x-2", "name": "Fine", "email": "f@x.example",
         "evidence_need": "line one\r\nline two\twith a tab",
         "activities": [{"at": "2026-11-01", "kind": "call", "detail": "said:\r\nlater"}]}
    )  # fmt: skip
    assert problems == [] and ok is not None
    assert ok.evidence["need"] == "line one\nline two\twith a tab"
    assert ok.activities[0].detail == "said:\nlater"
    _, problems = domain.parse_import_row(
        {"external_id": "x-3", "name": "N", "email": "n@x.example", "title": "a\tb"}
    )
    assert problems and "control character" in problems[0]


def test_folding_matches_what_a_rep_types() -> None:
    assert domain.fold("Schäfer") == "schafer"
    assert domain.fold("KÜHNE") == "kuhne"
    assert domain.fold("Straße") == "strasse"
    assert domain.fold("Ørsted Łódź") == "orsted lodz"
    assert domain.fold("José Müller-Lüdenscheidt") == "jose muller-ludenscheidt"


def test_filter_numbers_out_of_range_and_unknown_keys_are_errors_not_crashes() -> None:
    for query, words in [
        ("score:<99999999999999999999", "between 0 and 100"),
        ("score:>101", "between 0 and 100"),
        ("age:>99999999d", "at most 100 years"),
        ("foo:bar", "foo: is not a filter (known: source:, campaign:, score:"),
    ]:
        flt = domain.parse_filter(query)
        assert flt.errors and words in flt.errors[0], query
        assert flt.score_lt is None and flt.age_gt_hours is None
    ok = domain.parse_filter("score:<100 age:>2w Schäfer 10:30")
    assert (ok.score_lt, ok.age_gt_hours, ok.errors) == (100, 336.0, ())
    assert ok.text == ("schafer", "10:30")
