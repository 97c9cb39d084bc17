"""Which webhook URLs are allowed: https, or plain http to this machine (loopback) only."""

from __future__ import annotations

import ipaddress

import httpx

MAX_URL = 2000


def is_loopback(host: str) -> bool:
    host = host.strip("[]").lower()
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def url_problem(url: str) -> str | None:
    """None for a URL events may go to, else why not."""
    if len(url) > MAX_URL:
        return f"a URL of at most {MAX_URL} characters"
    try:
        parsed = httpx.URL(url)
    except (httpx.InvalidURL, TypeError, ValueError) as exc:
        return f"not a URL: {exc}"
    if parsed.scheme not in ("https", "http") or not parsed.host:
        return "not an http(s) URL with a host (https://crm.example.com/hooks/triage)"
    if parsed.scheme == "http" and not is_loopback(parsed.host):
        return (
            "events carry leads' personal data and are signed with a secret: use https:// "
            "(plain http:// only to this machine: localhost, 127.0.0.1, [::1])"
        )
    return None
