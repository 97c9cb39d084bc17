"""Text a lead carries: control characters, terminal-safe text, folding for search, what
a database can store."""

from __future__ import annotations

import re
import unicodedata
from dataclasses import replace
from typing import Any

from triage.domain.lead import Activity, Lead

# ---------------------------------------------------------------- control characters

# C0 controls, DEL and C1 controls: what a terminal may take for a command (ESC [ ...,
# OSC ... BEL). Tab and newline are kept in the few fields that are free text.
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")
_CONTROL_IN_TEXT = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def control_problem(value: str, *, multiline: bool = False) -> str | None:
    """A sentence when `value` holds a control character (tab and newline are allowed
    when `multiline`), else None."""
    found = (_CONTROL_IN_TEXT if multiline else _CONTROL).search(value)
    if found is None:
        return None
    return (
        f"contains a control character (U+{ord(found.group()):04X}) at position {found.start() + 1}"
    )


def _picture(match: re.Match[str]) -> str:
    code = ord(match.group())
    if code < 0x20:
        return chr(0x2400 + code)  # the Control Pictures: ␛ for ESC, ␇ for BEL
    if code == 0x7F:
        return "\u2421"
    return "\ufffd"


def terminal_text(value: str, *, multiline: bool = False) -> str:
    """`value` safe to write to a terminal: control characters become visible symbols
    (ESC becomes ␛); tab and newline stay when `multiline`, else become spaces."""
    if multiline:
        return _CONTROL_IN_TEXT.sub(_picture, value.replace("\r\n", "\n"))
    return _CONTROL.sub(_picture, value.replace("\t", " ").replace("\r\n", " ").replace("\n", " "))


def _needs_cleaning(lead: Lead) -> bool:
    """A quick test (a few microseconds): does any text of the lead hold a control character?"""
    single = "|".join(
        filter(None, (lead.external_id, lead.name, lead.email, lead.phone, lead.title,
                      lead.company, lead.industry, lead.company_size, lead.country, lead.source,
                      lead.campaign, lead.owner))
    )  # fmt: skip
    if lead.suggestion is not None:  # its factors quote the lead's texts
        single += "|".join((lead.suggestion.reason or "", *lead.suggestion.factors))
    if _CONTROL.search(single):
        return True
    if lead.attributes or lead.duplicate_of:
        texts = [*lead.attributes, *lead.duplicate_of.values(), *lead.duplicate_of]
        texts += [v for v in lead.attributes.values() if isinstance(v, str)]
        if _CONTROL.search("|".join(texts)):
            return True
    multi = "|".join(lead.evidence.values())
    if lead.activities:
        if _CONTROL.search("|".join([a.kind for a in lead.activities])):
            return True
        multi += "|".join([a.detail for a in lead.activities])
    if lead.decision is not None and lead.decision.note:
        multi += lead.decision.note
    return _CONTROL_IN_TEXT.search(multi) is not None or "\r" in multi


def clean_lead(lead: Lead) -> Lead:
    """The lead with every text made safe for a terminal (see terminal_text). The client
    applies it to whatever a server sends, so no screen or table can print an escape."""
    if not _needs_cleaning(lead):
        return lead

    def one(value: str | None) -> str | None:
        return None if value is None else terminal_text(value)

    decision = lead.decision
    if decision is not None and decision.note is not None:
        decision = replace(decision, note=terminal_text(decision.note, multiline=True))
    suggestion = lead.suggestion
    if suggestion is not None:
        suggestion = replace(suggestion, reason=one(suggestion.reason),
                             factors=tuple(terminal_text(f) for f in suggestion.factors))  # fmt: skip
    return replace(
        lead,
        external_id=terminal_text(lead.external_id),
        name=terminal_text(lead.name),
        email=terminal_text(lead.email),
        phone=one(lead.phone),
        title=one(lead.title),
        company=one(lead.company),
        industry=one(lead.industry),
        company_size=one(lead.company_size),
        country=one(lead.country),
        source=one(lead.source),
        campaign=one(lead.campaign),
        owner=one(lead.owner),
        evidence={k: terminal_text(v, multiline=True) for k, v in lead.evidence.items()},
        activities=tuple(
            Activity(a.at, terminal_text(a.kind), terminal_text(a.detail, multiline=True))
            for a in lead.activities
        ),
        decision=decision,
        attributes={
            terminal_text(k): terminal_text(v) if isinstance(v, str) else v
            for k, v in lead.attributes.items()
        },
        duplicate_of={terminal_text(k): terminal_text(v) for k, v in lead.duplicate_of.items()},
        suggestion=suggestion,
    )


# ---------------------------------------------------------------- search text


# Letters that carry no combining accent to drop, folded as a person types them.
_LETTERS = str.maketrans({"ø": "o", "æ": "ae", "œ": "oe", "ł": "l", "đ": "d", "ð": "d",
                          "þ": "th", "ı": "i", "ħ": "h", "ŧ": "t"})  # fmt: skip


def fold(text: str) -> str:
    """Case and accents folded, for matching what a person types: "Schäfer" -> "schafer",
    "Kühne" -> "kuhne", "Straße" -> "strasse", "Ørsted" -> "orsted". Both sides of a search."""
    if text.isascii():  # most text, and nothing to decompose: a pull folds 30,000 of them
        return text.lower()
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    return "".join(c for c in decomposed if not unicodedata.combining(c)).translate(_LETTERS)


def storable_text(value: str) -> bool:
    """Text every database engine can store: no NUL (PostgreSQL refuses it), no lone surrogate."""
    if "\x00" in value:
        return False
    if value.isascii():  # no surrogate (a push checks thousands of ids and codes)
        return True
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def shown_text(value: Any) -> str:
    """`value` as text that can always be printed or sent as UTF-8 JSON."""
    return str(value).encode("utf-8", "backslashreplace").decode("utf-8")


def quoted(value: Any, limit: int = 60) -> str:
    """`value`'s repr for a problem message, cut to about `limit` characters: a bad
    value can be megabytes long, and the message names it, not prints it."""
    try:
        text = shown_text(repr(value))
    except ValueError:  # an int of more than 4,300 digits has no repr
        return "a number of more than 4,300 digits"
    if len(text) <= limit:
        return text
    return text[: limit - 3] + "..."
