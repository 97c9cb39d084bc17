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
