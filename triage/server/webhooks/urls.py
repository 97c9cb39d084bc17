"""Which webhook URLs are allowed: https, or plain http to this machine (loopback) only."""

from __future__ import annotations

import ipaddress
from urllib.parse import urlsplit

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
        parsed = urlsplit(url)
        host = parsed.hostname
        parsed.port  # noqa: B018  (a bad port raises here)
    except ValueError as exc:
        return f"not a URL: {exc}"
    if parsed.scheme not in ("https", "http") or not host or any(c.isspace() for c in url):
        return "not an http(s) URL with a host (https://crm.example.com/hooks/triage)"
    if parsed.scheme == "http" and not is_loopback(host):
        return (
            "events carry leads' personal data and are signed with a secret: use https:// "
            "(plain http:// only to this machine: localhost, 127.0.0.1, [::1])"
        )
    return None
