"""`triage demo`: what it says when the workstation ends, its data directories, its data."""

from __future__ import annotations

import sys

import pytest

from tests.support.cli import run_cli


class CrashingApp:
    """Stands in for the TUI: ends as Textual ends an app that raised (return code 1)."""

    return_code: int | None = None

    def run(self) -> None:
        print("NoMatches: No nodes match '#reason-title' on ReasonPicker()", file=sys.stderr)
        self.return_code = 1


def test_demo_after_a_crash_does_not_claim_success(tmp_path, monkeypatch):
    import triage.app

    monkeypatch.setattr(triage.app, "make_app", lambda **kw: CrashingApp())
    ran = run_cli("demo", "--leads", "5", "--dir", str(tmp_path / "demo"), home=tmp_path)
    assert ran.returncode == 1
    assert "The workstation stopped with an error" in ran.stderr
    assert "Demo over" not in ran.stderr
    assert "What you decided reached" not in ran.stderr
    assert "the demo did not finish" in ran.stderr


# ---------------------------------------------------------------- two demos at once (issue 8.17)


class Terminal:
    """A process on a pseudo-terminal of its own (the TUI needs one), its output drained."""

    def __init__(self, argv: list[str], env: dict[str, str], cols: int = 100, rows: int = 30):
        import fcntl
        import os
        import pty
        import struct
        import subprocess
        import termios
        import threading

        self.master, slave = pty.openpty()
        fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))
        self.proc = subprocess.Popen(
            argv, stdin=slave, stdout=slave, stderr=slave, env=env, start_new_session=True
        )
        os.close(slave)
        self.output = bytearray()
        self._reader = threading.Thread(target=self._drain, daemon=True)
        self._reader.start()

    def _drain(self) -> None:
        import os

        while True:
            try:
                data = os.read(self.master, 65536)
            except OSError:
                return
            if not data:
                return
            self.output.extend(data)

    @property
    def text(self) -> str:
        return self.output.decode("utf-8", "replace")

    def wait_for(self, needle: str, timeout: float = 60) -> None:
        import time

        deadline = time.monotonic() + timeout
        while needle not in self.text:
            assert self.proc.poll() is None, f"exited {self.proc.returncode}:\n{self.text[-3000:]}"
            assert time.monotonic() < deadline, f"no {needle!r} on the screen:\n{self.text[-3000:]}"
            time.sleep(0.05)

    def type(self, keys: str) -> None:
        import os

        os.write(self.master, keys.encode())

    def end(self, timeout: float = 60) -> int:
        import os

        try:
            return self.proc.wait(timeout)
        finally:
            self._reader.join(5)
            os.close(self.master)

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)


def _demo_env(home) -> dict[str, str]:
    import os

    env = {k: v for k, v in os.environ.items() if not k.startswith("TRIAGE_")}
    env.update(TRIAGE_HOME=str(home), TERM="xterm-256color", COLUMNS="100", LINES="30")
    return env


def _runs(home) -> list:
    return sorted((home / "demo").glob("run-*"))


def _server_db(terminal: Terminal) -> str:
    import re

    found = re.findall(r"--db (\S+) --by campaign", terminal.text)
    assert found, terminal.text[-2000:]
    return found[-1]


def _rejected(server_db: str, home) -> int:
    import json

    ran = run_cli("server", "report", "--db", server_db, "--format", "json", home=home)
    assert ran.returncode == 0, ran.stderr
    return sum(row["rejected"] for row in json.loads(ran.stdout)["rows"])


@pytest.mark.slow  # three real demos (server, TUI) on pseudo-terminals: about 10 s
def test_two_demos_at_once_each_keep_their_own_data(tmp_path):
    """Two `triage demo` processes, each on a terminal of its own: the second must not
    delete the first's data (it did: both used <data>/demo, and each run emptied it, so
    the first's report pointed at the second's server)."""
    import sys

    argv = [sys.executable, "-m", "triage", "demo", "--leads", "6"]
    env = _demo_env(tmp_path)
    first = Terminal(argv, env)
    second = third = None
    try:
        first.wait_for("6 open")  # the first sync has filled its queue
        second = Terminal(argv, env)
        second.wait_for("6 open")
        first.type("r1")  # the first demo decides, on its own data
        first.wait_for("5 open")
        first.type("q")
        assert first.end() == 0, first.text[-2000:]
        assert "What you decided reached the demo server" in first.text
        second.type("q")
        assert second.end() == 0, second.text[-2000:]
        mine, theirs = _server_db(first), _server_db(second)
        assert mine != theirs
        assert _rejected(mine, tmp_path) == 1  # the first's report has its decision
        assert _rejected(theirs, tmp_path) == 0
        assert len(_runs(tmp_path)) == 2
        # a third run deletes the directories of the runs that have ended, not its own
        third = Terminal(argv, env)
        third.wait_for("6 open")
        (left,) = _runs(tmp_path)
        assert (left / "server.db").exists() and str(left) not in (mine, theirs)
        third.type("q")
        assert third.end() == 0, third.text[-2000:]
    finally:
        for terminal in (first, second, third):
            if terminal is not None:
                terminal.kill()


def test_a_chosen_directory_is_refused_while_a_demo_uses_it(tmp_path):
    """--dir: a second process is refused (the lock is the first's), and nothing deleted."""
    import subprocess
    import sys

    chosen = tmp_path / "shared"
    holder = subprocess.Popen(
        [sys.executable, "-c",
         "import sys; from pathlib import Path; from triage.demo import claim_directory; "
         f"base, lock = claim_directory(Path({str(chosen)!r})); "
         "(base / 'server.db').write_text('theirs'); print('ready', flush=True); "
         "sys.stdin.read()"],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env=_demo_env(tmp_path),
    )  # fmt: skip
    try:
        assert holder.stdout.readline().strip() == "ready"
        ran = run_cli("demo", "--leads", "3", "--dir", str(chosen), home=tmp_path)
        assert ran.returncode == 2
        assert f"(pid {holder.pid}) is using" in ran.stderr and "nothing was deleted" in ran.stderr
        assert (chosen / "server.db").read_text() == "theirs"
    finally:
        holder.stdin.close()
        holder.wait(30)


# ---------------------------------------------------------------- the demo's data (issue 8.25)

# Words that only a lead of one source can show, in its activities or its evidence.
ONLY = {
    "booth": "tradeshow",
    "badge": "tradeshow",
    "attended": "webinar",
    "registered for": "webinar",
    "search ad": "paid_search",
    "partner": "referral",
}
# How each source brings a lead in: its first activity.
FIRST_KIND = {
    "webinar": "form",
    "tradeshow": "booth_scan",
    "content": "download",
    "paid_search": "ad_click",
    "referral": "referral",
}


def test_demo_activities_fit_the_lead_source():
    from triage.demo import demo_rows

    rows = [row for seed in (1, 7, 11) for row in demo_rows(300, seed=seed)]
    assert {row["source"] for row in rows} == set(FIRST_KIND)
    for row in rows:
        source, acts = row["source"], row["activities"]
        assert acts and acts[0]["kind"] == FIRST_KIND[source], row
        texts = [f"{a['kind']} {a['detail']}".lower() for a in acts]
        texts.append(row.get("evidence_need", "").lower())
        for text in texts:
            for word, owner in ONLY.items():
                if word in text.replace(row["campaign"], ""):
                    assert source == owner, (source, text)


def test_demo_shows_the_workspace_and_a_sign_in_code_that_works(tmp_path, monkeypatch, capsys):
    """The TUI gets the workspace's address and a single-use code as its notice; the code
    signs marketing in (while the server runs) and is printed again at exit."""
    import re

    import httpx

    import triage.app

    seen: dict[str, object] = {}

    class LookingApp:
        return_code = 0

        def __init__(self, notice: str) -> None:
            self.notice = notice

        def run(self) -> None:
            url = re.search(r"(http://\S+)/web/", self.notice).group(1)
            code = re.search(r"sign-in code (\S+)", self.notice).group(1)
            with httpx.Client(base_url=url) as c:
                form = c.get("/web/signin").text
                csrf = re.search(r'name="csrf" value="([^"]+)"', form).group(1)
                r = c.post("/web/signin/code", data={"csrf": csrf, "code": code})
                seen["signed_in"] = r.status_code == 303 and c.get("/web/").status_code == 200
            seen["code"] = code

    monkeypatch.setattr(triage.app, "make_app", lambda **kw: LookingApp(kw["notice"]))
    from triage import demo

    class Args:
        leads = 5
        dir = str(tmp_path / "demo")

    monkeypatch.setenv("TRIAGE_HOME", str(tmp_path / "home"))
    demo.run(Args())
    assert seen["signed_in"] is True
    assert f"sign-in code {seen['code']}" in capsys.readouterr().err  # printed again at exit
