"""Accounts: the email's domain, else (free mail, no email) the company's name normalised."""

from __future__ import annotations

from triage import domain


def test_the_email_domain_names_the_account() -> None:
    key = domain.account_key
    assert key("tomas@Cobalt-Insurance.com", "Cobalt Insurance") == "cobalt-insurance.com"
    assert key("ann@eu.cobalt.com", None) == "eu.cobalt.com"
    # another company name, the same domain: one account (the domain is the evidence)
    assert key("bo@cobalt.com", "Cobalt Re") == key("cy@cobalt.com", "Cobalt Insurance")


def test_free_mail_and_no_email_fall_back_to_the_company() -> None:
    key = domain.account_key
    assert key("someone@gmail.com", "Cobalt Insurance, Inc.") == "cobalt-insurance"
    assert key("x@GoogleMail.com", "cobalt insurance") == "cobalt-insurance"
    assert key(None, "Cobalt  Insurance LLC") == "cobalt-insurance"
    assert key("not-an-email", "Schäfer & Söhne GmbH") == "schafer-sohne"
    assert key("y@outlook.com", None) is None
    assert key(None, "  ,. ") is None
    assert "gmail.com" in domain.FREE_MAIL_DOMAINS


def test_a_name_that_is_only_a_legal_form_is_kept() -> None:
    assert domain.company_key("Co") == "co"
    assert domain.company_key("Quill & Co") == "quill"


def test_the_account_filter_token() -> None:
    flt = domain.parse_filter("account:Cobalt.com account:Cobalt-Insurance,Inc. words")
    assert flt.account == ("cobalt.com", "cobalt-insurance")
    assert flt.text == ("words",)
    assert domain.parse_filter("account:--").errors
