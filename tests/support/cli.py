"""`triage ...` in this process: `triage.cli.main(argv)` with its output captured.

Much faster than a subprocess (about 3 s a server command there), and a traceback
fails the test where it happens. Tests that must kill a process still use one.
"""

from __future__ import annotations

import io
import os
import sys
from collections.abc import Iterator, Mapping
from contextlib import contextmanager, redirect_stderr, redirect_stdout
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from triage.cli import main


@dataclass(frozen=True, slots=True)
class Ran:
    """What a command did: like subprocess.CompletedProcess (returncode, stdout, stderr)."""

    argv: tuple[str, ...]
    returncode: int
    stdout: str
    stderr: str


@contextmanager
def _environment(changes: Mapping[str, str | None]) -> Iterator[None]:
    saved = {k: os.environ.get(k) for k in changes}
    try:
        for k, v in changes.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
        yield
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def run_cli(
    *argv: str,
    home: Path | str | None = None,
    env: Mapping[str, str | None] | None = None,
    stdin: str = "",
    check: bool | None = None,
) -> Ran:
    """Run `triage *argv`. `home`: TRIAGE_HOME; the other TRIAGE_* variables are cleared
    unless `env` sets them. `check`: True asserts exit 0, False asserts non-zero."""
    changes: dict[str, str | None] = {k: None for k in os.environ if k.startswith("TRIAGE_")}
    changes.pop("TRIAGE_TEST_PG_URL", None)
    if home is not None:
        changes["TRIAGE_HOME"] = str(home)
    changes.update(env or {})
    out, err = io.StringIO(), io.StringIO()
    saved_stdin = sys.stdin
    sys.stdin = io.StringIO(stdin)
    try:
        with _environment(changes), redirect_stdout(out), redirect_stderr(err):
            try:
                code = main(list(argv))
            except SystemExit as exc:  # argparse: --help, usage errors
                code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 2)
    finally:
        sys.stdin = saved_stdin
    ran = Ran(tuple(argv), int(code), out.getvalue(), err.getvalue())
    if check is True:
        assert ran.returncode == 0, f"triage {' '.join(argv)}: exit {ran.returncode}\n{ran.stderr}"
    elif check is False:
        assert ran.returncode != 0, f"triage {' '.join(argv)} should have failed\n{ran.stdout}"
    return ran


def queue_path(home: Path | str) -> Path:
    """The queue (local store) `triage` uses in TRIAGE_HOME `home`: the one of the server
    and rep of its last login (stores/...), or triage.db before any login."""
    from triage.config import Paths, load_settings

    paths = Paths.under(home)
    return load_settings(paths, environ={}).db_path(paths)


class Server:
    """`triage server ...` on one database (`server("import", path)`), and its backend."""

    def __init__(self, db: str, home: Path):
        self.db = db
        self.home = home

    @classmethod
    def with_reps(cls, db: str, home: Path) -> Server:
        """A fresh TRIAGE_HOME `home` on `db`, with the reps ann and bob added."""
        server = cls(db, home)
        home.mkdir()
        for email in ("ann@example.com", "bob@example.com"):
            server("add-user", email)
        return server

    def __call__(self, *args: str, check: bool | None = True) -> Ran:
        return run_cli("server", *args, "--db", self.db, home=self.home, check=check)

    def backend(self) -> Any:
        from triage.server.service import Backend

        return Backend.open(self.db)

    def lead(self, ref: str) -> dict[str, Any]:
        from tests.support.backend import opened

        with opened(self.db) as b:
            return b.lead(ref)

    def counts(self) -> dict[str, int]:
        from tests.support.backend import opened, row_counts

        with opened(self.db) as b:
            return row_counts(b)
