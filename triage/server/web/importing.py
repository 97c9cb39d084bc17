"""The workspace's import page: a file, Triage's columns or a CRM export through a map (a
preset or an uploaded map file), its encoding, and the options of `triage server import`;
a dry run first, then the same file and choices confirmed (carried in the page)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from triage.server import actions
from triage.server.importer import ImportFileError, decode
from triage.server.maps import NATIVE, PRESETS, ImportMap, MapError, load_map, parse_map
from triage.server.service import Backend, ImportOptions
from triage.server.services.imports import ON_DUPLICATE

MAPS = [("", "Triage's own columns"), ("hubspot", "HubSpot contacts export"),
        ("salesforce", "Salesforce Leads report export"), ("file", "a map file (TOML)")]  # fmt: skip
ENCODINGS = [("", "UTF-8 (with or without BOM)"), ("cp1252", "Windows-1252 (Excel, Salesforce)"),
             ("latin-1", "ISO-8859-1")]  # fmt: skip


@dataclass
class Choices:
    """What the form asked for, as the confirm step gets it back."""

    map: str = ""
    map_text: str = ""
    encoding: str = ""
    strict: bool = False
    owner: str = ""
    on_duplicate: str = "link"

    @classmethod
    def of(cls, form: Any) -> Choices:
        def text(key: str) -> str:
            value = form.get(key)
            return value.strip() if isinstance(value, str) else ""

        on_duplicate = text("on_duplicate")
        return cls(
            map=text("map") if text("map") in (*PRESETS, "file") else "",
            map_text=text("map_text"),
            encoding=text("encoding") if text("encoding") in dict(ENCODINGS) else "",
            strict=text("strict") == "on",
            owner=text("owner"),
            on_duplicate=on_duplicate if on_duplicate in ON_DUPLICATE else "link",
        )

    def import_map(self) -> ImportMap:
        """Raises MapError."""
        if self.map in PRESETS:
            found = load_map(self.map)
        elif self.map == "file":
            if not self.map_text:
                raise MapError("choose a map file (TOML), or another kind of file")
            found = parse_map(self.map_text, "the map file")
        else:
            found = NATIVE
        return found.strictly(self.strict)

    def options(self) -> ImportOptions:
        owners = tuple(e.strip() for e in self.owner.split(",") if e.strip())
        return ImportOptions(owners=owners, on_duplicate=self.on_duplicate)


EXPORT_FORMATS = [("hubspot", "HubSpot contacts import (Record ID, Lead Status, reason, note)"),
                  ("salesforce", "Salesforce leads import (Lead ID, Lead Status, reason, note)"),
                  ("csv", "CSV: Triage's whole decision record"),
                  ("jsonl", "JSON Lines: Triage's whole decision record")]  # fmt: skip


def page_context(**ctx: Any) -> dict[str, Any]:
    return {"page": "import", "maps": MAPS, "encodings": ENCODINGS,
            "on_duplicate": ON_DUPLICATE, "choices": Choices(),
            "export_formats": EXPORT_FORMATS, "export_form": {}, **ctx}  # fmt: skip


async def map_upload(form: Any) -> str:
    upload = form.get("mapfile")
    if upload is None or isinstance(upload, str) or not upload.filename:
        return ""
    data = await upload.read()
    return data.decode("utf-8-sig", errors="replace")


def check(backend: Backend, name: str, data: bytes, choices: Choices) -> dict[str, Any]:
    """The dry run: the page's context (the result, and the text to confirm)."""
    try:
        import_map = choices.import_map()
        text = decode(name, data, choices.encoding or None)
    except (MapError, ImportFileError) as exc:
        return {"result": actions.ImportResult(True, error=str(exc)), "name": name}
    result = actions.import_file(
        backend, name, text.encode(), dry_run=True, import_map=import_map,
        options=choices.options(),
    )  # fmt: skip
    return {"result": result, "name": name, "text": text, "choices": choices}


def confirm(backend: Backend, name: str, text: str, choices: Choices) -> dict[str, Any]:
    try:
        import_map = choices.import_map()
    except MapError as exc:
        return {"result": actions.ImportResult(False, error=str(exc)), "name": name, "done": True}
    result = actions.import_file(
        backend, name, text.encode(), dry_run=False, import_map=import_map,
        options=choices.options(),
    )  # fmt: skip
    return {"result": result, "name": name, "done": True, "choices": choices}
