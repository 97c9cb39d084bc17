"""Marketing's actions from the workspace and the API: import a file (dry run, then for
real), check and apply a policy file (every problem beside its line), and assign by
filter (a rep's open leads to another rep; a campaign's unassigned leads round-robin).

The same rules as the `triage server` commands: an import is all or nothing and names
every bad row by line (triage.server.importer, Backend.upsert_leads); a policy is
validated by triage.domain; an assignment moves a lead as Backend.assign does.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import func, select

from triage import domain
from triage.server import models
from triage.server.db import SeqAllocator, utcnow
from triage.server.importer import ImportFileError, read_bytes
from triage.server.maps import NATIVE, ImportMap
from triage.server.service import Backend, ImportOptions, RowProblems, ServiceError
from triage.server.suggest import scoring

MAX_BULK_ASSIGN = 100_000

# ---------------------------------------------------------------- import


@dataclass
class ImportResult:
    dry_run: bool
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    rows: int = 0
    problems: list[tuple[str, list[str]]] = field(default_factory=list)
    error: str | None = None  # the file as a whole could not be read
    skipped: int = 0
    linked: int = 0
    recycled: int = 0
    notes: list[tuple[str, str]] = field(default_factory=list)  # (row, what happened to it)

    @property
    def ok(self) -> bool:
        return not self.problems and self.error is None

    def to_dict(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "dry_run": self.dry_run,
            "rows": self.rows,
            "created": self.created,
            "updated": self.updated,
            "unchanged": self.unchanged,
            "error": self.error,
            "problems": [{"row": label, "problems": p} for label, p in self.problems],
            "skipped": self.skipped,
            "linked": self.linked,
            "recycled": self.recycled,
            "notes": [{"row": label, "note": n} for label, n in self.notes],
        }


def _line(label: str) -> int:
    try:
        return int(label.split()[-1])
    except ValueError:
        return 0


def import_file(
    backend: Backend,
    name: str,
    data: bytes,
    *,
    dry_run: bool,
    import_map: ImportMap = NATIVE,
    encoding: str | None = None,
    options: ImportOptions = ImportOptions(),
) -> ImportResult:
    """Check (dry run) or import an uploaded CSV or JSON Lines file, all or nothing; a CRM
    export through `import_map` (triage.server.maps)."""
    result = ImportResult(dry_run)
    try:
        found = read_bytes(name, data, import_map=import_map, encoding=encoding)
        result.rows = found.count
        done = backend.import_leads(
            found.rows, found.labels, known_problems=found.problems, options=options,
            skipped=found.skipped, updates_only=found.updates_only, dry_run=dry_run,
        )  # fmt: skip
    except ImportFileError as exc:
        result.error = str(exc)
        return result
    except RowProblems as exc:
        result.problems = sorted(exc.problems, key=lambda p: _line(p[0]))
        return result
    except ServiceError as exc:
        result.error = exc.detail
        return result
    result.created, result.updated, result.unchanged = done.created, done.updated, done.unchanged
    result.skipped, result.linked = len(done.skipped), len(done.linked)
    result.recycled, result.notes = len(done.recycled), done.notes()
    return result


# ---------------------------------------------------------------- policy


@dataclass
class PolicyCheck:
    policy: domain.Policy | None
    errors: list[tuple[int | None, str]]  # (line, problem); None: the file as a whole


_TOML_AT = re.compile(r"\(at line (\d+), column (\d+)\)")
_ITEM = re.compile(r"^(bant|reject_reasons|nurture_reasons) #(\d+)")
_REPEATED = re.compile(r"^(bant|reject_reasons|nurture_reasons): (?:key|code) repeated: (.+)$")
_UNKNOWN_KEY = re.compile(r"^unknown key '([^']+)'")
_KEY_VALUE = re.compile(r"^\s*key\s*=\s*[\"']?([0-9A-Za-z])[\"']?\s*(?:#.*)?$")
_KEY_TWICE = re.compile(r"^(reject_reasons|nurture_reasons): key '(.)' is given to more than one")


def _table_lines(text: str, name: str) -> list[int]:
    pattern = re.compile(r"^\s*\[\[\s*" + re.escape(name) + r"\s*\]\]")
    return [n for n, line in enumerate(text.splitlines(), 1) if pattern.match(line)]


def _key_line(text: str, key: str, after: int = 0, before: int | None = None) -> int | None:
    pattern = re.compile(r"^\s*" + re.escape(key) + r"\s*=")
    for n, line in enumerate(text.splitlines(), 1):
        if n > after and (before is None or n < before) and pattern.match(line):
            return n
    return None


def locate(text: str, error: str) -> int | None:
    """The line of a policy file that a problem of domain's policy check is about."""
    m = _TOML_AT.search(error)
    if m:
        return int(m.group(1))
    tables = sorted(
        n
        for name in ("bant", "reject_reasons", "nurture_reasons")
        for n in _table_lines(text, name)
    )
    top_end = tables[0] if tables else None
    m = _ITEM.match(error)
    if m:
        lines = _table_lines(text, m.group(1))
        i = int(m.group(2)) - 1
        if 0 <= i < len(lines):
            start = lines[i]
            later = [n for n in tables if n > start]
            end = later[0] if later else None
            for key in ("code", "key", "bant", "note_required", "label"):
                if f" {key} " in error or f"{key} must" in error or f"{key}(s)" in error:
                    found = _key_line(text, key, start, end)
                    if found:
                        return found
            return start
        return None
    m = _REPEATED.match(error)
    if m:
        lines = _table_lines(text, m.group(1))
        dupe = m.group(2).split(",")[0].strip()
        field = "key" if m.group(1) == "bant" else "code"
        hits = [
            n
            for n, line in enumerate(text.splitlines(), 1)
            if re.match(r"^\s*" + field + r"\s*=\s*[\"']" + re.escape(dupe) + r"[\"']", line)
            and any(n > t for t in lines)
        ]
        return hits[1] if len(hits) > 1 else (hits[0] if hits else None)
    m = _UNKNOWN_KEY.match(error)
    if m:
        return _key_line(text, m.group(1), 0, top_end)
    m = _KEY_TWICE.match(error)
    if m:
        return _second_key_line(text, m.group(1), m.group(2), tables)
    for key in ("sla_hours", "timezone"):
        if error.startswith(key) or error.startswith(f"{key} "):
            return _key_line(text, key, 0, top_end)
    for name in ("bant", "reject_reasons", "nurture_reasons"):
        if error.startswith(name):
            lines = _table_lines(text, name)
            return lines[0] if lines else _key_line(text, name)
    return None


def _second_key_line(text: str, name: str, key: str, tables: list[int]) -> int | None:
    """The line of the second reason of list `name` given the picker key `key`."""
    hits = []
    for start in _table_lines(text, name):
        later = [n for n in tables if n > start]
        line = _key_line(text, "key", start, later[0] if later else None)
        if line is not None:
            value = _KEY_VALUE.match(text.splitlines()[line - 1])
            if value and value.group(1).lower() == key:
                hits.append(line)
    return hits[1] if len(hits) > 1 else (_table_lines(text, name) or [None])[0]


def check_policy(text: str) -> PolicyCheck:
    """A policy file checked: the policy, or every problem with the line it is about."""
    try:
        return PolicyCheck(domain.load_policy_toml(text, where="policy file"), [])
    except domain.PolicyError as exc:
        errors = [(locate(text, e), e) for e in exc.errors]
        errors.sort(key=lambda x: (x[0] is None, x[0] or 0))
        return PolicyCheck(None, errors)


def apply_policy(backend: Backend, text: str, *, dry_run: bool) -> dict[str, Any]:
    """Check a policy file and, unless `dry_run` or it has problems, make it the policy."""
    from triage.server.reports import policy_changes

    checked = check_policy(text)
    current = backend.policy()
    out: dict[str, Any] = {
        "ok": checked.policy is not None,
        "dry_run": dry_run,
        "errors": [{"line": line, "problem": p} for line, p in checked.errors],
        "current_version": current.version,
    }
    if checked.policy is None:
        return out
    body = checked.policy.to_dict()
    same = {**body, "version": current.version} == current.to_dict()
    out["changes"] = [] if same else policy_changes(current.to_dict(), body)
    out["changed"] = not same
    if not dry_run:
        saved = backend.set_policy(checked.policy)
        out["version"] = saved.version
    return out


# ---------------------------------------------------------------- assign by filter


@dataclass
class AssignPlan:
    mode: str
    leads: list[str]  # lead ids, in the order they are dealt
    reps: list[str]  # emails of the reps that receive them, dealt in turn

    def counts(self) -> dict[str, int]:
        out = {r: 0 for r in self.reps}
        for i in range(len(self.leads)):
            out[self.reps[i % len(self.reps)]] += 1
        return out

    def to_dict(self) -> dict[str, Any]:
        return {"mode": self.mode, "count": len(self.leads), "by_rep": self.counts()}


def assign_choices(backend: Backend) -> dict[str, Any]:
    """What the assign form offers: the reps with their open leads, and the campaigns
    with unassigned open leads."""
    with backend.db.read() as s:
        reps = [u for u in backend.users() if u.role == domain.Role.REP]
        open_by = dict(
            s.execute(
                select(models.Lead.owner_id, func.count())
                .where(models.Lead.status == "open")
                .group_by(models.Lead.owner_id)
            ).all()
        )
        camps = s.execute(
            select(models.Lead.campaign, func.count())
            .where(models.Lead.status == "open", models.Lead.owner_id.is_(None))
            .group_by(models.Lead.campaign)
            .order_by(models.Lead.campaign)
        ).all()
    return {
        "reps": [
            {"email": u.email, "name": u.name, "active": u.active, "open": open_by.get(u.id, 0)}
            for u in reps
        ],  # fmt: skip
        "campaigns": [{"campaign": c, "unassigned": n} for c, n in camps],
    }


def _rep(s: Any, email: str | None, *, active: bool = True) -> models.User:
    email = (email or "").strip().lower()
    user = None
    if email and domain.storable_text(email):
        user = s.execute(select(models.User).where(models.User.email == email)).scalar_one_or_none()
    if user is None or user.role != domain.Role.REP:
        raise ServiceError(404, "unknown_rep", f"{domain.quoted(email)} is not a rep")
    if active and not user.active:
        raise ServiceError(409, "inactive_rep", f"{email} is deactivated; choose another rep")
    return user


def plan_assign(
    backend: Backend,
    mode: str,
    *,
    from_rep: str | None = None,
    to_rep: str | None = None,
    campaign: str | None = None,
    reps: list[str] | None = None,
) -> AssignPlan:
    """Which leads an assignment by filter moves, and to whom (nothing is written):
    - mode "move": every open lead of `from_rep` to `to_rep`;
    - mode "round_robin": the open, unassigned leads of `campaign` ('' for no campaign),
      oldest MQL first, dealt in turn to `reps`."""
    lead = models.Lead
    with backend.db.read() as s:
        if mode == "move":
            source = _rep(s, from_rep, active=False)
            target = _rep(s, to_rep)
            if source.id == target.id:
                raise ServiceError(400, "same_rep", "choose two different reps")
            ids = s.execute(
                select(lead.id)
                .where(lead.owner_id == source.id, lead.status == domain.Status.OPEN.value)
                .order_by(lead.mql_at, lead.id)
                .limit(MAX_BULK_ASSIGN + 1)
            ).scalars().all()  # fmt: skip
            plan = AssignPlan(mode, list(ids), [target.email])
        elif mode == "round_robin":
            chosen = [r for r in (reps or []) if r and r.strip()]
            if not chosen:
                raise ServiceError(400, "no_reps", "choose at least one rep")
            users = [_rep(s, r) for r in dict.fromkeys(x.strip().lower() for x in chosen)]
            if campaign is None:
                raise ServiceError(400, "no_campaign", "choose a campaign")
            cond = lead.campaign.is_(None) if campaign == "" else lead.campaign == campaign
            ids = s.execute(
                select(lead.id)
                .where(cond, lead.owner_id.is_(None), lead.status == domain.Status.OPEN.value)
                .order_by(lead.mql_at, lead.id)
                .limit(MAX_BULK_ASSIGN + 1)
            ).scalars().all()  # fmt: skip
            plan = AssignPlan(mode, list(ids), [u.email for u in users])
        else:
            raise ServiceError(400, "bad_mode", "mode must be move or round_robin")
    if len(plan.leads) > MAX_BULK_ASSIGN:
        raise ServiceError(413, "too_many", f"more than {MAX_BULK_ASSIGN} leads; narrow the filter")
    return plan


def apply_assign(backend: Backend, plan: AssignPlan, *, by: str | None) -> dict[str, Any]:
    """Carry out a plan in one transaction. A lead that changed meanwhile (decided, or
    given to someone else) is left alone and counted as skipped."""
    lead = models.Lead
    now = utcnow()
    moved: dict[str, int] = {r: 0 for r in plan.reps}
    skipped = 0
    with backend.db.write() as s:
        owners = {u.email: u for u in (_rep(s, r) for r in plan.reps)}
        seqs = SeqAllocator(s)
        for start in range(0, len(plan.leads), 500):
            chunk = plan.leads[start : start + 500]
            found = {x.id: x for x in s.execute(select(lead).where(lead.id.in_(chunk))).scalars()}
            given = []
            for i, lead_id in enumerate(chunk, start):
                row = found.get(lead_id)
                email = plan.reps[i % len(plan.reps)]
                owner = owners[email]
                still = row is not None and row.status == domain.Status.OPEN.value
                if still and plan.mode == "round_robin":
                    still = row.owner_id is None
                if not still or row.owner_id == owner.id:
                    skipped += 1
                    continue
                Backend._reassign(s, row, owner, seqs, now)
                row.version += 1
                row.updated_at = now
                moved[email] += 1
                given.append(row)
            scoring.suggest(s, given)  # a chunk's suggestions in one batch
        seqs.close()
    return {"mode": plan.mode, "count": sum(moved.values()), "by_rep": moved,
            "skipped": skipped, "by": by}  # fmt: skip
