"""`triage queue --sort KEY --reverse`: the same order as the workstation's `O`, offline."""

from __future__ import annotations

import json

from tests.support.cli import run_cli
from tests.support.tui import seed_store


def test_reverse_lists_the_sort_the_other_way_round(tmp_path):
    seed_store(tmp_path / "triage.db", 12).close()

    def ids(*args: str) -> list[str]:
        r = run_cli("queue", "--json", *args, home=tmp_path)
        assert r.returncode == 0, r.stderr
        return [row["id"] for row in json.loads(r.stdout)]

    for sort in ("sla", "score", "name"):
        assert ids("--sort", sort, "--reverse") == ids("--sort", sort)[::-1]
    scores = [
        row["score"]
        for row in json.loads(
            run_cli("queue", "--json", "--reverse", "--sort", "score", home=tmp_path).stdout
        )  # fmt: skip
    ]
    assert scores == sorted(scores)


def test_account_sort_groups_each_account_most_urgent_first(tmp_path):
    seed_store(tmp_path / "triage.db", 40).close()
    r = run_cli("queue", "--json", "--sort", "account", home=tmp_path)
    assert r.returncode == 0, r.stderr
    rows = json.loads(r.stdout)
    companies = [row["company"] for row in rows]
    runs = [c for i, c in enumerate(companies) if i == 0 or companies[i - 1] != c]
    assert len(runs) == len(set(runs)) < len(rows)  # each account's leads together
    assert runs == sorted(runs, key=str.casefold)
    for company in runs:
        ages = [row["age_hours"] for row in rows if row["company"] == company]
        assert ages == sorted(ages, reverse=True)  # most urgent (oldest SLA) first
    reverse = run_cli("queue", "--json", "--sort", "account", "--reverse", home=tmp_path)
    assert [row["id"] for row in json.loads(reverse.stdout)] == [row["id"] for row in rows][::-1]
