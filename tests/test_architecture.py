"""One room per job, kept so: no class over 400 lines and no function over 60 in triage/;
no import circle and DESIGN's arrows (import-linter's contracts in pyproject.toml); one
authoritative list of a lead's fields, which the wire model, the server's table, the
import columns and the store's projection follow."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "triage"
MAX_CLASS = 400
MAX_FUNCTION = 60


def _sizes() -> list[tuple[int, str, str]]:
    found = []
    for path in sorted(PACKAGE.rglob("*.py")):
        if "migrations" in path.parts:  # Alembic revisions: frozen history, not design
            continue
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            size = getattr(node, "end_lineno", 0) - getattr(node, "lineno", 0) + 1
            where = f"{path.relative_to(ROOT)}:{getattr(node, 'lineno', 0)}"
            if isinstance(node, ast.ClassDef) and size > MAX_CLASS:
                found.append((size, "class", f"{where} {node.name}"))
            elif isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and size > MAX_FUNCTION:
                found.append((size, "function", f"{where} {node.name}"))
    return found


def test_no_class_over_400_lines_and_no_function_over_60() -> None:
    assert _sizes() == []


def test_import_linter_contracts_hold() -> None:
    """Layers, textual below the UI, the server stack out of the client (and the client
    out of the server), no cycles between siblings: `lint-imports`, as CI runs it."""
    lint = Path(sys.executable).with_name("lint-imports")
    if not lint.exists():
        pytest.fail("lint-imports is missing: pip install -e '.[test]'")
    done = subprocess.run(
        [str(lint), "--no-cache"], cwd=ROOT, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-2000:]


def test_one_list_of_a_leads_fields() -> None:
    from sqlmodel import SQLModel  # noqa: F401  (the server's tables)

    from triage import domain, protocol
    from triage.server import models
    from triage.store import rows, schema

    names = list(domain.FIELD_NAMES)
    # the wire model: every field, in the same order
    assert list(protocol.LeadWire.model_fields) == names
    # the domain object: every field
    assert set(domain.Lead.__dataclass_fields__) == set(names)
    # the server's table: a column each (the owner as owner_id), and its own bookkeeping
    columns = set(models.Lead.__table__.columns.keys())
    expected = {("owner_id" if n == "owner" else n) for n in names}
    assert expected <= columns, expected - columns
    bookkeeping = {"seq", "decided_at", "decision_reason", "first_decided_at", "decision_hours",
                   "nurture_until", "email_key",
                   # the suggestion as sent, ready made (models.suggestion_columns)
                   "suggestion_sent", "suggestion_list", "suggestion_confidence",
                   "created_at", "updated_at"}  # fmt: skip
    assert columns - expected <= bookkeeping, columns - expected - bookkeeping
    # the import columns: the fields marked imported (evidence comes as evidence_<key>)
    imported = {f.name for f in domain.LEAD_FIELDS if f.imported}
    assert set(domain.IMPORT_KEYS) == imported | {f"evidence_{k}" for k in domain.BANT_KEYS}
    # the store: its projection's columns are fields, or derived from them (documented)
    derived = {"source_key", "campaign_key", "mql_sort", "sla_at", "sla_sort", "name_key",
               "company_key", "search", "attributes_key", "account_key", "account_sort",
               "email_key",
               "suggestion_confidence",  # the suggestion's, apart: the queue's index
               *(f"bant_{k}" for k in domain.BANT_KEYS)}  # fmt: skip
    projection = set(rows._LEAD_COLUMNS)
    assert projection - set(names) <= derived, projection - set(names) - derived
    assert "leads" in "".join(schema._SCHEMA_1)
