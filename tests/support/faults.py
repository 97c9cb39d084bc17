"""Fault injection between the real client and the real server: an httpx transport wrapper.

The wrapped transport talks to the live server over real HTTP; faults are
applied around that real exchange, never instead of the server's logic:
- "drop_request": the request never leaves (ConnectError); the server sees nothing.
- "drop_response": the server processes and commits; the answer is lost (ReadError).
- "timeout_after": as drop_response, but a ReadTimeout.
- "status_500": the server processes; the client is told 500 (a proxy in front failing).
- "malformed": the server processes; the client gets a body that is not JSON.
- "wrong_shape": the server processes; the client gets JSON of the wrong shape.
- "refuse_500": nothing reaches the server; a 500 comes back.
"""

from __future__ import annotations

import random
import threading
from collections.abc import Callable

import httpx

FAULTS = (
    "drop_request", "drop_response", "timeout_after", "status_500", "malformed",
    "wrong_shape", "refuse_500",
)  # fmt: skip


class FaultTransport(httpx.BaseTransport):
    def __init__(self, choose: Callable[[httpx.Request], str | None] | None = None):
        self.inner = httpx.HTTPTransport()
        self.choose = choose or (lambda _req: None)
        self.log: list[tuple[str, str, str | None]] = []
        self._lock = threading.Lock()

    @classmethod
    def random(cls, rate: float, seed: int, faults: tuple[str, ...] = FAULTS) -> FaultTransport:
        rng = random.Random(seed)
        lock = threading.Lock()

        def choose(_req: httpx.Request) -> str | None:
            with lock:
                return rng.choice(faults) if rng.random() < rate else None

        return cls(choose)

    @classmethod
    def script(cls, faults: list[str | None]) -> FaultTransport:
        """Faults for the first requests in order (None = pass); then everything passes."""
        queue = list(faults)
        lock = threading.Lock()

        def choose(_req: httpx.Request) -> str | None:
            with lock:
                return queue.pop(0) if queue else None

        return cls(choose)

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        fault = self.choose(request)
        with self._lock:
            self.log.append((request.method, request.url.path, fault))
        if fault == "drop_request":
            raise httpx.ConnectError("injected: request dropped", request=request)
        if fault == "refuse_500":
            return httpx.Response(500, json={"error": "injected"}, request=request)
        response = self.inner.handle_request(request)
        response.read()
        if fault is None:
            return response
        if fault == "drop_response":
            raise httpx.ReadError("injected: response lost", request=request)
        if fault == "timeout_after":
            raise httpx.ReadTimeout("injected: timed out", request=request)
        if fault == "status_500":
            return httpx.Response(500, text="Internal Server Error", request=request)
        if fault == "malformed":
            return httpx.Response(200, content=b'{"results": [', request=request,
                                  headers={"content-type": "application/json"})  # fmt: skip
        if fault == "wrong_shape":
            return httpx.Response(200, json={"unexpected": True, "leads": "nope"}, request=request)
        raise AssertionError(f"unknown fault {fault}")

    def close(self) -> None:
        self.inner.close()

    def faults_injected(self) -> int:
        return sum(1 for _, _, f in self.log if f)
