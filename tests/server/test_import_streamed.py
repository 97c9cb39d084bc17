"""A file import read in batches (issue 13): the check pass still sees the whole file
before anything is written, a lead a row leaves unchanged is never loaded as an ORM
object, and the file is parsed once (after a look at its first batch)."""

from __future__ import annotations

import csv
import itertools
from pathlib import Path

import pytest
from sqlalchemy import event, func, select

from tests.support.cli import run_cli
from triage.server import models
from triage.server.importer import ImportStream, open_file
from triage.server.service import Backend, RowProblems

ROWS = 2500  # three batches of 1,000 lines


def _write(path: Path, rows: int, bad_at: int | None = None) -> None:
    with path.open("w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["external_id", "name", "email", "company", "score", "owner"])
        for n in range(rows):
            score = "lots" if n == bad_at else str(n % 101)
            w.writerow([f"s-{n}", f"Person {n}", f"p{n}@s.example", "Acme", score,
                        "ann@example.com"])  # fmt: skip


@pytest.fixture
def backend(db_url: str):
    b = Backend.open(db_url)
    b.add_user("ann@example.com", None, "rep")
    yield b
    b.close()


def _count(backend: Backend) -> int:
    with backend.db.read() as s:
        return s.execute(select(func.count()).select_from(models.Lead)).scalar_one()


def test_a_bad_row_in_the_last_batch_imports_nothing_from_the_first(
    backend: Backend, tmp_path: Path
) -> None:
    path = tmp_path / "leads.csv"
    _write(path, ROWS, bad_at=ROWS - 3)
    found = open_file(path)
    with pytest.raises(RowProblems) as exc:
        backend.import_batches(found.batches(), updates_only=found.updates_only)
    [(label, problems)] = exc.value.problems
    assert label == f"line {ROWS - 3 + 2}" and "score must be a whole number" in problems[0]
    assert _count(backend) == 0


def test_an_external_id_repeated_in_another_batch_is_a_bad_row(
    backend: Backend, tmp_path: Path
) -> None:
    path = tmp_path / "leads.csv"
    _write(path, ROWS)
    with path.open("a", newline="") as f:
        csv.writer(f).writerow(["s-5", "Again", "again@s.example", "", "", ""])
    found = open_file(path)
    with pytest.raises(RowProblems) as exc:
        backend.import_batches(found.batches())
    assert exc.value.problems == [(f"line {ROWS + 2}", ["external_id 's-5' repeats line 7"])]
    assert _count(backend) == 0


def test_the_file_is_read_once_in_batches_and_unchanged_leads_stay_plain_rows(
    backend: Backend, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "leads.csv"
    _write(path, ROWS)
    done = backend.import_batches(open_file(path).batches())
    assert (done.created, done.updated, done.unchanged) == (ROWS, 0, 0)

    passes, sizes = [], []
    batches = ImportStream.batches

    def counted(self: ImportStream):
        passes.append(1)
        for part in batches(self):
            sizes.append(len(part.rows))
            yield part

    monkeypatch.setattr(ImportStream, "batches", counted)
    loaded: list[str] = []

    def on_load(lead: models.Lead, _ctx: object) -> None:
        loaded.append(lead.external_id)

    event.listen(models.Lead, "load", on_load)
    try:
        again = backend.import_batches(open_file(path).batches())
    finally:
        event.remove(models.Lead, "load", on_load)
    assert (again.created, again.updated, again.unchanged) == (0, 0, ROWS)
    assert loaded == []  # compared as plain rows: no ORM object made for an unchanged lead
    # one look at the first batch when the file is opened (has it a row?), then one pass
    assert len(passes) == 2 and max(sizes) <= 1000 and sum(sizes) == ROWS + sizes[0]

    # a changed row still goes through the ORM (and is the only one loaded)
    text = path.read_text().replace("Person 7,", "Person Seven,")
    path.write_text(text)
    third = backend.import_batches(open_file(path).batches())
    assert (third.updated, third.unchanged) == (1, ROWS - 1)
    assert backend.lead("s-7")["name"] == "Person Seven"


def test_a_dry_run_counts_a_duplicate_email_made_in_an_earlier_batch(
    backend: Backend, tmp_path: Path
) -> None:
    path = tmp_path / "leads.csv"
    _write(path, ROWS)
    with path.open("a", newline="") as f:  # the email of line 2's new lead, 2,500 lines on
        csv.writer(f).writerow(["s-new", "Twin", "P0@s.example", "", "", ""])
    found = open_file(path)
    dry = backend.import_batches(found.batches(), dry_run=True)
    assert dry.created == ROWS + 1 and [lb for lb, _ in dry.linked] == [f"line {ROWS + 2}"]
    assert _count(backend) == 0
    real = backend.import_batches(open_file(path).batches())
    assert real.counts() == dry.counts()


@pytest.mark.parametrize(
    ("body", "said"),
    [
        (b"external_id,name,email\n,,\n\n", "no rows to import"),
        (  # far enough in that the header's read does not decode it
            b"external_id,name,email\n"
            + b"".join(b"x-%d,Ann,a%d@x.example\n" % (n, n) for n in range(2000))
            + b"x-y,B\xff,b@x.example\n",
            "line 2002: not UTF-8 text (byte 0xff)",
        ),
    ],
    ids=["no-rows", "bad-byte"],
)
def test_an_unreadable_file_is_refused_before_a_database_is_made(
    tmp_path: Path, body: bytes, said: str
) -> None:
    path = tmp_path / "leads.csv"
    path.write_bytes(body)
    db = tmp_path / "made" / "server.db"
    db.parent.mkdir(mode=0o700)
    ran = run_cli("server", "import", str(path), "--db", f"sqlite:///{db}", home=tmp_path,
                  check=False)  # fmt: skip
    assert ran.returncode == 1 and said in ran.stderr and "nothing was imported" in ran.stderr
    assert not db.exists()


def test_the_leads_an_import_makes_have_ids_that_sort_together(
    backend: Backend, tmp_path: Path
) -> None:
    """New leads' ids are 12 hex digits, a prefix shared by 4,096 of them then a count, so
    a chunk's leads go into one place of each index ending in the id (not a thousand)."""
    path = tmp_path / "leads.csv"
    _write(path, ROWS)
    backend.import_batches(open_file(path).batches())
    with backend.db.read() as s:
        ids = s.execute(select(models.Lead.id).order_by(models.Lead.seq)).scalars().all()
    assert len(set(ids)) == ROWS and all(len(i) == 12 and int(i, 16) >= 0 for i in ids)
    assert len({i[:9] for i in ids}) <= 2  # 2,500 ids: one prefix, or two at a rollover
    # made in order, sorted in order (but for the one rollover)
    assert sum(1 for a, b in itertools.pairwise(ids) if a > b) <= 1
