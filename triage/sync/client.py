"""The HTTP client of protocol v1 (httpx). Every answer is validated against the wire models,
so a malformed or wrong-shaped reply is an error with a clear message, never a crash."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any, TypeVar

import httpx
from pydantic import BaseModel, ValidationError

import triage
from triage import protocol

T = TypeVar("T", bound=BaseModel)

USER_AGENT = f"triage/{triage.__version__} (protocol {protocol.PROTOCOL_VERSION})"
TIMEOUT = httpx.Timeout(connect=5.0, read=30.0, write=30.0, pool=5.0)


class SyncError(Exception):
    """A sync request failed. `retry` says whether trying again later can help."""

    retry = True

    def __init__(self, message: str, *, status: int | None = None, code: str | None = None):
        super().__init__(message)
        self.message = message
        self.status = status
        self.code = code


class NetworkError(SyncError):
    """The server could not be reached, or the connection broke."""


class ServerError(SyncError):
    """The server answered 5xx: a transient failure on its side."""


class ConnectionRefused(NetworkError):
    """Nothing listens at the server's address: no use waiting long (one quick retry)."""


class DeadlineError(SyncError):
    """The sync's deadline passed (`triage sync --timeout`): stop, keep everything."""

    retry = False


class Deadline:
    """When a whole sync must end, on a monotonic clock. Every request's timeouts are cut
    to what is left of it, and no retry waits past it."""

    def __init__(self, seconds: float, clock: Callable[[], float] = time.monotonic):
        self.seconds = seconds
        self.clock = clock
        self.at = clock() + seconds

    def remaining(self) -> float:
        return self.at - self.clock()

    def __repr__(self) -> str:
        return f"Deadline({self.seconds:g} s, {self.remaining():.1f} s left)"


class ProtocolError(SyncError):
    """The answer was not what protocol v1 promises (bad JSON, wrong shape)."""


class AuthError(SyncError):
    """401 or 403: the token is wrong or not allowed. Retrying cannot help."""

    retry = False


class RequestError(SyncError):
    """Another 4xx: the request itself was refused. Retrying the same request cannot help."""

    retry = False


class ApiClient:
    def __init__(
        self,
        base_url: str,
        token: str | None,
        *,
        transport: httpx.BaseTransport | None = None,
        timeout: httpx.Timeout | float = TIMEOUT,
        deadline: Deadline | None = None,
    ):
        headers = {"User-Agent": USER_AGENT, "Accept": "application/json"}
        if token:
            headers["Authorization"] = f"Bearer {token}"
        self.base_url = base_url.rstrip("/")
        self.deadline = deadline
        self._timeout = httpx.Timeout(timeout)
        self._http = httpx.Client(
            base_url=self.base_url, headers=headers, timeout=timeout, transport=transport
        )

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> ApiClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:  # never show the token
        return f"ApiClient({self.base_url!r})"

    # ------------------------------------------------------------ endpoints

    def health(self) -> protocol.Health:
        return self._call("GET", "/v1/health", protocol.Health)

    def me(self) -> protocol.Me:
        return self._call("GET", "/v1/me", protocol.Me)

    def policy(self) -> protocol.PolicyWire:
        return self._call("GET", "/v1/policy", protocol.PolicyWire)

    def pull(
        self,
        cursor: int,
        limit: int,
        client_id: str,
        digest: str | None = None,
        *,
        own: bool = False,
        listed: bool = False,
    ) -> protocol.PullResponse:
        """`listed`: only to a server with "suggestion_list" (suggestions as lists)."""
        params: dict[str, Any] = {"cursor": cursor, "limit": limit, "client_id": client_id}
        if digest is not None:  # only to a server with "history_check"
            params["digest"] = digest
        if own:  # only to a server with "own_changes"
            params["own"] = "true"
        if listed:
            params["suggestion"] = "list"
        return self._call("GET", "/v1/sync/pull", protocol.PullResponse, params=params)

    def lookup(self, lead_ids: list[str], client_id: str) -> protocol.LookupResponse:
        """("lookup") The server's current state of these leads of the rep."""
        return self._call(
            "POST",
            "/v1/sync/lookup",
            protocol.LookupResponse,
            params={"client_id": client_id},
            json={"lead_ids": lead_ids},
        )

    def push(
        self, client_id: str, mutations: list[dict[str, Any]], *, patch: bool = False
    ) -> protocol.PushResponse:
        """`patch`: only to a server with "push_patch" (answers that carry what changed)."""
        body: dict[str, Any] = {"client_id": client_id, "mutations": mutations}
        if patch:
            body["patch"] = True
        resp = self._call("POST", "/v1/sync/push", protocol.PushResponse, json=body)
        sent = {m["seq"] for m in mutations}
        if {r.seq for r in resp.results} != sent:
            raise ProtocolError("the server's push answer does not match the mutations sent")
        return resp

    # ------------------------------------------------------------ plumbing

    def _timeouts(self) -> httpx.Timeout | None:
        """This request's timeouts: the client's, cut to what is left of the deadline."""
        if self.deadline is None:
            return None
        left = self.deadline.remaining()
        if left <= 0:
            raise DeadlineError(
                f"{self.base_url}: out of time (the sync's {self.deadline.seconds:g} s deadline)"
            )
        t = self._timeout

        def cut(value: float | None) -> float:
            return left if value is None else min(value, left)

        return httpx.Timeout(
            connect=cut(t.connect), read=cut(t.read), write=cut(t.write), pool=cut(t.pool)
        )

    def _call(self, method: str, path: str, model: type[T], **kw: Any) -> T:
        timeouts = self._timeouts()
        if timeouts is not None:
            kw["timeout"] = timeouts
        try:
            response = self._http.request(method, path, **kw)
        except httpx.TimeoutException:
            raise NetworkError(f"{self.base_url}: timed out") from None
        except httpx.TransportError as exc:
            if _refused(exc):
                raise ConnectionRefused(
                    f"{self.base_url}: connection refused (is the server running?)"
                ) from None
            raise NetworkError(f"{self.base_url}: {_reason(exc)}") from None
        status = response.status_code
        if status >= 400:
            code, detail = _error_body(response)
            text = f"{self.base_url}{path}: {status} {code or ''} {detail or ''}".strip()
            if status in (401, 403):
                raise AuthError(text, status=status, code=code)
            if status >= 500 or status == 429:
                raise ServerError(text, status=status, code=code)
            raise RequestError(text, status=status, code=code)
        try:
            # Parsed and checked in one step, in pydantic's core (the answer is not built as
            # Python objects first): the largest part of a pull's cost on the client.
            return model.model_validate_json(response.content)
        except ValidationError as exc:
            first = exc.errors()[0]
            if first.get("type") == "json_invalid":
                raise ProtocolError(f"{self.base_url}{path}: the answer is not JSON") from None
            where = ".".join(str(p) for p in first.get("loc", ()))
            raise ProtocolError(
                f"{self.base_url}{path}: unexpected answer ({where}: {first.get('msg')})"
            ) from None


def _refused(exc: BaseException) -> bool:
    """Was the connection refused (nothing listening)? httpx wraps the OSError twice."""
    seen: set[int] = set()
    cause: BaseException | None = exc
    while cause is not None and id(cause) not in seen:
        if isinstance(cause, ConnectionRefusedError):
            return True
        seen.add(id(cause))
        cause = cause.__cause__ or cause.__context__
    return False


def _reason(exc: httpx.TransportError) -> str:
    text = str(exc) or type(exc).__name__
    if "Connection refused" in text:
        return "connection refused (is the server running?)"
    return text


def _error_body(response: httpx.Response) -> tuple[str | None, str | None]:
    try:
        data = response.json()
    except ValueError:
        return None, None
    if isinstance(data, dict):
        code = data.get("error")
        detail = data.get("detail")
        return (
            code if isinstance(code, str) else None,
            detail if isinstance(detail, str) else None,
        )
    return None, None
