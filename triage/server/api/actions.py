"""Marketing's actions as JSON endpoints (the workspace's forms do the same through
triage.server.actions): import a file with a dry run, check and apply a policy file,
assign leads by filter; and the decisions out as a file (triage.server.exports)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Request, Response
from pydantic import BaseModel, ConfigDict, Field

from triage.server import actions, exports
from triage.server.api.deps import BackendDep, MarketingDep
from triage.server.maps import NATIVE, load_map
from triage.server.service import ImportOptions, ServiceError

router = APIRouter(prefix="/v1", tags=["marketing actions"])


def _raw_body(media: list[str], description: str) -> dict[str, Any]:
    return {
        "requestBody": {
            "required": True,
            "description": description,
            "content": {m: {"schema": {"type": "string"}} for m in media},
        }
    }


@router.post(
    "/imports",
    summary="Import a CSV or JSON Lines file (dry run first)",
    openapi_extra=_raw_body(
        ["text/csv", "application/x-ndjson"],
        "The file's bytes: a CSV with a header row, or JSON Lines (README, import columns)",
    ),
)
async def import_leads(
    request: Request,
    _who: MarketingDep,
    backend: BackendDep,
    format: Annotated[Literal["csv", "jsonl"], Query(description="the file's format")] = "csv",
    dry_run: Annotated[bool, Query(description="check and count; write nothing")] = True,
    map: Annotated[
        Literal["hubspot", "salesforce"] | None,
        Query(description="read a CRM export through a preset map (CSV)"),
    ] = None,
    encoding: Annotated[str | None, Query(description="e.g. cp1252; default UTF-8")] = None,
    strict: Annotated[bool, Query(description="refuse columns the map does not place")] = False,
    owner: Annotated[
        list[str] | None, Query(description="reps who get new leads without an owner, in turn")
    ] = None,
    on_duplicate: Annotated[
        Literal["link", "skip", "update"],
        Query(description="a new lead with the email of an open lead: link, skip or update"),
    ] = "link",
) -> dict[str, Any]:
    """All or nothing, as `triage server import`: every bad row is named by its line and
    nothing is written while any row is bad. `dry_run` (the default) only counts the rows
    that would be created, updated and left unchanged (and skipped, linked, recycled)."""
    data = await request.body()
    import_map = load_map(map) if map else NATIVE
    options = ImportOptions(owners=tuple(owner or ()), on_duplicate=on_duplicate)
    result = actions.import_file(
        backend, f"upload.{format}", data, dry_run=dry_run, encoding=encoding,
        import_map=import_map.strictly(strict), options=options,
    )  # fmt: skip
    if result.error is not None:
        raise ServiceError(400, "bad_file", result.error)
    return result.to_dict()


@router.post(
    "/policy",
    summary="Check, then apply, a policy file (TOML)",
    openapi_extra=_raw_body(["application/toml", "text/plain"], "The policy file (TOML)"),
)
async def set_policy(
    request: Request,
    _who: MarketingDep,
    backend: BackendDep,
    dry_run: Annotated[bool, Query(description="check and show the changes only")] = True,
) -> dict[str, Any]:
    """Every problem comes with the line it is about (`errors: [{line, problem}]`); with
    none and `dry_run=false`, the policy becomes the next version (the same content as the
    current policy keeps its version)."""
    try:
        text = (await request.body()).decode("utf-8-sig")
    except UnicodeDecodeError:
        raise ServiceError(400, "bad_file", "the policy file is not UTF-8 text") from None
    return actions.apply_policy(backend, text, dry_run=dry_run)


class AssignByFilter(BaseModel):
    model_config = ConfigDict(extra="forbid")

    mode: Literal["move", "round_robin"] = Field(
        description="move: every open lead of from_rep to to_rep; round_robin: the "
        "campaign's unassigned open leads dealt in turn to reps"
    )
    from_rep: str | None = None
    to_rep: str | None = None
    campaign: str | None = Field(None, description="'' means leads without a campaign")
    reps: list[str] = Field(default_factory=list, max_length=500)
    dry_run: bool = Field(True, description="count only (the count to show before confirming)")


@router.post("/assignments", summary="Assign leads by filter")
def assign_by_filter(
    who: MarketingDep, backend: BackendDep, body: AssignByFilter
) -> dict[str, Any]:
    plan = actions.plan_assign(
        backend, body.mode, from_rep=body.from_rep, to_rep=body.to_rep,
        campaign=body.campaign, reps=body.reps,
    )  # fmt: skip
    if body.dry_run:
        return {**plan.to_dict(), "dry_run": True}
    return {**actions.apply_assign(backend, plan, by=who.email), "dry_run": False}


@router.get(
    "/exports",
    summary="The decisions of some days, as a file for a CRM's import or as Triage's record",
    response_class=Response,
    responses={200: {"content": {"text/csv": {}, "application/x-ndjson": {}}}},
)
def export_decisions(
    _who: MarketingDep,
    backend: BackendDep,
    since: Annotated[str, Query(description="the first day, e.g. 2026-11-01")],
    format: Annotated[
        Literal["hubspot", "salesforce", "csv", "jsonl"],
        Query(
            description="hubspot, salesforce: the CRM's import file (id, status, reason, "
            "note); csv, jsonl: Triage's whole decision record"
        ),
    ],  # fmt: skip
    until: Annotated[str | None, Query(description="the last day, included; default today")] = None,
) -> Response:
    """As `triage server export`: the leads' standing decisions made in those days (read in
    the policy's time zone), one row per lead, CSV formula-safe."""
    try:
        made = exports.export(backend, format, since, until)
    except exports.ExportError as exc:
        raise ServiceError(400, "bad_export", str(exc)) from None
    return Response(
        made.text,
        media_type=made.media_type,
        headers={
            "Content-Disposition": f'attachment; filename="{made.filename}"',
            "Triage-Decisions": str(made.count),
        },  # fmt: skip
    )
