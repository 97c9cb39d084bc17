"""A lead's attributes: what marketing's file says of a lead beyond Triage's own fields
(the columns an import map does not place), as typed key/values.

A key is the column's name made plain (`Lifecycle Stage` -> `lifecycle_stage`); a value is
text, a number, true or false, or a date (kept as ISO 8601 text, `2026-11-03`, so dates
sort and compare as text); text may hold tabs and line breaks, never other control
characters. Bounded: at most MAX_ATTRIBUTES per lead, keys of at most
MAX_KEY characters, text values of at most MAX_VALUE characters.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from typing import Any

from triage.domain.text import control_problem, fold, quoted, storable_text

MAX_ATTRIBUTES = 64
MAX_KEY = 64
MAX_VALUE = 500

AttributeValue = str | int | float | bool

_NOT_KEY = re.compile(r"[^a-z0-9]+")
_KEY = re.compile(r"^[a-z0-9][a-z0-9_]*$")
_INT = re.compile(r"^[+-]?(?:0|[1-9][0-9]{0,14})$")  # "01234" (a postcode) stays text
_FLOAT = re.compile(r"^[+-]?(?:0|[1-9][0-9]{0,14})\.[0-9]{1,12}$")


def attribute_key(name: str) -> str:
    """A column's name as an attribute key: folded, every run of other characters an
    underscore (`Country/Region` -> `country_region`); "" when nothing is left."""
    return _NOT_KEY.sub("_", fold(name)).strip("_")[:MAX_KEY].rstrip("_")


def typed_value(text: str) -> AttributeValue:
    """A cell's text as the value it means: true/false, a whole or decimal number (not one
    with leading zeros: a postcode or an id stays text), else the text itself."""
    low = text.strip().lower()
    if low in ("true", "false"):
        return low == "true"
    if _INT.match(low):
        return int(low)
    if _FLOAT.match(low):
        return float(low)
    return text.strip()


def attribute_problems(value: Any) -> tuple[dict[str, AttributeValue], list[str]]:
    """Attributes as a row or a server sends them, checked: (the attributes, problems)."""
    if value is None:
        return {}, []
    if not isinstance(value, Mapping):
        return {}, ["attributes must be an object of key: value"]
    out: dict[str, AttributeValue] = {}
    problems: list[str] = []
    if len(value) > MAX_ATTRIBUTES:
        problems.append(f"{len(value)} attributes; at most {MAX_ATTRIBUTES}")
    for key, v in value.items():
        if isinstance(v, str):  # a CRM's text area: CRLF inside a quoted cell
            v = v.strip().replace("\r\n", "\n")
        problem = _problem(key, v)
        if problem:
            problems.append(problem)
        elif v is not None and v != "":
            out[key] = v
    return out, problems


def _problem(key: Any, v: Any) -> str | None:
    if not isinstance(key, str) or not _KEY.match(key) or len(key) > MAX_KEY:
        return (
            f"attribute key {quoted(key)} must be lowercase letters, digits and _ "
            f"(at most {MAX_KEY})"
        )
    if isinstance(v, bool) or v is None:
        return None
    if isinstance(v, int):
        return None if abs(v) < 10**15 else f"attribute {key}: number too large"
    if isinstance(v, float):
        return None if math.isfinite(v) else f"attribute {key}: not a finite number"
    if not isinstance(v, str):
        return f"attribute {key} must be text, a number, true or false"
    if not storable_text(v):
        return f"attribute {key} contains a NUL character or invalid Unicode"
    control = control_problem(v, multiline=True)  # a CRM's text areas hold line breaks
    if control:
        return f"attribute {key} {control}"
    if len(v) > MAX_VALUE:
        return f"attribute {key} is longer than {MAX_VALUE} characters"
    return None


def attribute_text(value: AttributeValue) -> str:
    """A value as a filter compares it: folded text; true/false; numbers as written
    (250, 2.5)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return fold(str(value))
