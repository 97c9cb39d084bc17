"""Timings of the TUI against their targets (a benchmark, not a test).

    python bench/tui.py [--quick]

What each figure is, exactly:

* start to first paint (10k / 100k leads): wall time from just before spawning
  `python -c "<open the store, run the app>"` in a real pseudo-terminal (120x40, the
  real Linux driver) to the moment the queue screen has painted its first frame (the
  queue posts `QueueScreen.FirstPaint` after its first refresh; the child runs the app
  subclassed with a handler of that message, which writes a timestamp and exits).
  Includes interpreter start, imports, opening the store, counting the queue and
  fetching its first page. The pty output is checked for a lead's name. Median of 5.
* key to committed decision: in process (`App.run_test`, 120x40, 10k leads). The
  reason picker is open; the time runs from just before `pilot.press("1")` to the
  return of `Store.decide` (the commit). Median of 50. The "r" that opens the picker
  is reported beside it (key to the picker's first frame), no target.
* bulk reject of 10,000 marked leads (100k store): from the digit key to the
  queue redrawn (commit, undo journal, recount, first page, status bar): the frame
  after the table's `LeadTable.Changed` that follows the decision. Median of 3.
* filter keystroke over 100k leads: from the key press in the filter box to the
  table's refreshed frame (Input.Changed -> parse -> count -> page -> `LeadTable.Changed`
  -> paint). Median over the keystrokes of a few queries.

The in-process figures watch the app's messages (`App.run_test(message_hook=...)`); the
app has no hook of its own for the benchmark.
* memory: peak RSS (VmHWM) of a separate process that opened the 100k queue under
  `run_test`, jumped to the end, marked all and filtered.
"""

from __future__ import annotations

import asyncio
import fcntl
import json
import os
import pty
import select
import statistics
import struct
import subprocess
import sys
import tempfile
import termios
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from _util import baseline, report  # noqa: E402

from tests.support.factories import FIRST, NOW, make_leads  # noqa: E402
from triage import domain  # noqa: E402
from triage.store import Store  # noqa: E402


def build_store(path: Path, n: int) -> None:
    store = Store.open(path)
    store.set_me("ann@example.com", "Ann Rep", "rep")
    store.save_policy(domain.DEFAULT_POLICY)
    for start in range(0, n, 5000):
        store.apply_pull(make_leads(start, min(n, start + 5000), NOW), [], cursor=start + 5000)
    store.close()


# ---------------------------------------------------------------- start-up (real pty)

CHILD = """
import json, sys, time
from pathlib import Path
from textual import on
import triage.app
from triage.app import TriageApp
from triage.config import load_settings, paths_from_env
from triage.screens.queue import QueueScreen
from triage.store import Store
from triage.widgets.lead_table import LeadTable

class FirstPaint(TriageApp):
    CSS_PATH = str(Path(triage.app.__file__).with_name(TriageApp.CSS_PATH))

    @on(QueueScreen.FirstPaint)
    def _painted(self) -> None:
        rows = self.screen.query_one(LeadTable).stats.rows
        Path(sys.argv[1]).write_text(json.dumps({"time": time.time(), "rows": rows}))
        self.exit()

paths = paths_from_env()
store = Store.open(paths.db_file)
FirstPaint(store=store, settings=load_settings(paths), db_path=paths.db_file).run()
"""


def first_paint(home: Path, marker: Path) -> tuple[float, int, bytes]:
    marker.unlink(missing_ok=True)
    env = {**os.environ, "TRIAGE_HOME": str(home),
           "TERM": "xterm-256color", "COLUMNS": "120", "LINES": "40"}  # fmt: skip
    env.pop("TRIAGE_SERVER_URL", None)
    env.pop("TRIAGE_TOKEN", None)
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 40, 120, 0, 0))
    t0 = time.time()
    proc = subprocess.Popen(
        [sys.executable, "-c", CHILD, str(marker)], stdin=slave, stdout=slave, stderr=slave, env=env,
        cwd=ROOT, start_new_session=True,
    )  # fmt: skip
    os.close(slave)
    output = bytearray()
    while True:
        ready, _, _ = select.select([master], [], [], 0.05)
        if ready:
            try:
                chunk = os.read(master, 65536)
            except OSError:
                chunk = b""
            if not chunk and proc.poll() is not None:
                break
            output += chunk
        elif proc.poll() is not None:
            break
        if len(output) > 50_000_000 or time.time() - t0 > 60:
            proc.kill()
            raise RuntimeError("the app did not exit after its first paint")
    proc.wait()
    os.close(master)
    painted = json.loads(marker.read_text())
    return painted["time"] - t0, painted["rows"], bytes(output)


# ---------------------------------------------------------------- in process


def each(kind: type, callback):
    """A message hook that calls `callback(message)` once for each message of `kind` (the
    hook sees a message at every hop as it bubbles up)."""
    seen: list = []

    def hook(message) -> None:
        if isinstance(message, kind) and not any(m is message for m in seen):
            seen.append(message)
            callback(message)

    return hook


def app_for(db: Path):
    from triage.app import make_app
    from triage.config import Settings

    store = Store.open(db)
    app = make_app(store=store, settings=Settings(), db_path=db, clock=lambda: NOW, sync=False)
    return store, app


async def key_to_decision(db: Path, runs: int) -> tuple[list[float], list[float]]:
    """(key '1' in the open picker to Store.decide returned, key 'r' to the picker painted)."""
    from triage.screens.reason import ReasonPicker

    store, app = app_for(db)
    committed: list[float] = []
    shown: list[float] = []
    decide = store.decide

    def timed_decide(*a, **kw):
        result = decide(*a, **kw)
        committed.append(time.perf_counter())
        return result

    resume = ReasonPicker.__dict__.get("on_screen_resume")  # the picker resets in prepare()

    def timed_resume(self):
        if resume is not None:
            resume(self)
        self.call_after_refresh(lambda: shown.append(time.perf_counter()))

    store.decide = timed_decide  # type: ignore[method-assign]
    ReasonPicker.on_screen_resume = timed_resume  # type: ignore[method-assign]
    decisions, pickers = [], []
    try:
        async with app.run_test(size=(120, 40)) as pilot:
            await pilot.pause()
            for _ in range(runs):
                before = len(shown)
                t = time.perf_counter()
                await pilot.press("r")
                while len(shown) == before:
                    await asyncio.sleep(0.001)
                pickers.append(shown[-1] - t)
                await pilot.pause()
                before = len(committed)
                t = time.perf_counter()
                await pilot.press("1")
                assert len(committed) == before + 1
                decisions.append(committed[-1] - t)
    finally:
        if resume is None:
            del ReasonPicker.on_screen_resume
        else:
            ReasonPicker.on_screen_resume = resume  # type: ignore[method-assign]
    store.close()
    return decisions, pickers


async def bulk_reject(db: Path, n_marked: int) -> tuple[float, float]:
    """(key to redrawn queue, of which Store.decide itself)."""
    from triage.widgets.lead_table import LeadTable

    store, app = app_for(db)
    done: list[float] = []
    in_store: list[float] = []
    decide = store.decide

    def timed_decide(*a, **kw):
        t = time.perf_counter()
        try:
            return decide(*a, **kw)
        finally:
            in_store.append(time.perf_counter() - t)

    def redrawn(message) -> None:  # the table counted again after the decision
        if in_store and not done:
            app.call_after_refresh(lambda: done.append(time.perf_counter()))

    store.decide = timed_decide  # type: ignore[method-assign]
    async with app.run_test(size=(120, 40), message_hook=each(LeadTable.Changed, redrawn)) as pilot:
        table = app.query_one("#leads", LeadTable)
        ids = store.queue_ids(domain.Filter(), "sla", now=NOW)[:n_marked]
        table.set_marks(set(ids))
        await pilot.press("r")
        await pilot.pause()
        t = time.perf_counter()
        await pilot.press("4")
        while not done:
            await asyncio.sleep(0.001)
        assert table.count == store.queue_count(domain.Filter(), now=NOW)
        elapsed = done[0] - t
        await pilot.press("u")
    store.close()
    return elapsed, in_store[0]


async def filter_keystrokes(db: Path, queries: list[str]) -> list[float]:
    from triage.widgets.lead_table import LeadTable

    store, app = app_for(db)
    times: list[float] = []
    painted: list[float] = []

    def requeried(message) -> None:  # the table counted and paged for the new filter
        app.call_after_refresh(lambda: painted.append(time.perf_counter()))

    async with app.run_test(
        size=(120, 40), message_hook=each(LeadTable.Changed, requeried)
    ) as pilot:
        await pilot.pause()  # the first frame's own Changed is not a keystroke's
        for query in queries:
            await pilot.press("slash")
            for ch in query:
                before = len(painted)
                t = time.perf_counter()
                await pilot.press(ch)
                while len(painted) == before:
                    await asyncio.sleep(0.001)
                times.append(painted[-1] - t)
            app.screen.query_one("#filter").value = ""
            await pilot.press("enter")
    store.close()
    return times


async def jump_to_end(db: Path) -> tuple[float, int]:
    """End key over the whole queue: (key to the last page painted, rows fetched for it)."""
    from triage.widgets.lead_table import LeadTable

    store, app = app_for(db)
    async with app.run_test(size=(120, 40)) as pilot:
        table = app.query_one("#leads", LeadTable)
        await pilot.pause()
        painted: list[float] = []
        table.stats.reset()
        t = time.perf_counter()
        await pilot.press("end")
        app.call_after_refresh(lambda: painted.append(time.perf_counter()))
        while not painted:
            await asyncio.sleep(0.001)
        assert table.cursor == table.count - 1
        rows = table.stats.rows
    store.close()
    return painted[0] - t, rows


async def preview_steps(db: Path, steps: int = 60, width: int = 160) -> list[float]:
    """The preview pane open (160 columns) over the store: `j` at a person's pace (one key
    every 0.1 s, past the pane's 0.05 s drawing throttle), each timed from the key to the
    frame that shows the new cursor lead in the pane. At 120 columns (no pane) the same
    steps are the baseline: the queue's own cursor step.

    The key is posted to the app as the terminal driver posts it, not with `pilot.press`:
    the pilot then waits for the process to idle, in sleeps of 20 ms until one of them
    saw under 1 ms of CPU, so a step timed through it moved in 20 ms jumps with whether
    its work spilled into the next sleep (a step without the pane timed 64 ms that way).
    Here the wait polls every millisecond for the cursor (and the pane) to have moved,
    then for the screen update after it (`call_after_refresh`)."""
    from textual import events

    from triage.widgets.lead_table import LeadTable
    from triage.widgets.preview import LeadPreview

    store, app = app_for(db)
    times: list[float] = []
    painted: list[float] = []
    async with app.run_test(size=(width, 40)) as pilot:
        table = app.query_one("#leads", LeadTable)
        preview = app.query_one("#preview", LeadPreview) if width >= 140 else None
        await pilot.pause()
        for _ in range(steps):
            await asyncio.sleep(0.1)
            before = table.cursor
            t = time.perf_counter()
            app.post_message(events.Key("j", "j"))
            while table.cursor == before:
                await asyncio.sleep(0.001)
            want = table.row_at(table.cursor).id
            while preview is not None and not (preview.current and preview.lead_id == want):
                await asyncio.sleep(0.001)
            painted.clear()
            app.call_after_refresh(lambda: painted.append(time.perf_counter()))
            while not painted:
                await asyncio.sleep(0.001)
            times.append(painted[0] - t)
    store.close()
    return times


MEMORY_CHILD = """
import asyncio, sys
sys.path.insert(0, {root!r})
from bench.tui import app_for
from pathlib import Path
async def main():
    store, app = app_for(Path({db!r}))
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("end", "asterisk", "slash", *"source:webinar", "enter", "home")
        await pilot.pause()
asyncio.run(main())
for line in open("/proc/self/status"):
    if line.startswith(("VmHWM", "VmRSS")):
        print(line.strip())
"""


def peak_rss_mb(db: Path) -> float:
    out = subprocess.run(
        [sys.executable, "-c", MEMORY_CHILD.format(root=str(ROOT), db=str(db))],
        capture_output=True, text=True, check=True, cwd=ROOT,
    )  # fmt: skip
    fields = dict(line.split(":", 1) for line in out.stdout.strip().splitlines())
    return int(fields["VmHWM"].split()[0]) / 1024


def main() -> None:
    quick = "--quick" in sys.argv
    runs = 3 if quick else 5
    with tempfile.TemporaryDirectory() as tmp:
        homes = {}
        for n in (10_000, 100_000):
            home = Path(tmp) / f"home-{n}"
            home.mkdir()
            t = time.perf_counter()
            build_store(home / "triage.db", n)
            print(f"built a store of {n:,} leads in {time.perf_counter() - t:.1f} s")
            homes[n] = home
        print("\nTUI timings (medians):")
        for n, target in ((10_000, 1.0), (100_000, 1.5)):
            results = [first_paint(homes[n], Path(tmp) / "painted.json") for _ in range(runs)]
            names_seen = all(any(f.encode() in r[2] for f in FIRST) for r in results)
            rows = results[0][1]
            report(f"start to first paint, {n:,} leads", statistics.median(r[0] for r in results),
                   target)  # fmt: skip
            print(f"    ({rows} rows fetched for it; lead names on the pty: {names_seen})")

        decisions, pickers = asyncio.run(key_to_decision(homes[10_000] / "triage.db", 50))
        report("key to committed decision (picker open, '1')", statistics.median(decisions),
               0.020, "ms")  # fmt: skip
        print(f"    ('r' to the reason picker painted: {statistics.median(pickers) * 1000:.0f} ms"
              f" median, first open {pickers[0] * 1000:.0f} ms; no target)")  # fmt: skip

        big = homes[100_000] / "triage.db"
        bulk = [asyncio.run(bulk_reject(big, 10_000)) for _ in range(1 if quick else 3)]
        report("bulk reject of 10,000 marked leads", statistics.median(b[0] for b in bulk), 0.5)
        print(f"    (of which Store.decide, one transaction: "
              f"{statistics.median(b[1] for b in bulk) * 1000:.0f} ms)")  # fmt: skip

        keys = asyncio.run(filter_keystrokes(big, ["source:tradeshow", "acme", "score:<20"]))
        report("filter keystroke over 100,000 leads", statistics.median(keys), 0.150, "ms")
        print(f"    (worst keystroke {max(keys) * 1000:.0f} ms over {len(keys)} keystrokes)")

        n_steps = 30 if quick else 60
        bare = statistics.median(asyncio.run(preview_steps(big, n_steps, 120)))
        steps = asyncio.run(preview_steps(big, n_steps, 160))
        ordered = sorted(steps)
        print("  cursor step (j) with the preview pane, 100,000 leads, key to painted frame:")
        report("  median, less the same step without the pane", statistics.median(steps) - bare,
               0.016, "ms")  # fmt: skip
        report("  p95, less the same", ordered[int(0.95 * (len(ordered) - 1))] - bare, 0.050, "ms")
        baseline("the same step without the pane (120 columns)",
                 bare, statistics.median(steps), "ms")  # fmt: skip

        end, rows = asyncio.run(jump_to_end(big))
        print(f"  {'End key over 100,000 leads (no target)':<46} {end * 1000:9.0f} ms"
              f"   ({rows} rows fetched; the page at offset 99,900 is the store's cost)")  # fmt: skip

        report("peak RSS with 100,000 leads", peak_rss_mb(big), 300, "MB")


if __name__ == "__main__":
    main()
