"""Background retraining (triage.server.suggest.retrain), on a clock the test moves: never
the first model; again after `after` new decisions or once the model is `every` old with
any new; one instance at a time (a lease in the database that runs out); the settings of
TRIAGE_RETRAIN; the job's thread under the server's lifespan stops with it."""

from __future__ import annotations

import threading
import uuid
from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import func, select

from tests.server import test_suggest_features
from tests.server.test_suggest_model import history
from tests.support.backend import push_as
from tests.support.factories import lead_row
from triage.server.models_suggest import SuggestModel
from triage.server.service import Backend
from triage.server.suggest import store, train
from triage.server.suggest.retrain import Retrainer, RetrainSettings, train_here

backend = test_suggest_features.backend  # the fixture: a database with ann, a rep


class Clock:
    """Real time when made (a model's time is the real one, train's), then moved by hand."""

    def __init__(self) -> None:
        self.now = datetime.now(timezone.utc) + timedelta(minutes=1)

    def __call__(self) -> datetime:
        return self.now


def decide(b: Backend, start: int, n: int) -> None:
    """n new decisions (students rejected) pushed by ann."""
    b.upsert_leads([lead_row(start + i, title="Student", source="content") for i in range(n)])
    muts = [{"seq": i + 1, "lead_id": b.lead(f"ext-{start + i}")["id"], "type": "decide",
             "outcome": "reject", "reason": "not_icp_fit", "at": "2026-11-30T10:00:00Z"}
            for i in range(n)]  # fmt: skip
    assert {r["status"] for r in push_as(b, "ann@example.com", str(uuid.uuid4()), muts)} == {
        "applied"
    }


def models(b: Backend) -> list[int]:
    with b.db.read() as s:
        return list(s.execute(select(SuggestModel.decisions).order_by(SuggestModel.id)).scalars())


def test_never_the_first_model_then_after_n_new_or_a_day(backend: Backend) -> None:
    clock = Clock()
    settings = RetrainSettings(after=30, every=86400)
    job = Retrainer(backend.db, settings, owner="a", clock=clock, trainer=train_here)
    decide(backend, 0, 220)
    assert job.tick() is None and models(backend) == []  # the first model is a team's choice
    with backend.db.read() as s:
        train.train(backend.db, store.decisions(s))
    assert models(backend) == [220]
    decide(backend, 1000, 29)
    assert job.due(clock()) is None and job.tick() is None  # 29 new: not yet
    decide(backend, 2000, 1)
    done = job.tick()
    assert done is not None and done["why"] == "30 new decisions" and models(backend) == [220, 250]
    assert job.tick() is None  # nothing new since
    clock.now += timedelta(hours=25)
    assert job.tick() is None  # a day old, but nothing new: nothing to learn
    decide(backend, 3000, 1)
    clock.now -= timedelta(hours=2)
    assert job.due(clock()) is None  # 1 new, the model 23 h old: not yet
    clock.now += timedelta(hours=2)
    done = job.tick()  # 25 h old
    assert done is not None and "h old, 1 new decisions" in done["why"]
    assert models(backend) == [220, 250, 251]


def test_one_instance_at_a_time(backend: Backend) -> None:
    clock = Clock()
    settings = RetrainSettings(after=1, lease=600)
    a = Retrainer(backend.db, settings, owner="a", clock=clock, trainer=train_here)
    b = Retrainer(backend.db, settings, owner="b", clock=clock, trainer=train_here)
    decide(backend, 0, 210)
    train.train(backend.db, history(100))
    assert a.claim(clock())  # a is retraining (its lease runs 10 minutes)
    assert not b.claim(clock()) and b.tick() is None
    assert models(backend) == [100]
    clock.now += timedelta(minutes=11)  # a died: its lease ran out
    done = b.tick()
    assert done is not None and models(backend) == [100, 210]
    assert a.claim(clock())  # b released it when done
    a.release()
    assert b.claim(clock())


def test_the_settings_of_triage_retrain() -> None:
    assert RetrainSettings.from_env(None) == RetrainSettings()
    assert RetrainSettings().enabled and RetrainSettings().after == 500
    assert RetrainSettings().every == 86400
    assert not RetrainSettings.from_env("off").enabled
    got = RetrainSettings.from_env("after=1000, every=12h, poll=30s")
    assert (got.after, got.every, got.poll) == (1000, 43200, 30)
    with pytest.raises(ValueError, match="TRIAGE_RETRAIN: 'sometimes' is not off, on"):
        RetrainSettings.from_env("sometimes")
    with pytest.raises(ValueError, match="after >= 1"):
        RetrainSettings.from_env("after=0")


def test_the_thread_checks_and_stops(backend: Backend) -> None:
    decide(backend, 0, 205)
    train.train(backend.db, history(100))
    job = Retrainer(backend.db, RetrainSettings(after=1, poll=0.05), owner="t", trainer=train_here)
    stop = threading.Event()
    thread = threading.Thread(target=job.run, args=(stop,))
    thread.start()
    try:
        deadline = datetime.now() + timedelta(seconds=60)
        while models(backend) == [100] and datetime.now() < deadline:
            stop.wait(0.1)
        assert models(backend) == [100, 205]
    finally:
        stop.set()
        thread.join(10)
    assert not thread.is_alive()
    with backend.db.read() as s:
        assert s.execute(select(func.count()).select_from(SuggestModel)).scalar_one() == 2


def test_a_failed_training_process_says_why(backend: Backend) -> None:
    """The child's failure reaches the job (which logs it and tries again at the next check)."""
    from triage.server.db import Database

    gone = Database(backend.db.url)
    gone.url = "sqlite:////nonexistent-dir/x.db"
    with pytest.raises(RuntimeError, match="the training process failed"):
        __import__("triage.server.suggest.retrain", fromlist=["x"]).train_in_child(gone)


@pytest.mark.slow  # two processes
def test_the_server_process_never_imports_scikit_learn(tmp_path) -> None:
    """Retraining under `triage server run` trains in a child: the server's own process
    stays without scikit-learn (and its GIL-holding feature building)."""
    import subprocess
    import sys

    url = f"sqlite:///{tmp_path}/s.db"
    b = Backend.open(url)
    b.add_user("ann@example.com", None, "rep")
    decide(b, 0, 210)
    train.train(b.db, history(100))
    b.close()
    script = (
        "import sys\n"
        "from triage.server.service import Backend\n"
        "from triage.server.suggest.retrain import Retrainer, RetrainSettings\n"
        f"b = Backend.open({url!r})\n"
        "done = Retrainer(b.db, RetrainSettings(after=1), owner='x').tick()\n"
        "print(done['decisions'], 'sklearn' in sys.modules)\n"
    )
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["210", "False"]
