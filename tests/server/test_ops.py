"""Running the server: every `triage server` command fails with one line that says what is
wrong and what to do (exit 2 for usage, 1 for the environment), never a traceback; the
banner of `server run` comes after the socket is bound and names the real port; a mistyped
`--db` directory is refused rather than made."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from tests.support.cli import Ran, run_cli

UNREACHABLE_PG = "postgresql://nobody@127.0.0.1:1/x"
COMMANDS = [
    ("users",),
    ("migrate",),
    ("migrate", "--sql"),
    ("add-user", "cy@example.com"),
    ("assign", "L1", "ann@example.com"),
    ("policy",),
    ("report",),
    ("run", "--port", "0"),
    ("import", "LEADS"),
    ("token", "list"),
    ("token", "rotate", "ann@example.com"),
    ("user", "deactivate", "ann@example.com"),
]


def one_line(ran: Ran) -> str:
    """The one line of a refusal (and nothing that looks like a traceback)."""
    assert "Traceback" not in ran.stderr and "sqlalchemy" not in ran.stderr.lower(), ran.stderr
    lines = ran.stderr.strip().splitlines()
    assert len(lines) == 1, ran.stderr
    return lines[0]


@pytest.mark.parametrize("argv", COMMANDS, ids=lambda a: " ".join(a))
def test_an_unreachable_database_is_one_line(argv: tuple[str, ...], tmp_path: Path) -> None:
    if "LEADS" in argv:
        leads = tmp_path / "leads.jsonl"
        leads.write_text('{"external_id": "x-1", "name": "X", "email": "x@x.example"}\n')
        argv = tuple(str(leads) if a == "LEADS" else a for a in argv)
    ran = run_cli("server", *argv, "--db", UNREACHABLE_PG, home=tmp_path)
    assert ran.returncode == 1
    line = one_line(ran)
    assert "127.0.0.1:1" in line and "refused" in line.lower()
    assert "--db" in line  # what to do: check where it points
    assert ran.stdout == ""


def test_the_environment_variable_is_named_when_it_was_used(tmp_path: Path) -> None:
    ran = run_cli("server", "users", home=tmp_path, env={"TRIAGE_SERVER_DB": UNREACHABLE_PG})
    assert ran.returncode == 1 and "TRIAGE_SERVER_DB" in one_line(ran)


@pytest.mark.parametrize(
    "url", ["mysql://x@localhost/y", "postgresql://x:y@host:notaport/db", "sqlite://x/y/z"]
)
def test_a_database_url_that_cannot_be_used_is_a_usage_error(url: str, tmp_path: Path) -> None:
    ran = run_cli("server", "users", "--db", url, home=tmp_path)
    assert ran.returncode == 2
    assert "--db" in one_line(ran)


def test_a_mistyped_db_directory_is_refused_not_made(tmp_path: Path) -> None:
    missing = tmp_path / "nonexistent" / "dir" / "x.db"
    for argv, env in (
        (("--db", str(missing)), None),
        (("--db", f"sqlite:///{missing}"), None),
        ((), {"TRIAGE_SERVER_DB": str(missing)}),
    ):
        for command in (("report",), ("users",), ("run", "--port", "0")):
            ran = run_cli("server", *command, *argv, home=tmp_path / "home", env=env)
            assert ran.returncode == 1
            line = one_line(ran)
            assert str(missing.parent) in line and "no such directory" in line
    assert not (tmp_path / "nonexistent").exists()


def test_the_default_data_dir_is_still_made_on_first_run(tmp_path: Path) -> None:
    home = tmp_path / "fresh" / "profile"
    ran = run_cli("server", "users", home=home, check=True)
    assert (home / "server.db").is_file()
    assert "no schema yet; created it" in ran.stderr  # says what it did to a new database


def test_run_says_it_is_creating_a_schema(tmp_path: Path) -> None:
    db = tmp_path / "new.db"
    with RunningServer(["--db", str(db)]) as server:
        assert "no schema yet; created it" in server.banner_lines
        r = httpx.get(server.url + "/v1/health", timeout=5)
        assert r.status_code == 200


@pytest.mark.parametrize("port", ["99999", "-1", "http"])
def test_a_port_out_of_range_is_a_usage_error(port: str, tmp_path: Path) -> None:
    ran = run_cli("server", "run", "--port", port, "--db", str(tmp_path / "s.db"))
    assert ran.returncode == 2
    assert "Traceback" not in ran.stderr and "--port" in ran.stderr.strip().splitlines()[-1]


def test_a_busy_port_is_one_line_and_no_banner(tmp_path: Path) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        ran = run_cli("server", "run", "--port", str(port), "--db", str(tmp_path / "s.db"))
    assert ran.returncode == 1
    line = one_line(ran.__class__(ran.argv, ran.returncode, ran.stdout, _without_schema(ran)))
    assert f"127.0.0.1:{port}" in line and "in use" in line and "--port" in line
    assert "triage server on" not in ran.stderr


def _without_schema(ran: Ran) -> str:
    return "\n".join(x for x in ran.stderr.splitlines() if "schema" not in x)


class RunningServer:
    """`triage server run --port 0 ...` in a child process; its banner read from stderr."""

    def __init__(self, argv: list[str]):
        self.argv = [sys.executable, "-m", "triage", "server", "run", "--port", "0", *argv]
        self.banner_lines = ""
        self.url = ""

    def __enter__(self) -> RunningServer:
        env = {k: v for k, v in os.environ.items() if not k.startswith("TRIAGE_")}
        self.proc = subprocess.Popen(
            self.argv, stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True, env=env
        )
        assert self.proc.stderr is not None
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            line = self.proc.stderr.readline()
            if not line:
                break
            self.banner_lines += line
            if line.startswith("triage server on "):
                self.url = line.split()[3]
                return self
        self.__exit__()
        raise AssertionError(f"no banner: {self.banner_lines}")

    def __exit__(self, *exc: object) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(10)
        if self.proc.stderr is not None:
            self.proc.stderr.close()


def test_port_0_announces_the_port_it_got(tmp_path: Path) -> None:
    with RunningServer(["--db", str(tmp_path / "s.db")]) as server:
        assert server.url.startswith("http://127.0.0.1:")
        port = int(server.url.rsplit(":", 1)[1])
        assert port != 0
        # bound before it was announced: it answers at once
        assert httpx.get(server.url + "/v1/health", timeout=5).status_code == 200


@pytest.mark.slow
def test_an_idle_keep_alive_connection_outlives_a_reps_pause(tmp_path: Path) -> None:
    """A client that comes back on the same connection after a pause (a rep's next push,
    10 s later) finds it open: uvicorn's default closed it after 5 s, and the request sent
    as it closed failed as a reset (seen in the load test)."""
    import http.client

    from tests.support.server import ServerProcess

    with ServerProcess(f"sqlite:///{tmp_path / 'server.db'}") as srv:
        conn = http.client.HTTPConnection("127.0.0.1", srv.port, timeout=10)
        try:
            conn.request("GET", "/v1/health")
            first = conn.getresponse()
            first.read()
            assert first.status == 200 and first.getheader("connection") != "close"
            sock = conn.sock
            time.sleep(6.5)  # past uvicorn's default of 5 s
            conn.request("GET", "/v1/health")
            again = conn.getresponse()
            again.read()
            assert again.status == 200
            assert conn.sock is sock  # the same connection, not a new one made quietly
        finally:
            conn.close()
