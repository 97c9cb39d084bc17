"""A lead's suggestion on the server: made when the lead is assigned (an import with an
owner, `assign`, a new cycle) by the latest trained model and kept with it; sent in a rep's
pull, lookup and push answers when the policy shows it (on, at or above its threshold);
`triage server suggest rescore` refreshes open leads on purpose, numbering each change.
No model: no suggestion, nothing else changes. SQLite and PostgreSQL."""

from __future__ import annotations

import json
import uuid
from dataclasses import replace
from typing import Any

from alembic import command
from sqlalchemy import select, update

from tests.conftest import Live
from tests.server.test_suggest_model import history
from tests.support.backend import opened, push_as
from tests.support.cli import run_cli
from tests.support.factories import lead_row
from triage import domain, protocol
from triage.server import actions, migrate, models
from triage.server.models_suggest import SuggestModel
from triage.server.service import Backend
from triage.server.services.common import _caller
from triage.server.suggest import scoring, train
from triage.server.suggest.store import Decision

ANN = "ann@example.com"


def _pull(b: Backend, email: str = ANN, cursor: int = 0) -> dict[str, Any]:
    with b.db.read() as s:
        caller = _caller(b._reps_by_email(s, [email])[email])
    return b.pull(caller, cursor, 1000, None)


def _by_ext(page: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {lead["external_id"]: lead for lead in page["leads"]}


def _rows() -> list[dict[str, Any]]:
    """Students (the synthetic team always rejects them: not_icp_fit), referrals (always
    accepted), and leads for no one yet."""
    rows = [lead_row(i, title="Student", source="content", score=10) for i in range(6)]
    rows += [lead_row(10 + i, title="CFO", source="referral", score=80) for i in range(6)]
    rows += [lead_row(20 + i, owner=None, title="Student", source="content") for i in range(3)]
    return rows


def _stored(b: Backend, external_id: str) -> dict[str, Any] | None:
    with b.db.read() as s:
        return s.execute(
            select(models.Lead.suggestion).where(models.Lead.external_id == external_id)
        ).scalar_one()


def test_no_model_no_suggestion_and_nothing_breaks(db_url: str) -> None:
    with opened(db_url) as b:
        b.add_user(ANN, None, "rep")
        assert b.import_leads(_rows()).created == 15
        page = _pull(b)
        assert len(page["leads"]) == 12
        assert all("suggestion" not in lead for lead in page["leads"])
        assert _stored(b, "ext-0") is None
        assert b.assign("ext-20", ANN)["owner"] == ANN
        done = run_cli("server", "suggest", "rescore", "--db", db_url, check=False)
        assert done.returncode == 1 and "no model" in done.stderr


def test_an_assigned_lead_carries_the_models_suggestion_in_the_pull(db_url: str) -> None:
    with opened(db_url) as b:
        b.add_user(ANN, None, "rep")
        trained = train.train(b.db, history(600))
        b.import_leads(_rows())
        leads = _by_ext(_pull(b))
        student = leads["ext-0"]["suggestion"]
        assert student["outcome"] == "reject" and student["reason"] == "not_icp_fit"
        assert 0.6 <= student["confidence"] <= 1
        assert "title Student" in student["factors"] and len(student["factors"]) <= 3
        assert set(student) == {"outcome", "reason", "confidence", "factors"}
        cfo = leads["ext-10"]["suggestion"]
        assert cfo["outcome"] == "accept" and cfo["reason"] is None
        assert "source referral" in cfo["factors"]
        # the wire model reads it, and so does an older client's (it ignores the field)
        wire = protocol.LeadWire.model_validate(leads["ext-0"])
        assert protocol.lead_from_wire(wire).suggestion == domain.Suggestion(
            domain.Outcome.REJECT, "not_icp_fit", student["confidence"],
            tuple(student["factors"]),
        )  # fmt: skip
        # kept with the lead, with the model that made it; none for a lead of no one
        assert _stored(b, "ext-0")["model"] == trained["model"]
        assert _stored(b, "ext-20") is None
        # assigned later: made then, and sent
        cursor = _pull(b)["cursor"]
        b.assign("ext-20", ANN)
        page = _pull(b, cursor=cursor)
        assert [x["external_id"] for x in page["leads"]] == ["ext-20"]
        assert page["leads"][0]["suggestion"]["outcome"] == "reject"
        # the workspace's assign by filter scores its leads too
        plan = actions.AssignPlan("move", [b.lead("ext-21")["id"]], [ANN])
        assert actions.apply_assign(b, plan, by="mo@example.com")["count"] == 1
        assert _stored(b, "ext-21")["outcome"] == "reject"


def test_a_push_answer_and_a_lookup_carry_it_too(db_url: str) -> None:
    with opened(db_url) as b:
        b.add_user(ANN, None, "rep")
        train.train(b.db, history(600))
        b.import_leads(_rows()[:2])
        lead_id = b.lead("ext-0")["id"]
        results = push_as(b, ANN, str(uuid.uuid4()), [
            {"seq": 1, "lead_id": lead_id, "type": "bant", "bant": {"budget": "no"},
             "at": "2026-11-22T10:00:00Z"},
        ])  # fmt: skip
        assert results[0]["status"] == "applied", results
        assert results[0]["lead"]["suggestion"]["outcome"] == "reject"
        with b.db.read() as s:
            caller = _caller(b._reps_by_email(s, [ANN])[ANN])
        found = b.lookup(caller, [lead_id], None)["leads"]
        assert found[0]["suggestion"]["reason"] == "not_icp_fit"


def _policy(b: Backend, **rule: Any) -> domain.Policy:
    return b.set_policy(replace(b.policy(), suggestions=domain.Suggestions(**rule)))


def test_the_threshold_and_the_off_switch(db_url: str) -> None:
    with opened(db_url) as b:
        b.add_user(ANN, None, "rep")
        train.train(b.db, history(600))
        b.import_leads(_rows())
        confident = {k: x["suggestion"]["confidence"] for k, x in _by_ext(_pull(b)).items()}
        cut = sorted(confident.values())[len(confident) // 2]
        # a higher threshold: the leads below it are sent again, without their suggestion
        cursor = _pull(b)["cursor"]
        policy = _policy(b, threshold=cut)
        assert policy.to_dict()["suggestions"] == {"enabled": True, "threshold": cut}
        again = _by_ext(_pull(b, cursor=cursor))
        assert set(again) == {k for k, c in confident.items() if c < cut}
        assert all("suggestion" not in x for x in again.values())
        whole = _by_ext(_pull(b))
        assert {k for k, x in whole.items() if "suggestion" in x} == {
            k for k, c in confident.items() if c >= cut
        }
        # off: none is sent; on again (the default): all of them, and the policy says nothing
        _policy(b, enabled=False)
        assert all("suggestion" not in x for x in _pull(b)["leads"])
        cursor = _pull(b)["cursor"]
        assert "suggestions" not in _policy(b).to_dict()
        assert len(_pull(b, cursor=cursor)["leads"]) == 12


def test_the_policy_file_says_it_and_refuses_nonsense() -> None:
    text = "sla_hours = 24\n[suggestions]\nenabled = false\nthreshold = 0.75\n"
    policy = domain.load_policy_toml(text)
    assert policy.suggestions == domain.Suggestions(False, 0.75)
    assert domain.load_policy_toml(domain.policy_toml(policy)) == policy
    assert domain.DEFAULT_POLICY.suggestions.shows(0.6)
    assert not domain.DEFAULT_POLICY.suggestions.shows(0.59)
    for bad, said in (("threshold = 1.5", "threshold must be a number from 0 to 1"),
                      ("enabled = 1", "enabled must be true or false"),
                      ("on = true", "unknown key 'on'")):  # fmt: skip
        try:
            domain.load_policy_toml(f"[suggestions]\n{bad}\n")
        except domain.PolicyError as exc:
            assert said in str(exc)
        else:
            raise AssertionError(f"{bad} was accepted")


def test_rescore_refreshes_open_leads_after_a_retrain(db_url: str) -> None:
    with opened(db_url) as b:
        b.add_user(ANN, None, "rep")
        train.train(b.db, history(600))
        b.import_leads(_rows())
        cursor = _pull(b)["cursor"]
        # a retrain alone changes nothing a rep holds
        flipped = [Decision(d.snapshot, "accept" if d.outcome == "reject" else "reject",
                            None if d.outcome == "reject" else "no_budget", d.at)
                   for d in history(600)]  # fmt: skip
        second = train.train(b.db, flipped)
        assert _pull(b, cursor=cursor)["leads"] == []
        done = run_cli("server", "suggest", "rescore", "--db", db_url, check=True)
        counts = json.loads(done.stdout)
        assert counts == {"model": second["model"], "leads": 12, "changed": 12, "unchanged": 0}
        page = _by_ext(_pull(b, cursor=cursor))
        assert len(page) == 12  # every one of ann's: each suggestion flipped
        assert page["ext-0"]["suggestion"]["outcome"] == "accept"
        assert page["ext-10"]["suggestion"]["outcome"] == "reject"
        assert _stored(b, "ext-0")["model"] == second["model"]
        # the new model is used for the next assignment (the per-process cache follows it)
        b.import_leads([lead_row(40, title="Student", source="content", score=10)])
        assert _stored(b, "ext-40")["model"] == second["model"]
        # nothing new to say: nothing numbered
        cursor = _pull(b)["cursor"]
        assert scoring.rescore(b.db)["changed"] == 0
        assert _pull(b, cursor=cursor)["leads"] == []


def test_a_model_of_another_scikit_learn_makes_no_suggestion(db_url: str) -> None:
    with opened(db_url) as b:
        b.add_user(ANN, None, "rep")
        train.train(b.db, history(600))
        with b.db.bookkeeping() as s:  # made by another version: not trusted, not used
            s.execute(update(SuggestModel).values(library="scikit-learn 0.0"))
        b.import_leads(_rows())
        assert all("suggestion" not in x for x in _pull(b)["leads"])


def _sent_columns(b: Backend) -> dict[str, tuple[Any, float | None]]:
    lead = models.Lead
    with b.db.read() as s:
        rows = s.execute(select(lead.external_id, lead.suggestion_sent, lead.suggestion_confidence))
        return {ext: (None if sent is None else json.loads(sent), c) for ext, sent, c in rows}


def test_the_migration_fills_the_sent_text_from_the_json_online_and_offline(db_url: str) -> None:
    """Revision 0021: a lead's suggestion as sent and its confidence, columns made from the
    JSON, by Python (migrate) and by the engine (the SQL `migrate --sql` prints): the pull
    is the same as before, and so is the threshold's cut."""
    with opened(db_url) as b:
        b.add_user(ANN, None, "rep")
        train.train(b.db, history(600))
        b.import_leads(_rows())
        with b.db.write() as s:  # one stored without a number for its confidence
            row = s.execute(select(models.Lead).where(models.Lead.external_id == "ext-1"))
            lead = row.scalar_one()
            models.give_suggestion(lead, {**lead.suggestion, "confidence": "high"})
        columns, page = _sent_columns(b), _pull(b)["leads"]
        assert columns["ext-1"][1] is None and columns["ext-0"][1] is not None
        assert columns["ext-20"] == (None, None)
        assert all(sent is None or "model" not in sent for sent, _ in columns.values())
        _policy(b, threshold=0.0)
        assert "suggestion" not in _by_ext(_pull(b))["ext-1"]  # no number: not shown
        for how in ("sql", "python"):
            with b.db.migration_lock() as conn:
                command.downgrade(migrate._config(conn), "0020_lead_attribute")
            if how == "sql":
                shown = run_cli("server", "migrate", "--db", db_url, "--sql", check=True).stdout
                assert "UPDATE lead SET suggestion_sent" in shown
                with b.db.write_engine.begin() as conn:
                    raw = conn.connection.driver_connection
                    if b.db.sqlite_path is not None:
                        raw.executescript(_offline_sql(shown))
                    else:
                        raw.execute(_offline_sql(shown))
            else:
                assert migrate.upgrade(b.db).applied == ("0021_suggestion_sent",)
            assert _sent_columns(b) == columns, how
            _policy(b, threshold=0.0)
            _policy(b, threshold=0.6)
            assert _pull(b)["leads"] == page, how


def _offline_sql(shown: str) -> str:
    """The statements of `migrate --sql`'s output (its comments and notes left out)."""
    return "\n".join(line for line in shown.splitlines() if not line.startswith(("--", "#")))


def test_a_client_that_asks_gets_each_suggestion_as_a_list(live: Live) -> None:
    """("suggestion_list") GET /v1/sync/pull?suggestion=list: the same suggestions, as
    [outcome, reason, confidence, factors]; without it, objects (an older client's)."""
    assert "suggestion_list" in live.anon.get("/v1/health").json()["features"]
    train.train(live.backend.db, history(600))
    live.backend.import_leads(_rows()[:8] + [lead_row(30, owner=live.ann.email)])
    pages = {}
    for form in (None, "list"):
        params = {"cursor": 0, "limit": 100} | ({"suggestion": form} if form else {})
        r = live.ann.get("/v1/sync/pull", params=params)
        assert r.status_code == 200, r.text
        pages[form] = {x["id"]: x for x in r.json()["leads"]}
    assert pages[None].keys() == pages["list"].keys() and len(pages[None]) >= 2
    listed = [x["suggestion"] for x in pages["list"].values() if "suggestion" in x]
    assert len(listed) >= 2 and all(isinstance(x, list) for x in listed)
    for lead_id, lead in pages[None].items():
        as_list = pages["list"][lead_id].pop("suggestion", None)
        sent = lead.pop("suggestion", None)
        assert lead == pages["list"][lead_id]  # nothing else differs
        if sent is None:
            assert as_list is None
        else:
            assert as_list == [sent["outcome"], sent["reason"], sent["confidence"],
                               sent["factors"]]  # fmt: skip
    r = live.ann.get("/v1/sync/pull", params={"cursor": 0, "suggestion": "lists"})
    assert r.status_code == 422  # a form it does not know: refused, not guessed
