"""The workspace's pages (GET renders; POST acts, after its CSRF check). Every figure comes
from triage.server.reports, as the JSON endpoints under /v1/reports/ do."""

from __future__ import annotations

import hmac
import io
import re
import secrets
from collections.abc import Callable, Iterable
from datetime import date, datetime
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, FastAPI, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates

from triage import csvsafe, domain
from triage.server import actions, reports
from triage.server.api.deps import BackendDep, report_reader
from triage.server.service import Backend, ServiceError
from triage.server.web import HERE, charts, importing, sessions

router = APIRouter(prefix="/web", include_in_schema=False)
templates = Jinja2Templates(directory=str(HERE / "templates"))
COOKIE = "triage_session"
SIGNIN_COOKIE = "triage_signin"  # the sign-in form's CSRF secret (before any session)

NAV = [
    ("overview", "/web/", "Overview"),
    ("campaigns", "/web/campaigns", "Campaigns & sources"),
    ("reasons", "/web/reasons", "Reasons"),
    ("segments", "/web/segments", "Segments"),
    ("suggestions", "/web/suggestions", "Suggestions"),
    ("notes", "/web/notes", "Notes"),
    ("reps", "/web/reps", "Reps"),
    ("nurture", "/web/nurture", "Nurture"),
    ("leads", "/web/leads", "Leads"),
    ("policy", "/web/policy", "Policy"),
    ("import", "/web/import", "Import"),
    ("assign", "/web/assign", "Assign"),
    ("webhooks", "/web/webhooks", "Webhooks"),
    ("pack", "/web/pack", "Review pack"),
]
DIMENSION_NAMES = {
    "campaign": "Campaign", "source": "Source", "industry": "Industry",
    "company_size": "Company size", "country": "Country", "title": "Title",
}  # fmt: skip


class NeedSignIn(Exception):
    pass


class BadCsrf(Exception):
    pass


def _pct(x: float | None) -> str:
    return "–" if x is None else f"{100 * x:.0f}%"


def _hours(x: float | None) -> str:
    if x is None:
        return "–"
    return f"{x:.1f} h" if x < 48 else f"{x / 24:.1f} d"


def _when(iso: str | None, tz: str = "UTC") -> str:
    if not iso:
        return "–"
    import zoneinfo

    dt = domain.parse_time(iso).astimezone(zoneinfo.ZoneInfo(tz))
    return dt.strftime("%Y-%m-%d %H:%M")


_ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def _typed(value: Any) -> tuple[str, str]:
    """An attribute's value as a lead's page shows it: (its type, its text)."""
    if isinstance(value, bool):
        return "yes/no", "yes" if value else "no"
    if isinstance(value, int):
        return "number", str(value)
    if isinstance(value, float):
        return "number", f"{value:.12g}"
    text = str(value)
    if _ISO_DATE.match(text):
        try:
            return "date", date.fromisoformat(text).isoformat()
        except ValueError:
            pass
    return "text", text


templates.env.filters["typed"] = _typed
templates.env.filters["pct"] = _pct
templates.env.filters["hours"] = _hours
templates.env.filters["when"] = _when


# ---------------------------------------------------------------- who is signed in


def web_user(request: Request, backend: BackendDep) -> sessions.WebUser:
    user = sessions.current(backend, request.cookies.get(COOKIE))
    if user is None:
        raise NeedSignIn()
    return user


UserDep = Annotated[sessions.WebUser, Depends(web_user)]


async def checked_form(request: Request, user: UserDep) -> sessions.WebUser:
    """A POST of the signed-in user whose form carries the session's CSRF token."""
    form = await request.form()
    token = form.get("csrf")
    if not isinstance(token, str) or not hmac.compare_digest(token, user.csrf):
        raise BadCsrf()
    return user


FormUserDep = Annotated[sessions.WebUser, Depends(checked_form)]


def install(app: FastAPI) -> None:
    @app.exception_handler(NeedSignIn)
    async def _sign_in(request: Request, _exc: NeedSignIn) -> Response:
        if request.method == "GET":
            target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
            return RedirectResponse("/web/signin?" + urlencode({"next": target}), 303)
        return RedirectResponse("/web/signin", 303)

    @app.exception_handler(BadCsrf)
    async def _bad_csrf(request: Request, _exc: BadCsrf) -> Response:
        return _message(request, None, 403, "This form has expired",
                        "The form was sent without its security token (or from another "
                        "page). Nothing was changed. Go back, reload the page and try again.")  # fmt: skip


def _secure(request: Request) -> bool:
    public = getattr(request.app.state, "public_url", None) or ""
    return public.startswith("https://") or request.url.scheme == "https"


def render(
    request: Request, template: str, user: sessions.WebUser | None, status: int = 200, **ctx: Any
) -> HTMLResponse:
    return templates.TemplateResponse(
        request,
        template,
        {"user": user, "csrf": user.csrf if user else None, "nav": NAV, **ctx},
        status_code=status,
        headers={"Cache-Control": "no-store"},
    )


def _message(
    request: Request, user: sessions.WebUser | None, status: int, title: str, text: str
) -> HTMLResponse:
    return render(request, "message.html", user, status, title=title, text=text, page="")


# ---------------------------------------------------------------- sign in and out


def _next(value: Any) -> str:
    text = value if isinstance(value, str) else ""
    if not text.startswith("/web/") or text.startswith("//") or "\\" in text:
        return "/web/"
    return text


@router.get("/signin")
def signin_page(request: Request, backend: BackendDep) -> Response:
    if sessions.current(backend, request.cookies.get(COOKIE)) is not None:
        return RedirectResponse(_next(request.query_params.get("next")), 303)
    return _signin_form(request, 200)


def _signin_form(request: Request, status: int, error: str | None = None) -> HTMLResponse:
    secret = request.cookies.get(SIGNIN_COOKIE) or secrets.token_urlsafe(24)
    response = render(
        request, "signin.html", None, status, page="signin", signin_csrf=secret, error=error,
        next=_next(request.query_params.get("next")),
    )  # fmt: skip
    response.set_cookie(SIGNIN_COOKIE, secret, max_age=3600, httponly=True, samesite="lax",
                        secure=_secure(request), path="/web/")  # fmt: skip
    return response


async def _signin_checked(request: Request) -> Any:
    form = await request.form()
    sent, kept = form.get("csrf"), request.cookies.get(SIGNIN_COOKIE)
    if not isinstance(sent, str) or not kept or not hmac.compare_digest(sent, kept):
        raise BadCsrf()
    return form


def _signed_in(
    request: Request, backend: Backend, caller: Any, token: str | None, form: Any
) -> Response:
    secret, expires = sessions.start(backend, caller, token)
    response = RedirectResponse(_next(form.get("next")), 303)
    response.set_cookie(
        COOKIE, secret, expires=expires, httponly=True, samesite="lax", secure=_secure(request),
        path="/",
    )  # fmt: skip
    response.delete_cookie(SIGNIN_COOKIE, path="/web/")
    return response


@router.post("/signin")
async def signin(request: Request, backend: BackendDep) -> Response:
    """A marketing token, pasted once, exchanged for a session (never put in a URL)."""
    form = await _signin_checked(request)
    token = str(form.get("token") or "").strip()
    caller = backend.authenticate(token) if token else None
    if caller is None:
        return _signin_form(request, 401, "That token is unknown, revoked or expired, or its "
                            "user is deactivated. Ask your Triage administrator for a new one.")  # fmt: skip
    if caller.role != domain.Role.MARKETING:
        return _message(
            request, None, 403, "This is a rep's token",
            f"{caller.email} is a rep. The workspace is for marketing: reps work in the "
            "Triage app (`triage login`). Sign in with a marketing token instead.",
        )  # fmt: skip
    return _signed_in(request, backend, caller, token, form)


@router.post("/signin/code")
async def signin_code(request: Request, backend: BackendDep) -> Response:
    """A single-use sign-in code (`triage demo`, `triage server signin-code EMAIL`)."""
    form = await _signin_checked(request)
    caller = sessions.redeem(backend, str(form.get("code") or ""))
    if caller is None:
        return _signin_form(request, 401, "That sign-in code is unknown, used or expired "
                            "(codes work once, for 10 minutes).")  # fmt: skip
    return _signed_in(request, backend, caller, None, form)


@router.post("/signout")
async def signout(request: Request, backend: BackendDep, _user: FormUserDep) -> Response:
    sessions.end(backend, request.cookies.get(COOKIE))
    response = RedirectResponse("/web/signin?signed_out=1", 303)
    response.delete_cookie(COOKIE, path="/")
    return response


# ---------------------------------------------------------------- period and CSV helpers


def _period(request: Request, ctx: reports.Context) -> tuple[reports.Period, str | None]:
    q = request.query_params
    preset = q.get("preset") or None
    try:
        if preset:  # a preset button wins over the custom dates sent with it
            return ctx.period(preset), None
        return ctx.period(None, q.get("start") or None, q.get("end") or None), None
    except reports.ReportError as exc:
        return ctx.period("30d"), f"{exc}; showing the last 30 days"


def _period_qs(p: reports.Period) -> str:
    if p.preset:
        return urlencode({"preset": p.preset})
    return urlencode({"start": p.start.isoformat(), "end": p.end.isoformat()})


def _page_ctx(
    request: Request, p: reports.Period, error: str | None, **extra: Any
) -> dict[str, Any]:
    return {"period": p, "period_qs": _period_qs(p), "period_error": error,
            "presets": reports.PRESETS, "query": dict(request.query_params),
            "qs": urlencode([(k, v) for k, v in request.query_params.multi_items()
                             if k != "offset"]), **extra}  # fmt: skip


def csv_response(filename: str, header: list[str], rows: Iterable[Iterable[Any]]) -> Response:
    """A CSV download; every cell formula-safe (triage.csvsafe), rows ending in CRLF."""
    buf = io.StringIO()
    w = csvsafe.writer(buf)
    w.writerow(header)
    for row in rows:
        w.writerow(["" if v is None else v for v in row])
    return Response(
        buf.getvalue(),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )


def _reason_columns(codes: dict[str, list[dict[str, str]]]) -> list[reports.ReasonColumn]:
    return [reports.reason_column(side, c["code"], c["label"])
            for side in ("reject", "nurture") for c in codes[side]]  # fmt: skip


def _read(backend: Backend, fn: Callable[..., Any]) -> Any:
    with report_reader(backend) as (conn, ctx):
        return fn(conn, ctx)


# ---------------------------------------------------------------- overview


@router.get("/")
def overview(request: Request, user: UserDep, backend: BackendDep) -> Response:
    def read(conn: Any, ctx: reports.Context) -> dict[str, Any]:
        p, err = _period(request, ctx)
        return {"p": p, "err": err, "ov": reports.overview(conn, ctx, p),
                "tr": reports.trend(conn, ctx, p), "tz": ctx.tz}  # fmt: skip

    d = _read(backend, read)
    chart = charts.trend("Decisions per week and acceptance rate", d["tr"]["weeks"])
    return render(
        request, "overview.html", user, page="overview", ov=d["ov"], f=d["ov"]["figures"],
        weeks=d["tr"]["weeks"], chart=chart, tz=d["tz"], **_page_ctx(request, d["p"], d["err"]),
    )  # fmt: skip


@router.get("/trend.csv")
def trend_csv(request: Request, user: UserDep, backend: BackendDep) -> Response:
    weeks = _read(backend, lambda c, x: reports.trend(c, x, _period(request, x)[0]))["weeks"]
    cols = ["week", "monday", "mqls_received", "decided", "accepted", "rejected", "nurtured",
            "acceptance_rate"]  # fmt: skip
    return csv_response("trend.csv", cols, ([w[c] for c in cols] for w in weeks))


# ---------------------------------------------------------------- campaigns and sources


def _breakdown(
    request: Request, backend: Backend
) -> tuple[dict[str, Any], reports.Period, str | None]:
    q = request.query_params
    by = q.get("by") if q.get("by") in reports.DIMENSIONS else "campaign"
    cross = q.get("cross") or None
    if cross not in reports.DIMENSIONS and not (cross or "").startswith(reports.ATTR):
        cross = None

    def read(conn: Any, ctx: reports.Context) -> Any:
        p, err = _period(request, ctx)
        keys = reports.attribute_keys(conn)
        try:
            data = reports.breakdown(conn, ctx, p, by, cross, attribute_keys=keys)
        except reports.ReportError as exc:  # an attribute no newer lead has
            data, err = reports.breakdown(conn, ctx, p, by), f"{exc}; not crossed"
        return {**data, "attribute_keys": keys}, p, err

    return _read(backend, read)


def _crossings(data: dict[str, Any]) -> dict[str, str]:
    """What the campaigns page may cross by: the dimensions, then the attributes."""
    return DIMENSION_NAMES | {f"{reports.ATTR}{k}": f"Attribute: {k}"
                              for k in data["attribute_keys"]}  # fmt: skip


@router.get("/campaigns")
def campaigns(request: Request, user: UserDep, backend: BackendDep) -> Response:
    data, p, err = _breakdown(request, backend)
    rows = data["rows"]
    chart = _decision_bars(
        f"Decisions by {DIMENSION_NAMES[data['by']].lower()}: accepted, rejected, nurtured",
        rows[:40],
    )
    return render(
        request, "campaigns.html", user, page="campaigns", data=data, rows=rows, chart=chart,
        dims=DIMENSION_NAMES, crossings=_crossings(data), more=len(rows) > 40,
        **_page_ctx(request, p, err),
    )  # fmt: skip


def _key(value: Any) -> str:
    return "(none)" if value is None else str(value)


def _decision_bars(title: str, rows: list[dict[str, Any]], width: int = 760) -> str:
    """Breakdown rows (by key, and cross when crossed) as bars stacked by outcome, each
    followed by its acceptance rate."""
    return charts.stacked_bars(
        title,
        [(_key(r["key"]) + (f" × {_key(r['cross'])}" if "cross" in r else ""),
          [(o, r[o]) for o in ("accepted", "rejected", "nurtured")]) for r in rows],
        note=[f"({_pct(r['acceptance_rate'])} accepted)" for r in rows], width=width,
    )  # fmt: skip


@router.get("/campaigns.csv")
def campaigns_csv(request: Request, user: UserDep, backend: BackendDep) -> Response:
    data, _, _ = _breakdown(request, backend)
    cols = _reason_columns(data["reason_codes"])
    figures = ["mqls_received", "decided", "accepted", "rejected", "nurtured", "acceptance_rate",
               "median_hours_to_decision", "sla_compliance", "open", "open_past_sla"]  # fmt: skip
    header = [data["by"], *([data["cross"]] if data["cross"] else []), *figures,
              *(c[2] for c in cols)]  # fmt: skip
    return csv_response(
        f"{data['by']}s.csv", header,
        ([r["key"], *([r["cross"]] if data["cross"] else []), *(r[f] for f in figures),
          *reports.reason_cells(r, cols)] for r in data["rows"]),
    )  # fmt: skip


# ---------------------------------------------------------------- reasons and notes


def _reasons(
    request: Request, backend: Backend
) -> tuple[dict[str, Any], reports.Period, str | None]:
    by = request.query_params.get("by")
    by = by if by in reports.DIMENSIONS else "campaign"

    def read(conn: Any, ctx: reports.Context) -> Any:
        p, err = _period(request, ctx)
        return reports.reasons(conn, ctx, p, by), p, err

    return _read(backend, read)


@router.get("/reasons")
def reasons_page(request: Request, user: UserDep, backend: BackendDep) -> Response:
    data, p, err = _reasons(request, backend)
    reject_chart = charts.bars(
        "Rejection reasons", [(r["label"], r["count"]) for r in data["reject_reasons"]],
        "rejected", width=520,
    )  # fmt: skip
    nurture_chart = charts.bars(
        "Nurture reasons", [(r["label"], r["count"]) for r in data["nurture_reasons"]],
        "nurtured", width=520,
    )  # fmt: skip
    return render(
        request, "reasons.html", user, page="reasons", data=data, reject_chart=reject_chart,
        nurture_chart=nurture_chart, dims=DIMENSION_NAMES, **_page_ctx(request, p, err),
    )  # fmt: skip


@router.get("/reasons.csv")
def reasons_csv(request: Request, user: UserDep, backend: BackendDep) -> Response:
    data, _, _ = _reasons(request, backend)
    cols = _reason_columns(data["reason_codes"])
    weekly = request.query_params.get("view") == "weeks"
    rows = data["weeks"] if weekly else data["groups"]
    first = "week" if weekly else data["by"]
    return csv_response(
        f"reasons-by-{first}.csv", [first, *(c[2] for c in cols)],
        ([r["week"] if weekly else r["key"], *reports.reason_cells(r, cols)] for r in rows),
    )  # fmt: skip


def _segments(request: Request, backend: Backend) -> tuple[Any, reports.Period, str | None]:
    from triage.server import segments as seg

    q = request.query_params

    def read(conn: Any, ctx: reports.Context) -> Any:
        p, err = _period(request, ctx)
        try:
            t = seg.Thresholds.parse(q.get("min_leads"), q.get("min_rejected"), q.get("limit"))
        except reports.ReportError as exc:
            t, err = seg.Thresholds(), f"{exc}; showing the defaults"
        keys = reports.attribute_keys(conn)
        try:
            data = seg.segments(conn, ctx, p, t, q.get("by"))
        except reports.ReportError as exc:
            data, err = seg.segments(conn, ctx, p, t), f"{exc}; showing all"
        return {**data, "attribute_keys": keys}, p, err

    return _read(backend, read)


@router.get("/segments")
def segments_page(request: Request, user: UserDep, backend: BackendDep) -> Response:
    data, p, err = _segments(request, backend)
    return render(request, "segments.html", user, page="segments", data=data,
                  dims=DIMENSION_NAMES, **_page_ctx(request, p, err))  # fmt: skip


@router.get("/suggestions")
def suggestions_page(request: Request, user: UserDep, backend: BackendDep) -> Response:
    """How often reps agreed with the suggestions, by rep and campaign, and the model's
    figures: /v1/reports/agreement as a page."""
    from triage.server.agreement import agreement

    def read(conn: Any, ctx: reports.Context) -> Any:
        p, err = _period(request, ctx)
        return agreement(conn, ctx, p), p, err

    data, p, err = _read(backend, read)
    return render(request, "suggestions.html", user, page="suggestions", data=data,
                  **_page_ctx(request, p, err))  # fmt: skip


@router.get("/segments.csv")
def segments_csv(request: Request, user: UserDep, backend: BackendDep) -> Response:
    data, _, _ = _segments(request, backend)
    header = ["dimension", "value", "crossed with", "value", "decided", "rejected",
              "rejection rate", "top reason", "top reason count", "example note"]  # fmt: skip
    rows = (
        [s["first"], s["first_value"], s["second"], s["second_value"], s["decided"],
         s["rejected"], f"{100 * s['rejection_rate']:.0f}%",
         s["reasons"][0]["label"] if s["reasons"] else "",
         s["reasons"][0]["count"] if s["reasons"] else "",
         s["notes"][0]["note"] if s["notes"] else ""]
        for s in data["segments"]
    )  # fmt: skip
    return csv_response("segments.csv", header, rows)


def _notes(
    request: Request, backend: Backend, limit: int
) -> tuple[dict[str, Any], reports.Period, str | None, reports.Context]:
    q = request.query_params
    outcome = q.get("outcome") if q.get("outcome") in ("reject", "nurture", "accept") else None

    def read(conn: Any, ctx: reports.Context) -> Any:
        p, err = _period(request, ctx)
        filters = {k: q.get(k) for k in ("campaign", "source") if k in q and q.get(k) is not None}
        offset = _offset(request)
        data = reports.notes(conn, ctx, p, outcome=outcome, reason=q.get("reason") or None,
                             text=q.get("q") or None, rep=q.get("rep") or None, limit=limit,
                             offset=offset, **filters)  # fmt: skip
        data["offset"] = offset
        return data, p, err, ctx

    return _read(backend, read)


@router.get("/notes")
def notes_page(request: Request, user: UserDep, backend: BackendDep) -> Response:
    data, p, err, ctx = _notes(request, backend, 100)
    return render(
        request, "notes.html", user, page="notes", data=data, labels=ctx.labels, tz=ctx.tz,
        **_page_ctx(request, p, err),
    )  # fmt: skip


@router.get("/notes.csv")
def notes_csv(request: Request, user: UserDep, backend: BackendDep) -> Response:
    data, _, _, _ = _notes(request, backend, 100_000)
    cols = ["at", "rep", "outcome", "reason", "reason_label", "note", "lead_id", "external_id",
            "name", "company", "campaign", "source"]  # fmt: skip
    return csv_response("notes.csv", cols, ([n[c] for c in cols] for n in data["notes"]))


# ---------------------------------------------------------------- reps and nurture


@router.get("/reps")
def reps_page(request: Request, user: UserDep, backend: BackendDep) -> Response:
    def read(conn: Any, ctx: reports.Context) -> Any:
        p, err = _period(request, ctx)
        return reports.reps(conn, ctx, p), p, err

    data, p, err = _read(backend, read)
    return render(request, "reps.html", user, page="reps", data=data,
                  **_page_ctx(request, p, err))  # fmt: skip


@router.get("/reps.csv")
def reps_csv(request: Request, user: UserDep, backend: BackendDep) -> Response:
    data = _read(backend, lambda c, x: reports.reps(c, x, _period(request, x)[0]))
    cols = ["rep", "name", "assigned", "decided", "accepted", "rejected", "nurtured",
            "acceptance_rate", "median_hours_to_decision", "sla_compliance", "open",
            "open_past_sla"]  # fmt: skip
    return csv_response("reps.csv", cols, ([r[c] for c in cols] for r in data["rows"]))


def _offset(request: Request) -> int:
    try:
        return max(0, int(request.query_params.get("offset") or 0))
    except ValueError:
        return 0


def _days(request: Request) -> int:
    try:
        return max(0, min(3660, int(request.query_params.get("days") or 30)))
    except ValueError:
        return 30


@router.get("/nurture")
def nurture_page(request: Request, user: UserDep, backend: BackendDep) -> Response:
    data = _read(backend, lambda c, x: reports.nurture_due(c, x, _days(request), 200))
    return render(request, "nurture.html", user, page="nurture", data=data)


@router.get("/nurture.csv")
def nurture_csv(request: Request, user: UserDep, backend: BackendDep) -> Response:
    data = _read(backend, lambda c, x: reports.nurture_due(c, x, _days(request), 100_000))
    cols = ["external_id", "name", "email", "company", "title", "campaign", "source",
            "nurture_until", "passed", "reason", "reason_label", "rep", "decided_at", "lead_id"]  # fmt: skip
    return csv_response("nurture-due.csv", cols, ([r[c] for c in cols] for r in data["rows"]))


# ---------------------------------------------------------------- leads


LEAD_FILTERS = ("campaign", "source", "industry", "company_size", "country", "title")


def _leads(request: Request, backend: Backend, limit: int) -> Any:
    q = request.query_params
    outcome = q.get("outcome") or None
    if outcome not in (None, "open", "decided", "accept", "reject", "nurture"):
        outcome = None
    dated = bool(
        q.get("preset") or q.get("start") or q.get("end") or (outcome and outcome != "open")
    )
    filters = {k: q.get(k) for k in LEAD_FILTERS if k in q}

    def read(conn: Any, ctx: reports.Context) -> Any:
        p, err = _period(request, ctx)
        offset = _offset(request)
        data = reports.leads(conn, ctx, q=q.get("q"), p=p if dated else None, outcome=outcome,
                             limit=limit, offset=offset, **filters)  # fmt: skip
        data["offset"] = offset
        return data, (p if dated else None), err, ctx.tz

    return _read(backend, read) + (filters, outcome)


@router.get("/leads")
def leads_page(request: Request, user: UserDep, backend: BackendDep) -> Response:
    data, p, err, tz, filters, outcome = _leads(request, backend, 100)
    return render(
        request, "leads.html", user, page="leads", data=data, p=p, filters=filters,
        outcome=outcome, tz=tz, query=dict(request.query_params), period_error=err,
        qs=urlencode({k: v for k, v in request.query_params.items() if k != "offset"}),
    )  # fmt: skip


@router.get("/leads.csv")
def leads_csv(request: Request, user: UserDep, backend: BackendDep) -> Response:
    data = _leads(request, backend, 100_000)[0]
    cols = [*reports.LEAD_LIST_COLUMNS, "reason", "reason_label", "owner"]
    return csv_response("leads.csv", cols, ([r[c] for c in cols] for r in data["leads"]))


@router.get("/leads/{ref}")
def lead_page(request: Request, ref: str, user: UserDep, backend: BackendDep) -> Response:
    found = _read(backend, lambda c, x: (reports.lead_history(c, x, ref), x.tz, x.policy))
    data, tz, policy = found
    if data is None:
        return _message(
            request, user, 404, "No such lead", f"No lead has the id or external id {ref!r}."
        )
    return render(request, "lead.html", user, page="leads", lead=data["lead"],
                  timeline=data["timeline"], tz=tz, policy=policy)  # fmt: skip


# ---------------------------------------------------------------- policy


def _policy_page(request: Request, user: sessions.WebUser, backend: Backend, status: int = 200,
                 **extra: Any) -> HTMLResponse:  # fmt: skip
    data = _read(backend, lambda c, x: (reports.policy_history(c, x.policy), x.policy))
    history, policy = data
    return render(request, "policy.html", user, status, page="policy", history=history,
                  policy=policy, **extra)  # fmt: skip


@router.get("/policy")
def policy_page(request: Request, user: UserDep, backend: BackendDep) -> Response:
    return _policy_page(request, user, backend)


@router.get("/policy.toml")
def policy_download(request: Request, user: UserDep, backend: BackendDep) -> Response:
    return Response(domain.policy_toml(backend.policy()), media_type="application/toml",
                    headers={"Content-Disposition": 'attachment; filename="policy.toml"'})  # fmt: skip


async def _uploaded_text(
    request: Request, field: str, text_field: str
) -> tuple[str | None, str | None]:
    form = await request.form()
    upload = form.get(field)
    text = form.get(text_field)
    raw: bytes | None = None
    if upload is not None and not isinstance(upload, str) and upload.filename:
        raw = await upload.read()
    elif isinstance(text, str) and text:
        raw = text.encode()
    if raw is None:
        return None, "choose a file first"
    try:
        return raw.decode("utf-8-sig"), None
    except UnicodeDecodeError:
        return None, "the file is not UTF-8 text"


@router.post("/policy")
async def policy_upload(request: Request, user: FormUserDep, backend: BackendDep) -> Response:
    text, problem = await _uploaded_text(request, "file", "text")
    if text is None:
        return _policy_page(request, user, backend, 400, upload_error=problem)
    result = actions.apply_policy(backend, text, dry_run=True)
    lines = text.splitlines()
    by_line: dict[int, list[str]] = {}
    general = []
    for e in result["errors"]:
        if e["line"] and 1 <= e["line"] <= len(lines):
            by_line.setdefault(e["line"], []).append(e["problem"])
        else:
            general.append(e["problem"])
    return _policy_page(
        request, user, backend, 200 if result["ok"] else 422, check=result, text=text,
        lines=list(enumerate(lines, 1)), by_line=by_line, general=general,
    )  # fmt: skip


@router.post("/policy/confirm")
async def policy_confirm(request: Request, user: FormUserDep, backend: BackendDep) -> Response:
    form = await request.form()
    text = str(form.get("text") or "")
    result = actions.apply_policy(backend, text, dry_run=False)
    if not result["ok"]:
        return _policy_page(request, user, backend, 422, upload_error="the policy has problems; "
                            "upload it again to see them")  # fmt: skip
    return _policy_page(request, user, backend, saved=result)


# ---------------------------------------------------------------- import


@router.get("/import")
def import_page(request: Request, user: UserDep) -> Response:
    return render(request, "import.html", user, keys=domain.IMPORT_KEYS,
                  **importing.page_context())  # fmt: skip


@router.post("/import")
async def import_check(request: Request, user: FormUserDep, backend: BackendDep) -> Response:
    form = await request.form()
    choices = importing.Choices.of(form)
    choices.map_text = await importing.map_upload(form) or choices.map_text
    upload = form.get("file")
    if upload is None or isinstance(upload, str) or not upload.filename:
        return render(request, "import.html", user, 400, keys=domain.IMPORT_KEYS,
                      **importing.page_context(error="choose a CSV or JSON Lines file first",
                                               choices=choices))  # fmt: skip
    ctx = importing.check(backend, upload.filename, await upload.read(), choices)
    return render(request, "import.html", user, 200 if ctx["result"].ok else 422,
                  keys=domain.IMPORT_KEYS, **importing.page_context(**ctx))  # fmt: skip


@router.post("/import/confirm")
async def import_confirm(request: Request, user: FormUserDep, backend: BackendDep) -> Response:
    form = await request.form()
    name = str(form.get("name") or "upload.csv")
    ctx = importing.confirm(backend, name, str(form.get("text") or ""), importing.Choices.of(form))
    done = ctx["result"]
    if done.ok:
        request.app.state.metrics.imported({"created": done.created, "updated": done.updated,
                                            "unchanged": done.unchanged,
                                            "skipped": done.skipped})  # fmt: skip
    return render(request, "import.html", user, 200 if ctx["result"].ok else 422,
                  keys=domain.IMPORT_KEYS, **importing.page_context(**ctx))  # fmt: skip


@router.post("/export")
async def export_download(request: Request, user: FormUserDep, backend: BackendDep) -> Response:
    """The import page's export form: the decisions of some days as a file to download."""
    from triage.server import exports

    form = await request.form()
    since, until, fmt = (str(form.get(k) or "").strip() for k in ("since", "until", "format"))
    map_text = await importing.map_upload(form)  # a map file of one's own, else the preset
    try:
        made = exports.export(backend, fmt, since, until or None, map_text=map_text or None)
    except exports.ExportError as exc:
        return render(request, "import.html", user, 400, keys=domain.IMPORT_KEYS,
                      **importing.page_context(export_error=str(exc),
                                               export_form={"since": since, "until": until,
                                                            "format": fmt}))  # fmt: skip
    return Response(made.text, media_type=made.media_type, headers={
        "Content-Disposition": f'attachment; filename="{made.filename}"',
        "Cache-Control": "no-store",
    })  # fmt: skip


# ---------------------------------------------------------------- assign


@router.get("/assign")
def assign_page(request: Request, user: UserDep, backend: BackendDep) -> Response:
    return render(request, "assign.html", user, page="assign", **actions.assign_choices(backend))


def _plan_from(form: Any, backend: Backend) -> actions.AssignPlan:
    mode = str(form.get("mode") or "")
    campaign = form.get("campaign")
    if mode == "round_robin" and campaign == "__none__":
        campaign = ""
    return actions.plan_assign(
        backend, mode, from_rep=form.get("from_rep"), to_rep=form.get("to_rep"),
        campaign=None if campaign is None else str(campaign),
        reps=[str(x) for x in form.getlist("reps")],
    )  # fmt: skip


@router.post("/assign")
async def assign_preview(request: Request, user: FormUserDep, backend: BackendDep) -> Response:
    form = await request.form()
    try:
        plan = _plan_from(form, backend)
    except ServiceError as exc:
        return render(request, "assign.html", user, 400, page="assign", error=exc.detail,
                      **actions.assign_choices(backend))  # fmt: skip
    return render(request, "assign.html", user, page="assign", plan=plan.to_dict(),
                  form=form, **actions.assign_choices(backend))  # fmt: skip


@router.post("/assign/confirm")
async def assign_confirm(request: Request, user: FormUserDep, backend: BackendDep) -> Response:
    form = await request.form()
    try:
        plan = _plan_from(form, backend)
        done = actions.apply_assign(backend, plan, by=user.caller.email)
    except ServiceError as exc:
        return render(request, "assign.html", user, 400, page="assign", error=exc.detail,
                      **actions.assign_choices(backend))  # fmt: skip
    return render(request, "assign.html", user, page="assign", done=done,
                  **actions.assign_choices(backend))  # fmt: skip


# ---------------------------------------------------------------- review pack


@router.get("/pack")
def pack(request: Request, user: UserDep, backend: BackendDep) -> Response:
    def read(conn: Any, ctx: reports.Context) -> Any:
        p, err = _period(request, ctx)
        return reports.review_pack(conn, ctx, p), p, err, ctx

    data, p, err, ctx = _read(backend, read)
    charts_ = {
        "trend": charts.trend("Decisions per week and acceptance rate", data["trend"]["weeks"]),
        "campaigns": _decision_bars("Decisions by campaign", data["campaigns"]["rows"][:15],
                                    width=560),
        "reasons": charts.bars("Rejection reasons", [(r["label"], r["count"]) for r in
                               data["overview"]["reject_reasons"][:10]], "rejected", width=520),
    }  # fmt: skip
    return render(request, "pack.html", user, page="pack", data=data, charts=charts_,
                  printed=datetime.now(p.zone).strftime("%Y-%m-%d %H:%M"),
                  **_page_ctx(request, p, err))  # fmt: skip
