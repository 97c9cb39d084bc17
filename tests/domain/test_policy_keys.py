"""Reason keys that never move: a reason of the policy may carry its own picker key (a
digit or a letter); the rest are numbered with the digits left; two reasons of one list
with one key are refused. One rule for the client and the server (domain/policy.py)."""

from __future__ import annotations

import pytest

from triage import domain, protocol

KEYED = """
[[reject_reasons]]
code = "no_budget"
key = "b"
[[reject_reasons]]
code = "duplicate"
key = "D"
[[reject_reasons]]
code = "not_icp_fit"
[[reject_reasons]]
code = "other"
label = "Other (say why)"
note_required = true
key = 1
[[reject_reasons]]
code = "spam"
"""


def test_own_keys_are_kept_and_the_rest_numbered_with_the_free_digits() -> None:
    policy = domain.load_policy_toml(KEYED)
    assert [r.key for r in policy.reject_reasons] == ["b", "d", None, "1", None]
    # "1" is other's own: the reasons without a key get 2, then 3
    assert domain.picker_keys(policy.reject_reasons) == ["b", "d", "2", "1", "3"]
    # no key anywhere: today's numbering, 1-9 then 0, none after the tenth
    numbered = domain.picker_keys([domain.Reason(f"r{i}", "R") for i in range(12)])
    assert numbered == [*"1234567890", None, None]
    assert domain.picker_keys(domain.DEFAULT_REJECT_REASONS) == list("1234567890")


def test_a_new_reason_does_not_move_the_others_keys() -> None:
    before = domain.load_policy_toml(KEYED)
    after = domain.load_policy_toml('[[reject_reasons]]\ncode = "competitor"\n' + KEYED)
    keys = dict(zip((r.code for r in after.reject_reasons),
                    domain.picker_keys(after.reject_reasons), strict=True))  # fmt: skip
    old = dict(zip((r.code for r in before.reject_reasons),
                   domain.picker_keys(before.reject_reasons), strict=True))  # fmt: skip
    for code in ("no_budget", "duplicate", "other"):
        assert keys[code] == old[code]


def test_one_key_for_two_reasons_is_refused_naming_both() -> None:
    twice = KEYED.replace('key = "D"', 'key = "B"')
    with pytest.raises(domain.PolicyError) as refused:
        domain.load_policy_toml(twice)
    message = str(refused.value)
    assert "reject_reasons: key 'b' is given to more than one reason (no_budget, duplicate)" in (
        message
    )
    # the same key in the two lists is fine: each picker has its own
    both = KEYED + '[[nurture_reasons]]\ncode = "later"\nkey = "b"\n'
    assert domain.load_policy_toml(both).nurture_reasons[0].key == "b"


@pytest.mark.parametrize("bad", ['"bb"', '"?"', '""', "10", "true", '"é"', "-1"])
def test_a_key_that_is_not_one_digit_or_letter_is_refused(bad: str) -> None:
    with pytest.raises(domain.PolicyError, match="key must be one digit or one letter"):
        domain.load_policy_toml(f'[[reject_reasons]]\ncode = "x"\nkey = {bad}\n')


def test_keys_survive_the_wire_the_store_and_the_toml() -> None:
    policy = domain.load_policy_toml(KEYED)
    body = policy.to_dict()
    assert "key" not in body["reject_reasons"][2]  # none: left out, not null
    assert domain.Policy.from_dict(body) == policy
    wire = protocol.PolicyWire.model_validate(body)
    dumped = wire.model_dump(mode="json")
    assert dumped["reject_reasons"][0]["key"] == "b"
    assert "key" not in dumped["reject_reasons"][2]
    assert wire.to_domain() == policy
    assert domain.load_policy_toml(domain.policy_toml(policy)) == policy
    # a policy stored before keys existed reads back as it was
    reasons = domain.DEFAULT_POLICY.to_dict()["reject_reasons"]
    assert all("key" not in r for r in reasons)
