"""Run the server in a background thread on a loopback port: for `triage demo`, tests and benchmarks."""

from __future__ import annotations

import socket
import threading
import time

import uvicorn

from triage.server.app import create_app
from triage.server.service import Backend


class ServerThread:
    """A real uvicorn server over a real socket, stoppable and restartable on the same port."""

    def __init__(
        self,
        backend: Backend,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        log_level: str = "warning",
        max_body: int | None = None,
        deliver: bool = False,
    ):
        self.backend = backend
        # deliver webhooks as `triage server run` does (its lifespan's task); tests that
        # deliver drive a Dispatcher themselves, so off unless asked
        self.deliver = deliver
        self.max_body = max_body
        self.host = host
        self.port = port
        self.log_level = log_level
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None
        self._sock: socket.socket | None = None

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def start(self, timeout: float = 10.0) -> ServerThread:
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((self.host, self.port))
        self.port = sock.getsockname()[1]
        config = uvicorn.Config(
            create_app(
                self.backend, **({} if self.max_body is None else {"max_body": self.max_body})
            ),
            log_level=self.log_level,
            access_log=False,
            lifespan="on" if self.deliver else "off",
        )
        server = uvicorn.Server(config)
        server.install_signal_handlers = lambda: None  # type: ignore[method-assign]  # not the main thread
        self._server = server
        self._thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
        self._thread.start()
        deadline = time.monotonic() + timeout
        while not server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("the server did not start")
            time.sleep(0.01)
        self._sock = sock
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout=10)
        self._server = None
        self._thread = None
        if self._sock is not None:
            self._sock.close()
            self._sock = None

    def __enter__(self) -> ServerThread:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
