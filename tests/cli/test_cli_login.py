"""`triage login`: the token travels by a prompt or stdin, never shown on the command line.

A token in argv is visible to every user of the machine in `ps` for as long as the login
waits on the server. It is still accepted (scripts), with a warning; everything that
tells a rep how to log in shows the prompt or `--token -` only.
"""

from __future__ import annotations

import re
from pathlib import Path

from tests.support.cli import run_cli
from triage.config import Settings

README = Path(__file__).resolve().parents[2] / "README.md"
# `--token` with a value other than `-` (the stdin form)
TOKEN_IN_ARGV = re.compile(r"--token[ =](?!-([\s`\]]|$))\S")


def test_login_help_shows_the_prompt_and_stdin_only():
    r = run_cli("login", "--help")
    assert r.returncode == 0
    assert "TOKEN" not in r.stdout, r.stdout
    assert not TOKEN_IN_ARGV.search(r.stdout), r.stdout
    assert "--token -" in r.stdout and "prompt" in r.stdout


def test_readme_shows_the_prompt_and_stdin_only():
    assert not TOKEN_IN_ARGV.search(README.read_text())


def test_sync_without_login_hints_at_the_prompt(tmp_path):
    r = run_cli("sync", home=tmp_path)
    assert r.returncode == 1 and "triage login --server URL" in r.stderr
    assert "TOKEN" not in r.stderr, r.stderr


def test_login_without_a_token_says_how_without_argv(live_sqlite, tmp_path):
    r = run_cli("login", "--server", live_sqlite.url, "--token", "-", home=tmp_path, stdin="\n")
    assert r.returncode == 2 and "no token" in r.stderr
    assert "TOKEN" not in r.stderr and not TOKEN_IN_ARGV.search(r.stderr), r.stderr


def test_a_token_on_the_command_line_still_works_with_a_warning(live_sqlite, tmp_path):
    token = live_sqlite.ann.token
    r = run_cli("login", "--server", live_sqlite.url, f"--token={token}", home=tmp_path)
    assert r.returncode == 0, r.stderr
    assert "warning" in r.stderr and "ps" in r.stderr and "--token -" in r.stderr
    assert token not in r.stdout + r.stderr
    assert (tmp_path / "token").read_text().strip() == token


def test_a_token_from_stdin_or_the_prompt_gives_no_warning(live_sqlite, tmp_path):
    token = live_sqlite.ann.token
    for argv in (("--token", "-"), ()):  # no tty here: without --token the prompt reads stdin
        home = tmp_path / str(len(argv))
        r = run_cli("login", "--server", live_sqlite.url, *argv, home=home, stdin=token + "\n")
        assert r.returncode == 0, r.stderr
        assert r.stderr == "", r.stderr


async def test_the_workstation_hints_at_the_prompt(tmp_path):
    from triage.app import make_app
    from triage.store import Store

    store = Store.open(tmp_path / "triage.db")
    try:
        app = make_app(store=store, settings=Settings(), db_path=store.path)
        async with app.run_test(size=(100, 30)) as pilot:
            await pilot.press("s")
            hints = [n.message for n in app._notifications if "triage login" in n.message]
        assert hints and all("TOKEN" not in m for m in hints), hints
        assert all("triage login --server URL" in m for m in hints), hints
    finally:
        store.close()
