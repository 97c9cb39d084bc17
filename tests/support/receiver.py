"""A webhook receiver in its own process on a loopback port, that misbehaves on cue.

`python -m tests.support.receiver --port P --log FILE --script "refuse*2,500,stall,close"`
answers each request by the next step of the script, then `ok` for ever:

- `ok`: 200, after reading the request.
- `refuse`: 503 Service Unavailable (the receiver is not ready: try later).
- `500`: 500 Internal Server Error.
- `stall`: waits `--stall` seconds (past the sender's timeout), then 200.
- `close`: starts a 200 answer and closes the connection in the middle of it.
- `reset`: closes the connection (RST) without reading the body or answering.

"Down for a while" is the process stopped, then started again on the same port (and log).
Each request is appended to the log (JSON Lines) before it is answered: time, the step,
the Triage-* headers and the raw body (None for `reset`, which never read it).
`--delay` seconds are spent on every request (a receiver that takes its time).
"""

from __future__ import annotations

import argparse
import json
import socket
import struct
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any


def _steps(script: str) -> list[str]:
    out: list[str] = []
    for part in filter(None, (p.strip() for p in script.split(","))):
        name, _, count = part.partition("*")
        out += [name] * int(count or 1)
    return out


def serve(port: int, log: Path, script: str, stall: float, delay: float) -> None:
    steps = _steps(script)
    lock = threading.Lock()

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        disable_nagle_algorithm = True  # else 40 ms a request: Nagle meets delayed ACKs

        def log_message(self, *args: Any) -> None:  # quiet
            pass

        def do_POST(self) -> None:  # noqa: N802 (http.server's name)
            with lock:
                step = steps.pop(0) if steps else "ok"
            body = None
            if step != "reset":
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0)).decode()
            record = {
                "t": time.time(), "step": step, "path": self.path, "body": body,
                "headers": {k.lower(): v for k, v in self.headers.items()
                            if k.lower().startswith("triage-")},
            }  # fmt: skip
            with lock, log.open("a", encoding="utf-8") as f:
                f.write(json.dumps(record) + "\n")
            if delay:
                time.sleep(delay)
            getattr(self, "_" + step)()

        def _answer(self, status: int, text: str = "ok") -> None:
            data = text.encode()
            self.send_response(status)
            self.send_header("Content-Type", "text/plain")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def _ok(self) -> None:
            self._answer(200)

        def _refuse(self) -> None:
            self._answer(503, "not now")

        def _500(self) -> None:
            self._answer(500, "boom")

        def _stall(self) -> None:
            time.sleep(stall)
            self._answer(200, "late")

        def _close(self) -> None:
            self.wfile.write(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\npartial")
            self.wfile.flush()
            self.close_connection = True
            self.connection.shutdown(socket.SHUT_RDWR)

        def _reset(self) -> None:
            self.close_connection = True
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            self.connection.close()

    class Server(ThreadingHTTPServer):
        daemon_threads = True

        def handle_error(self, request: Any, client_address: Any) -> None:
            pass  # a sender that gave up (stall) or a connection we cut: expected here

    with Server(("127.0.0.1", port), Handler) as server:
        print("ready", flush=True)
        server.serve_forever()


class Receiver:
    """The receiver process, for tests and benchmarks: start, stop (down), start again."""

    def __init__(self, log: Path, *, port: int = 0, stall: float = 3.0, delay: float = 0.0):
        if not port:
            with socket.socket() as s:
                s.bind(("127.0.0.1", 0))
                port = s.getsockname()[1]
        self.port, self.log, self.stall, self.delay = port, log, stall, delay
        self.url = f"http://127.0.0.1:{port}/hooks/triage"
        self.proc: subprocess.Popen[str] | None = None

    def start(self, script: str = "") -> Receiver:
        argv = [sys.executable, "-m", "tests.support.receiver", "--port", str(self.port),
                "--log", str(self.log), "--script", script, "--stall", str(self.stall),
                "--delay", str(self.delay)]  # fmt: skip
        root = Path(__file__).resolve().parents[2]
        self.proc = subprocess.Popen(argv, cwd=root, stdout=subprocess.PIPE, text=True)
        assert self.proc.stdout is not None
        if self.proc.stdout.readline().strip() != "ready":
            raise RuntimeError("the receiver did not start")
        return self

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.kill()
            self.proc.wait(10)
            self.proc = None

    def records(self) -> list[dict[str, Any]]:
        if not self.log.exists():
            return []
        lines = self.log.read_text(encoding="utf-8").splitlines()
        return [json.loads(line) for line in lines if line.strip()]

    def __enter__(self) -> Receiver:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--log", type=Path, required=True)
    ap.add_argument("--script", default="")
    ap.add_argument("--stall", type=float, default=3.0)
    ap.add_argument("--delay", type=float, default=0.0)
    args = ap.parse_args()
    serve(args.port, args.log, args.script, args.stall, args.delay)


if __name__ == "__main__":
    main()
