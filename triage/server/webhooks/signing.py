"""The webhook signature: `Triage-Signature: t=<unix time>,v1=<hex HMAC-SHA256>` of
"<t>.<body>" under the endpoint's secret. A receiver recomputes it over the raw body,
compares in constant time, and refuses a `t` outside its replay window (REPLAY_WINDOW)."""

from __future__ import annotations

import hashlib
import hmac
import secrets

HEADER = "Triage-Signature"
REPLAY_WINDOW = 300  # seconds either side of the receiver's clock (README)
SECRET_PREFIX = "whsec_"


def new_secret() -> str:
    return SECRET_PREFIX + secrets.token_urlsafe(32)


def digest(secret: str, t: int, body: bytes) -> str:
    return hmac.new(secret.encode(), f"{t}.".encode() + body, hashlib.sha256).hexdigest()


def header(secret: str, t: int, body: bytes, *previous: str) -> str:
    """One v1 signature per secret: the current one first, then (while a rotation
    overlaps) the previous one, as Stripe does; a receiver takes any v1 that matches."""
    return ",".join([f"t={t}"] + [f"v1={digest(k, t, body)}" for k in (secret, *previous)])


def verify(secret: str, value: str, body: bytes, now: float, window: int = REPLAY_WINDOW) -> bool:
    """What a receiver does (and README shows): the time within the window, and one v1
    signature that matches."""
    parts = [p.split("=", 1) for p in value.split(",") if "=" in p]
    stamps = [v for k, v in parts if k.strip() == "t"]
    if len(stamps) != 1 or not stamps[0].strip().isdigit():
        return False
    t = int(stamps[0])
    if abs(now - t) > window:
        return False
    expected = digest(secret, t, body)
    return any(k.strip() == "v1" and hmac.compare_digest(v.strip(), expected) for k, v in parts)
