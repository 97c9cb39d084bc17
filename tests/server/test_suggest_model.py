"""The model of the team's decisions on a synthetic history whose rule is known: the model
finds it (held-out figures well above the majority class, the rule's answers on leads it
never saw), the evaluation warns of a feature written after the decision, refuses fewer
than 200 decisions, and `triage server suggest train|evaluate` work on the server's own
decisions (pushed by a rep, SQLite and PostgreSQL) and on a CRM's file through a map."""

from __future__ import annotations

import csv
import json
import random
import uuid
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select, update

from tests.server.test_history_maps import MAP  # the same CRM history map
from tests.support.backend import push_as
from tests.support.cli import run_cli
from tests.support.factories import lead_row
from triage.server.models_suggest import SuggestModel
from triage.server.service import Backend
from triage.server.suggest import train
from triage.server.suggest.evaluate import TooFew, evaluate
from triage.server.suggest.model import Suggester, as_features
from triage.server.suggest.store import Decision

TITLES = ("Student", "CFO", "VP Operations", "Data Engineer", "Head of IT")
SOURCES = ("webinar", "tradeshow", "content", "referral")
T0 = datetime(2026, 1, 1, tzinfo=timezone.utc)


def rule(title: str, source: str, score: int) -> tuple[str, str | None]:
    """The team's rule: students are never a fit; a referral or a score of 60+ is
    accepted; the rest have no budget."""
    if title == "Student":
        return "reject", "not_icp_fit"
    if source == "referral" or score >= 60:
        return "accept", None
    return "reject", "no_budget"


def profile(rng: random.Random) -> dict[str, Any]:
    return {"title": rng.choice(TITLES), "source": rng.choice(SOURCES),
            "score": rng.randrange(0, 101), "country": rng.choice(("DE", "FR", "US"))}  # fmt: skip


def history(n: int, seed: int = 1) -> list[Decision]:
    rng = random.Random(seed)
    out = []
    for i in range(n):
        snap = profile(rng)
        outcome, reason = rule(snap["title"], snap["source"], snap["score"])
        out.append(Decision(snap, outcome, reason, T0 + timedelta(hours=i)))
    return out


def test_the_model_finds_the_rule_of_a_synthetic_history() -> None:
    figures = evaluate(history(1200))
    assert figures["split"] == {"method": "stratified", "seed": 14, "test_size": 0.25,
                                "train": 900, "test": 300}  # fmt: skip
    assert figures["accuracy"] >= 0.93 > figures["majority_baseline"]["accuracy"] + 0.2
    assert figures["roc_auc_accept"] >= 0.97
    assert figures["macro_f1"] >= 0.9 and figures["brier_accept"] <= 0.08
    assert set(figures["per_class"]) == {"accept", "reject"}
    assert figures["reason"]["accuracy"] >= 0.9 > figures["reason"]["majority_accuracy"]
    assert figures["warnings"] == []

    model = Suggester.fit(history(1200))
    rng = random.Random(99)
    fresh = [profile(rng) for _ in range(300)]
    X = [as_features(Decision(p, "reject")) for p in fresh]
    proba = model.probabilities(X)
    guessed = [model.classes[i] for i in proba.argmax(axis=1)]
    truth = [rule(p["title"], p["source"], p["score"]) for p in fresh]
    right = sum(g == t[0] for g, t in zip(guessed, truth, strict=True))
    assert right / len(fresh) >= 0.93
    rejected = [(x, t[1]) for x, t in zip(X, truth, strict=True) if t[0] == "reject"]
    reasons = model.reasons([x for x, _ in rejected])
    assert sum(r == t for r, (_, t) in zip(reasons, rejected, strict=True)) / len(rejected) > 0.9


def test_a_feature_written_after_the_decision_is_named_as_a_leak() -> None:
    rng = random.Random(5)
    noisy = []
    for d in history(800):
        # the rep's outcome, 25% flipped; the CRM's stage written from the true outcome
        outcome = d.outcome if rng.random() > 0.25 else ("accept" if d.outcome == "reject"
                                                         else "reject")  # fmt: skip
        stage = "won" if outcome == "accept" else "lost"
        noisy.append(Decision({**d.snapshot, "attributes": {"stage": stage}}, outcome))
    figures = evaluate(noisy)
    assert len(figures["warnings"]) == 1
    assert figures["warnings"][0].startswith("attr:stage alone predicts 100%")
    clean = evaluate([Decision({k: v for k, v in d.snapshot.items() if k != "attributes"},
                               d.outcome) for d in noisy])  # fmt: skip
    assert clean["warnings"] == []


def test_a_partial_leak_that_removes_most_errors_is_named_too() -> None:
    rng = random.Random(8)
    decisions = []
    for i in range(1000):
        outcome = "accept" if i % 2 else "reject"
        right = rng.random() < 0.85  # the CRM's stage agrees with the outcome 85% of the time
        stage = ("won" if outcome == "accept" else "lost") if right else rng.choice(("won", "lost"))
        decisions.append(Decision({"country": rng.choice(("DE", "FR")),
                                   "attributes": {"stage": stage}}, outcome))  # fmt: skip
    (warning,) = evaluate(decisions)["warnings"]
    assert warning.startswith("attr:stage alone predicts 9") and "(leakage)" in warning


def test_fewer_than_200_decisions_are_refused() -> None:
    with pytest.raises(TooFew, match="199 decision"):
        evaluate(history(199))
    assert evaluate(history(200))["decisions"] == 200


def test_one_outcome_only_still_answers() -> None:
    only = [Decision(d.snapshot, "reject", "no_budget") for d in history(240)]
    figures = evaluate(only)
    assert figures["accuracy"] == 1.0 and figures["roc_auc_accept"] is None


# -- through the server: decisions pushed by a rep, `triage server suggest ...` --------


def _decide_by_rule(b: Backend, n: int) -> None:
    rng = random.Random(3)
    rows = []
    for i in range(n):
        p = profile(rng)
        rows.append(lead_row(i, title=p["title"], source=p["source"], score=p["score"],
                             country=p["country"]))  # fmt: skip
    b.upsert_leads(rows)
    ann = str(uuid.uuid4())
    mutations = []
    for i, row in enumerate(rows):
        outcome, reason = rule(row["title"], row["source"], row["score"])
        mutations.append({"seq": i + 1, "lead_id": b.lead(row["external_id"])["id"],
                          "type": "decide", "outcome": outcome, "reason": reason,
                          "at": "2026-11-22T10:00:00Z"})  # fmt: skip
    results = push_as(b, "ann@example.com", ann, mutations)
    assert {r["status"] for r in results} == {"applied"}


def test_train_and_evaluate_on_the_servers_own_decisions(db_url: str) -> None:
    b = Backend.open(db_url)
    try:
        b.add_user("ann@example.com", None, "rep")
        _decide_by_rule(b, 199)
        few = run_cli("server", "suggest", "train", "--db", db_url, check=False)
        assert few.returncode == 1
        assert "199 decision(s) with their features; training needs at least 200" in few.stderr
        with b.db.read() as s:
            assert s.execute(select(func.count()).select_from(SuggestModel)).scalar_one() == 0
        b.upsert_leads([lead_row(5000 + i, title="Student") for i in range(150)])
        push_as(b, "ann@example.com", str(uuid.uuid4()), [
            {"seq": i + 1, "lead_id": b.lead(f"ext-{5000 + i}")["id"], "type": "decide",
             "outcome": "reject", "reason": "not_icp_fit", "at": "2026-11-22T10:00:00Z"}
            for i in range(150)
        ])  # fmt: skip

        done = run_cli("server", "suggest", "train", "--db", db_url, check=True)
        trained = json.loads(done.stdout)
        assert trained["decisions"] == 349 and trained["model"] == 1
        assert trained["reasons"]["not_icp_fit"] >= 150 and "no_budget" in trained["reasons"]
        row, model = train.load(b.db)
        assert row.decisions == 349
        X = [as_features(Decision({"title": "Student", "source": "referral", "score": 90},
                                  "accept")),
             as_features(Decision({"title": "CFO", "source": "referral", "score": 90},
                                  "accept"))]  # fmt: skip
        guessed = [model.classes[i] for i in model.probabilities(X).argmax(axis=1)]
        assert guessed == ["reject", "accept"]
        assert model.reasons(X[:1]) == ["not_icp_fit"]

        with b.db.bookkeeping() as s:  # a model pickled by another scikit-learn: not loaded
            s.execute(update(SuggestModel).values(library="scikit-learn 0.0"))
        with pytest.raises(train.NoModel, match="made by scikit-learn 0.0"):
            train.load(b.db)

        ran = run_cli("server", "suggest", "evaluate", "--db", db_url, check=True)
        figures = json.loads(ran.stdout)
        assert figures["source"] == "database" and figures["decisions"] == 349
        assert figures["split"]["test"] == 88 and figures["split"]["method"] == "stratified"
        assert figures["accuracy"] > figures["majority_baseline"]["accuracy"]
        for key in ("roc_auc_accept", "macro_f1", "brier_accept", "per_class", "warnings"):
            assert key in figures
    finally:
        b.close()


def _write_file(path: Path, decisions: list[Decision], extra: list[list[str]] = ()) -> None:
    header = ["Record ID", "Job Title", "Original Source", "Lead Score", "Plan", "Lead Status",
              "Disqualification Reason", "Decided"]  # fmt: skip
    with path.open("w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(header)
        for i, d in enumerate(decisions):
            s = d.snapshot
            status = "Sales Qualified" if d.outcome == "accept" else "Unqualified"
            reason = {"not_icp_fit": "Not a fit", "no_budget": "No money"}.get(d.reason or "", "")
            w.writerow([str(1000 + i), s["title"], s["source"], str(s["score"]),
                        "Select" if i % 2 else "pro", status, reason,
                        (d.at or T0).strftime("%m/%d/%Y")])  # fmt: skip
        w.writerows(extra)


def test_evaluate_a_crms_file_through_its_map(tmp_path: Path) -> None:
    (tmp_path / "crm.map.toml").write_text(MAP)
    _write_file(tmp_path / "past.csv", history(600))
    ran = run_cli("server", "suggest", "evaluate", "--csv", str(tmp_path / "past.csv"),
                  "--map", str(tmp_path / "crm.map.toml"), check=True)  # fmt: skip
    figures = json.loads(ran.stdout)
    assert figures["decisions"] == 600 and figures["warnings"] == []
    assert figures["split"]["method"] == "time-ordered" and figures["split"]["test"] == 150
    assert figures["accuracy"] >= 0.9 and figures["reason"]["rejections"] > 0
    assert not (tmp_path / "server.db").exists()

    from triage.server.maps import load_map
    from triage.server.suggest.history import read_history

    found = read_history(tmp_path / "past.csv", load_map(str(tmp_path / "crm.map.toml")))
    first = found.decisions[0]
    assert found.dated and first.at == T0 and len(found.decisions) == 600
    score = history(600)[0].snapshot["score"]  # "Lead Score" is no field of the map: kept
    assert first.snapshot["attributes"] == {"lead_score": score, "plan": "pro"}
    assert "plan" not in found.decisions[1].snapshot["attributes"]  # "Select": empty
    reasons = {d.reason for d in found.decisions}
    assert reasons == {None, "not_icp_fit", "No money"}  # [reasons] read back; else the text
    for d in found.decisions[:50]:  # the outcome, reason and date columns are no features
        text = json.dumps(as_features(d)).lower()
        assert "qualified" not in text and "not a fit" not in text and "decided" not in text


def test_a_bad_file_or_map_is_refused_with_a_clear_message(tmp_path: Path) -> None:
    (tmp_path / "crm.map.toml").write_text(MAP)
    good = history(300)
    _write_file(tmp_path / "bad.csv", good, extra=[
        ["9001", "CFO", "webinar", "50", "pro", "Maybe", "", "01/02/2026"],
        ["9002", "CFO", "webinar", "50", "pro", "Unqualified", "", "yesterday"],
    ])  # fmt: skip
    ran = run_cli("server", "suggest", "evaluate", "--csv", str(tmp_path / "bad.csv"),
                  "--map", str(tmp_path / "crm.map.toml"), check=False)  # fmt: skip
    assert ran.returncode == 1 and ran.stdout == ""
    assert "2 bad row(s); nothing evaluated" in ran.stderr
    assert "line 302: outcome 'Maybe' is none of the map's values" in ran.stderr
    assert "line 303: date 'yesterday' is not a date" in ran.stderr

    _write_file(tmp_path / "few.csv", good[:150])
    ran = run_cli("server", "suggest", "evaluate", "--csv", str(tmp_path / "few.csv"),
                  "--map", str(tmp_path / "crm.map.toml"), check=False)  # fmt: skip
    assert ran.returncode == 1 and "150 decision(s)" in ran.stderr and ran.stdout == ""

    (tmp_path / "nohistory.toml").write_text(MAP.split("[history]")[0])
    for argv, says in (
        (["--csv", str(tmp_path / "few.csv")], "--csv needs --map"),
        (["--csv", str(tmp_path / "few.csv"), "--map", str(tmp_path / "nohistory.toml")],
         "has no [history] section"),
        (["--csv", str(tmp_path / "few.csv"), "--map", "hubspot"], "has no [history] section"),
        (["--csv", str(tmp_path / "few.csv"), "--map", str(tmp_path / "none.toml")],
         "no such map file"),
    ):  # fmt: skip
        ran = run_cli("server", "suggest", "evaluate", *argv, check=False)
        assert ran.returncode == 2 and says in ran.stderr, (argv, ran.stderr)
