"""The arrows of DESIGN's layout point down only: each layer is imported in a fresh
interpreter and must not pull in what sits above it (or beside it)."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

WATCHED = ("textual", "fastapi", "uvicorn", "sqlmodel", "httpx", "pydantic",
           "triage.store", "triage.sync", "triage.server", "triage.app")  # fmt: skip

RULES = {
    # module: what it must never load
    "triage.domain": WATCHED,
    "triage.config": WATCHED,
    "triage.store": tuple(m for m in WATCHED if m != "triage.store"),
    "triage.protocol": (
        "textual",
        "fastapi",
        "uvicorn",
        "sqlmodel",
        "httpx",
        "triage.store",
        "triage.sync",
        "triage.server",
        "triage.app",
    ),  # fmt: skip
    "triage.sync.engine": (
        "textual",
        "fastapi",
        "uvicorn",
        "sqlmodel",
        "triage.server",
        "triage.app",
    ),  # fmt: skip
    "triage.server.app": ("textual", "triage.store", "triage.sync", "triage.app", "sklearn"),
    # what scores a lead being assigned: the model's pickle brings scikit-learn in on first
    # use, never this module
    "triage.server.suggest.scoring": ("textual", "triage.store", "sklearn", "numpy", "scipy"),
    "triage.server.service": (
        "textual",
        "httpx",
        "triage.store",
        "triage.sync",
        "triage.app",
        "sklearn",
    ),  # fmt: skip
    "triage.app": (
        "fastapi",
        "uvicorn",
        "sqlmodel",
        "httpx",
        "pydantic",
        "triage.sync",
        "triage.server",
        "triage.protocol",
    ),  # fmt: skip
    "triage.cli": (
        "textual",
        "fastapi",
        "uvicorn",
        "sqlmodel",
        "httpx",
        "pydantic",
        "triage.server",
        "triage.sync",
        "sklearn",
    ),  # fmt: skip
}


@pytest.mark.parametrize("module", sorted(RULES))
def test_layer_does_not_import_what_sits_above_it(module):
    code = f"import sys, json; import {module}; print(json.dumps(sorted(m for m in sys.modules)))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    loaded = set(json.loads(out.stdout))
    bad = sorted(m for m in loaded for f in RULES[module] if m == f or m.startswith(f + "."))
    assert bad == [], f"{module} loads {bad}"
