"""`triage demo`: the whole loop on one machine.

It starts the real server in-process on a free loopback port with its own data
directory, loads about 200 realistic MQLs, signs a demo rep in and opens the
TUI. On exit it says how to read the marketing report of what was decided.
The generator (`demo_rows`) is also what tests and benchmarks load.
"""

from __future__ import annotations

import os
import random
import shutil
import sys
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

FIRST = (
    "Ava Liam Noah Emma Olivia Mateo Sofia Lucas Mia Ethan Amara Kenji Priya Jonas Chloe "
    "Diego Hannah Omar Lena Marco Yuki Fatima Sven Ines Tomás Grace Arjun Nadia Felix Zoe"
).split()
LAST = (
    "Okafor Lindqvist Patel Moreau Schmidt Tanaka Rossi Novak Haddad Fischer Silva Kowalski "
    "Nguyen Brennan Costa Muller Ibrahim Larsen Dubois Sato Quinn Romero Weber Ahmed Walsh"
).split()
COMPANIES = [
    ("Northwind Logistics", "Logistics", "1001-5000", "US"),
    ("Brightpath Health", "Healthcare", "501-1000", "US"),
    ("Kestrel Robotics", "Manufacturing", "201-500", "DE"),
    ("Lumen Retail Group", "Retail", "5001+", "GB"),
    ("Fjord Analytics", "Software", "51-200", "NO"),
    ("Cobalt Insurance", "Financial services", "1001-5000", "US"),
    ("Tidewater Energy", "Energy", "501-1000", "CA"),
    ("Verdant Foods", "Food & beverage", "201-500", "NL"),
    ("Orbit Telecom", "Telecommunications", "5001+", "FR"),
    ("Pinecrest University", "Education", "1001-5000", "US"),
    ("Atlas Freight", "Logistics", "51-200", "MX"),
    ("Harbor Bank", "Financial services", "5001+", "SG"),
    ("Quill & Co", "Professional services", "11-50", "GB"),
    ("Sable Security", "Software", "201-500", "IL"),
    ("Meridian Pharma", "Healthcare", "5001+", "CH"),
    ("Gryphon Games", "Media", "51-200", "SE"),
    ("Redwood Construction", "Construction", "501-1000", "US"),
    ("Nimbus Cloudworks", "Software", "11-50", "IE"),
    ("Sunhollow Farms", "Agriculture", "51-200", "AU"),
    ("Ironclad Manufacturing", "Manufacturing", "1001-5000", "US"),
]
TITLES = [
    ("VP of Operations", "yes"), ("Head of Supply Chain", "yes"), ("CFO", "yes"),
    ("Director of IT", "likely"), ("Operations Manager", "likely"), ("Procurement Lead", "likely"),
    ("Data Analyst", "no"), ("Marketing Intern", "no"), ("Student", "no"),
    ("Chief Operating Officer", "yes"), ("Logistics Coordinator", "no"), ("IT Manager", "likely"),
]  # fmt: skip
CAMPAIGNS = [
    ("webinar", "q4-supply-chain-webinar"),
    ("webinar", "ai-forecasting-live"),
    ("tradeshow", "logimat-2026"),
    ("tradeshow", "saastr-europa"),
    ("content", "state-of-logistics-report"),
    ("content", "roi-calculator"),
    ("paid_search", "brand-search-q4"),
    ("referral", "partner-referrals"),
]
BUDGET = [
    "Form: budget $50k-100k", "Form: budget $100k+", "Form: budget under $10k",
    "Form: no budget yet", "Pricing page visited 4x", "Asked for enterprise quote",
]  # fmt: skip
AUTHORITY = ["Title suggests decision maker", "Influencer; reports to VP", "Individual contributor",
             "Signed up with personal email", "Champion named: their CFO"]  # fmt: skip
NEED = [
    "Downloaded the ROI calculator", "Asked about carrier integrations",
    "Only opened one email", "Uses a competitor today, contract ends in Q2",
    "Chat: 'just researching for a thesis'",
]  # fmt: skip
NEED_BY_SOURCE = {  # evidence that only a lead of that source can have
    "webinar": ["Attended the full webinar and asked 2 questions"],
    "tradeshow": ["Long talk at the booth about their warehouse backlog"],
    "referral": ["The partner says they are replacing their current tool"],
}
TIMING = ["Form: buying this quarter", "Form: 6-12 months", "Form: just researching",
          "Renewal of current tool in March", "No timeline given"]  # fmt: skip
# What a lead did before it became an MQL, by the source that brought it in: the first
# activity is how that source brought it (a webinar registration, a badge scan at the
# booth, ...); the others fit the source too, or any source (a pricing page view). A
# webinar lead never had its badge scanned at a booth.
ACTIVITY_BY_SOURCE: dict[str, tuple[list[tuple[str, str]], list[tuple[str, str]]]] = {
    "webinar": (
        [("form", "Registered for '{c}'")],
        [("email_open", "Opened the '{c}' reminder"), ("webinar", "Attended '{c}' ({m} min)"),
         ("download", "Downloaded the '{c}' slides")],
    ),
    "tradeshow": (
        [("booth_scan", "Badge scanned at the booth ({c})")],
        [("meeting", "Booth demo at {c}"), ("email_open", "Opened the {c} follow-up email")],
    ),
    "content": (
        [("download", "Downloaded the {c} asset")],
        [("email_open", "Opened the '{c}' nurture email"), ("form", "Filled in the '{c}' form")],
    ),
    "paid_search": (
        [("ad_click", "Clicked the '{c}' search ad")],
        [("form", "Asked for a demo on the '{c}' landing page")],
    ),
    "referral": (
        [("referral", "Introduced by a partner ({c})")],
        [("meeting", "Intro call with the referring partner"),
         ("email_open", "Opened the partner's introduction email")],
    ),
}  # fmt: skip
ANY_SOURCE = [
    ("page_view", "Viewed /pricing"), ("page_view", "Viewed /case-studies"),
    ("chat", "Chatted with the website bot"),
]  # fmt: skip


def demo_rows(
    n: int = 200, *, owner: str | None = None, seed: int = 7, now: datetime | None = None,
    sla_hours: float = 24.0, prefix: str = "demo",
) -> list[dict[str, Any]]:  # fmt: skip
    """Realistic import rows: varied campaigns, scores, BANT evidence, activities, ages around the SLA."""
    rng = random.Random(seed)
    now = now or datetime.now(timezone.utc)
    rows = []
    for i in range(n):
        first, last = rng.choice(FIRST), rng.choice(LAST)
        company, industry, size, country = rng.choice(COMPANIES)
        title, authority = rng.choice(TITLES)
        source, campaign = rng.choice(CAMPAIGNS)
        domain_name = company.lower().replace(" & ", "").replace(" ", "") + ".example"
        # Ages spread around the SLA: a third fresh, a third near the deadline, a third overdue.
        age = rng.choice([rng.uniform(0.2, sla_hours * 0.5), rng.uniform(sla_hours * 0.5, sla_hours),
                          rng.uniform(sla_hours, sla_hours * 4)])  # fmt: skip
        mql_at = now - timedelta(hours=age)
        score = max(1, min(100, int(rng.gauss(55 if authority == "yes" else 35, 20))))
        acts = []
        t = mql_at - timedelta(days=rng.randint(3, 40))
        brought_in, later = ACTIVITY_BY_SOURCE[source]
        pool = later + ANY_SOURCE
        count = rng.randint(1, 5)
        steps = [rng.choice(brought_in), *rng.sample(pool, min(count - 1, len(pool)))]
        for kind, detail in steps:  # the first is how the source brought the lead in
            t += timedelta(hours=rng.randint(2, 120))
            acts.append(
                {
                    "at": min(t, mql_at).isoformat(),
                    "kind": kind,
                    "detail": detail.format(c=campaign, m=rng.randint(20, 60)),
                }
            )
        row: dict[str, Any] = {
            "external_id": f"{prefix}-{i:05d}",
            "name": f"{first} {last}",
            "email": f"{first.lower()}.{last.lower()}@{domain_name}".replace("á", "a"),
            "phone": f"+1 555 {rng.randint(100, 999)} {rng.randint(1000, 9999)}",
            "title": title,
            "company": company,
            "industry": industry,
            "company_size": size,
            "country": country,
            "source": source,
            "campaign": campaign,
            "score": score,
            "mql_at": mql_at.isoformat(),
            "evidence_budget": rng.choice(BUDGET),
            "evidence_authority": rng.choice(AUTHORITY),
            "evidence_need": rng.choice(NEED + NEED_BY_SOURCE.get(source, [])),
            "evidence_timing": rng.choice(TIMING),
            "activities": sorted(acts, key=lambda a: a["at"]),
        }
        if rng.random() < 0.25:
            del row[rng.choice(["evidence_budget", "evidence_timing", "evidence_authority"])]
        if owner:
            row["owner"] = owner
        rows.append(row)
    return rows


MARKER = ".triage-demo"
LOCK = ".triage-demo.lock"  # flock'ed by the run that uses the directory, for its life
RUNS = "demo"  # under the user data dir: one directory per run


class DemoDirError(Exception):
    """The demo cannot have that directory; nothing was deleted."""


def _lock(directory: Path) -> int | None:
    """An fd holding an exclusive flock on the directory's lock file (the kernel lets go
    when the process ends, however it ends); None if another process holds it."""
    fd = os.open(directory / LOCK, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        import fcntl
    except ImportError:  # no flock on this platform: nothing to guard with
        return fd
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        os.close(fd)
        return None
    os.ftruncate(fd, 0)
    os.write(fd, f"{os.getpid()}\n".encode())
    return fd


def _holder(directory: Path) -> str:
    try:
        pid = (directory / LOCK).read_text().strip()
    except OSError:
        pid = ""
    return f"pid {pid}" if pid.isdigit() else "another process"


def _empty_out(directory: Path) -> None:
    """Delete a demo directory's contents, all but the lock file (which we hold)."""
    for entry in directory.iterdir():
        if entry.name == LOCK:
            continue
        if entry.is_dir() and not entry.is_symlink():
            shutil.rmtree(entry)
        else:
            entry.unlink()


def _clean_finished_runs(root: Path) -> None:
    """Delete the directories of demo runs that have ended (nobody holds their lock).
    A directory without the marker is left alone: not ours, or a run still starting."""
    for entry in root.iterdir():
        if entry.name.startswith("run-") and (entry / MARKER).exists():
            fd = _lock(entry)
            if fd is None:
                continue  # that demo is still running
            try:
                shutil.rmtree(entry)
            finally:
                os.close(fd)
    # the layout before runs had directories of their own: the data directly in root
    if (root / MARKER).exists():
        for name in ("client", "server.db", "server.db-wal", "server.db-shm", MARKER):
            path = root / name
            if path.is_dir():
                shutil.rmtree(path)
            elif path.exists():
                path.unlink()


def claim_directory(chosen: Path | None = None) -> tuple[Path, int]:
    """The directory this demo run owns, empty, and the fd of the lock held on it.

    Without `chosen`: a new directory of its own under <user data dir>/demo/, after
    deleting those of runs that have ended; two demos at once never share one. With
    `chosen` (--dir): that directory, emptied, if it is empty or a demo directory that no
    running demo holds; otherwise DemoDirError, and nothing is deleted. Both are private
    (0700): leads and notes are for this user's eyes only."""
    from triage.config import ensure_private_dir, paths_from_env

    if chosen is not None:
        base = chosen.expanduser()
        if base.exists() and any(base.iterdir()) and not (base / MARKER).exists():
            raise DemoDirError(
                f"{base} is not empty and is not a demo directory; "
                "choose an empty or new --dir (nothing was deleted)"
            )
        ensure_private_dir(base)  # leads and notes: for this user's eyes only
        lock = _lock(base)
        if lock is None:
            raise DemoDirError(
                f"another triage demo ({_holder(base)}) is using {base}; let it end, or "
                "choose another --dir (nothing was deleted)"
            )
        _empty_out(base)  # a previous demo's data: each run starts fresh
    else:
        root = paths_from_env().data_dir / RUNS
        ensure_private_dir(root)
        _clean_finished_runs(root)
        stamp = time.strftime("%Y%m%d-%H%M%S")
        base = root / f"run-{stamp}-{os.getpid()}"
        base.mkdir(mode=0o700)
        lock = _lock(base)
        assert lock is not None  # a new directory: nobody else knows it yet
    (base / MARKER).write_text(
        "made by `triage demo`; the first run after this one ends deletes it\n"
    )
    return base, lock


DEMO_REP = "dana.rep@demo.example"
DEMO_MARKETING = "mo.marketing@demo.example"


def run(args: Any) -> int:
    """Entry point of `triage demo`."""
    try:
        base, lock = claim_directory(Path(args.dir) if getattr(args, "dir", None) else None)
    except DemoDirError as exc:
        print(f"triage demo: {exc}", file=sys.stderr)
        return 2
    try:
        return _run(args, base)
    finally:
        os.close(lock)  # the next demo may now clean this run's directory up


def _run(args: Any, base: Path) -> int:
    """The demo in `base`: a server with its own database, the rep's session against it,
    then how to read what was decided."""
    from triage.config import Paths

    (base / "client").mkdir(mode=0o700)
    server_db = base / "server.db"
    backend, token = _demo_backend(server_db, args.leads)
    server = start_server(backend)
    workspace = _workspace_notice(backend, server.url)
    try:
        crashed, final = _rep_session(Paths.under(base / "client"), server.url, token, workspace)
    finally:
        server.stop()
        backend.close()
    return _say_how_it_ended(base, server_db, workspace, crashed, final)


def start_server(backend: Any) -> Any:
    """The demo's server on a loopback port: what `triage server run` serves, webhook
    delivery included: a webhook added on the workspace's Webhooks page (or at
    /v1/webhooks) gets the demo rep's decisions as they sync."""
    from triage.server.live import ServerThread

    return ServerThread(backend, deliver=True).start()


def _demo_backend(server_db: Path, leads: int) -> tuple[Any, str]:
    """The demo's server database: a marketing user, a rep with `leads` MQLs assigned;
    returns the backend and the rep's token."""
    from triage.server.service import Backend

    backend = Backend.open(f"sqlite:///{server_db}")
    backend.add_user(DEMO_MARKETING, "Mo (marketing)", "marketing")
    _, token, _ = backend.add_user(DEMO_REP, "Dana (rep)", "rep")
    backend.upsert_leads(demo_rows(leads, owner=DEMO_REP))
    return backend, token


def _workspace_notice(backend: Any, url: str) -> str:
    """Marketing's half: the workspace on the same server, entered with a single-use code
    (never a token; stored hashed; exchanged by POST; valid CODE_MINUTES minutes)."""
    from triage.server.web.sessions import CODE_MINUTES, new_code

    code, _ = new_code(backend, DEMO_MARKETING)
    return (
        f"Marketing's workspace: {url}/web/ · sign-in code {code} "
        f"(once, {CODE_MINUTES} minutes) for {DEMO_MARKETING}"
    )


def _rep_session(paths: Any, url: str, token: str, workspace: str) -> tuple[bool, Any]:
    """The rep's half: signed in to the demo server, the workstation until they quit, then
    a last sync. Returns whether the workstation crashed, and that sync's result."""
    from triage.config import load_settings, save_login
    from triage.store import Store

    save_login(paths, url, token)
    settings = load_settings(paths, environ={})
    settings.sync_interval_seconds = 30
    store = Store.open(paths.db_file)
    try:
        from triage.app import make_app

        app = make_app(store=store, settings=settings, db_path=paths.db_file, notice=workspace)
        app.run()
        crashed = bool(app.return_code)
    finally:
        store.close()
    # Send what the rep decided since the last background sync, so the report has it all.
    from triage.sync.runner import run_once

    return crashed, run_once(paths.db_file, url, token)


def _say_how_it_ended(
    base: Path, server_db: Path, workspace: str, crashed: bool, final: Any
) -> int:
    """What the demo left and how to read marketing's report of it; the exit status."""
    done = final is not None and final.ok and final.pending == 0
    triage = f"{sys.executable} -m triage"  # works whether or not the venv is on PATH
    report = (
        f"  {triage} server report --db {server_db} --by campaign\n"
        f"  {triage} server report --db {server_db} --by source --format csv\n"
        f"While the demo ran: {workspace}. To open the workspace on this data again:\n"
        f"  {triage} server run --db {server_db} --port 0   (then, in another terminal:)\n"
        f"  {triage} server signin-code {DEMO_MARKETING} --db {server_db}\n"
    )
    if crashed:
        # Never "Demo over, what you decided reached the server": it did not end well, and
        # the rep must not take a crash for a finished session.
        if done:
            sent = "A last sync sent the decisions it had saved before the error."
        else:
            sent = _not_sent(final)
        print(
            "The workstation stopped with an error (see above): the demo did not finish.\n"
            f"{sent} What the demo server has:\n{report}"
            f"Data: {base}",
            file=sys.stderr,
        )
        return 1
    sent = "What you decided reached" if done else "Not all of it reached"
    print(
        f"Demo over. {sent} the demo server; marketing's view of it:\n{report}"
        f"Run it again with `triage demo` (each run starts fresh, in a directory of its own). "
        f"Data: {base} (the next run deletes it)",
        file=sys.stderr,
    )
    return 0 if done else 1


def _not_sent(final: Any) -> str:
    if final is None:
        return "Nothing was sent after the error."
    pending = getattr(final, "pending", 0)
    error = getattr(final, "error", None)
    text = f"A last sync could not send everything: {pending} decision(s) still pending"
    return text + (f" ({error})." if error else ".")
