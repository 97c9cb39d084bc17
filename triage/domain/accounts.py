"""Accounts: which leads belong to the same company, by one rule everywhere.

A lead's account is its email's domain (`cobalt-insurance.com`), unless that is a free
mail provider (gmail.com, outlook.com, ...: thousands of unrelated people), then its
company's name, normalised (`Cobalt Insurance, Inc.` and `cobalt insurance` are one
account: `cobalt-insurance`). A domain always has a dot; a normalised name never has
one, so the two kinds of key never meet. No email domain and no company: no account.
"""

from __future__ import annotations

import re

from triage.domain.text import fold

# The providers whose addresses say nothing of the company (the largest, worldwide).
FREE_MAIL_DOMAINS = frozenset({
    "gmail.com", "googlemail.com", "yahoo.com", "yahoo.co.uk", "yahoo.fr", "yahoo.de",
    "ymail.com", "hotmail.com", "hotmail.co.uk", "hotmail.fr", "outlook.com", "live.com",
    "msn.com", "aol.com", "icloud.com", "me.com", "mac.com", "proton.me", "protonmail.com",
    "pm.me", "gmx.de", "gmx.net", "gmx.com", "web.de", "t-online.de", "mail.com",
    "yandex.ru", "yandex.com", "mail.ru", "qq.com", "163.com", "126.com", "zoho.com",
    "fastmail.com", "hey.com", "tutanota.com", "orange.fr", "free.fr", "laposte.net",
    "libero.it", "naver.com", "rediffmail.com",
})  # fmt: skip

# Legal forms dropped from the end of a company's name ("Cobalt Insurance, Inc.").
_LEGAL_FORMS = frozenset({
    "inc", "incorporated", "llc", "ltd", "limited", "corp", "corporation", "co", "company",
    "plc", "gmbh", "ag", "sa", "sas", "sarl", "srl", "spa", "bv", "nv", "oy", "ab", "as",
    "aps", "kg", "pty", "pte", "lp", "llp",
})  # fmt: skip
_WORD = re.compile(r"[^\W_]+")


def email_domain(email: str | None) -> str | None:
    """The domain of an address, lowercased; None without one."""
    if not email or "@" not in email:
        return None
    domain = email.rsplit("@", 1)[1].strip().strip(".").lower()
    return domain if "." in domain else None


def company_key(company: str | None) -> str | None:
    """A company's name as accounts compare it: folded, words only, legal forms at the
    end dropped, joined by "-" ("Cobalt Insurance, Inc." -> "cobalt-insurance")."""
    words = _WORD.findall(fold(company or ""))
    while len(words) > 1 and words[-1] in _LEGAL_FORMS:
        words.pop()
    return "-".join(words) or None


def account_key(email: str | None, company: str | None) -> str | None:
    """The account of a lead: its email's domain, else (free mail, no email) its company."""
    domain = email_domain(email)
    if domain is not None and domain not in FREE_MAIL_DOMAINS:
        return domain
    return company_key(company)
