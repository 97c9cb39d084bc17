"""`triage server run` as its own process on a loopback port (tests and benchmarks).

A server that can be killed -9 and restarted on the same port and database (tests),
and that does not share a GIL with the client measuring it (benchmarks).
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time

import httpx


class ServerProcess:
    """`triage server run --db URL --port PORT` in a child process."""

    def __init__(
        self, db_url: str, port: int = 0, *, quiet: bool = True, env: dict[str, str] | None = None
    ):
        if not port:
            with socket.socket() as s:
                s.bind(("127.0.0.1", 0))
                port = s.getsockname()[1]
        self.db_url = db_url
        self.port = port
        self.url = f"http://127.0.0.1:{port}"
        self.quiet = quiet
        self.env = env  # added to this process's environment (e.g. TRIAGE_WEBHOOKS)
        self.proc: subprocess.Popen | None = None

    def start(self, timeout: float = 20.0) -> ServerProcess:
        return self.launch().wait_ready(timeout)

    def launch(self) -> ServerProcess:
        """Start the process and return at once (see wait_ready)."""
        out = subprocess.DEVNULL if self.quiet else subprocess.PIPE
        argv = [sys.executable, "-m", "triage", "server", "run", "--db", self.db_url,
                "--port", str(self.port), "--log-level", "warning"]  # fmt: skip
        env = {**os.environ, **self.env} if self.env else None
        self.proc = subprocess.Popen(argv, stdout=out, stderr=out, text=True, env=env)
        return self

    def wait_ready(self, timeout: float = 20.0) -> ServerProcess:
        """Until /v1/health answers 200; RuntimeError (with its output) if it exits or times out."""
        assert self.proc is not None
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                output = "" if self.quiet else self.proc.communicate()[1]
                self.proc = None
                raise RuntimeError(f"the server process exited: {output[-2000:]}")
            try:
                if httpx.get(self.url + "/v1/health", timeout=1).status_code == 200:
                    return self
            except httpx.TransportError:
                time.sleep(0.05)
        self.stop(signal.SIGKILL)
        raise RuntimeError("the server process did not start")

    def stop(self, sig: int = signal.SIGTERM) -> None:
        if self.proc is not None:
            self.proc.send_signal(sig)
            self.proc.wait(10)
            self.proc = None

    def __enter__(self) -> ServerProcess:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
