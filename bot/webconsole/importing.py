"""Import in the browser: upload the roster CSV (and the programme TOML), preview, Apply.

    GET  /console/p/<slug>/import            the upload form
    POST /console/p/<slug>/import/preview    the same line-numbered problems as `app.py import`,
                                             or what would change (people, pairs, who loses access)
    POST /console/p/<slug>/import/apply      the import itself

The checks and the import are the command line's (`bot/cli/importer.py`): the preview is the
import in a transaction that is rolled back, so nothing changes before Apply, and Apply does what
the preview showed; applying twice changes nothing the second time. The preview page carries the
uploaded files back in hidden fields (no upload is kept on the server between the two steps).
A programme file must be this programme's: a manager cannot import into another one.
"""
from __future__ import annotations

import asyncio
import base64
import binascii
import json
import re
from functools import partial

from aiohttp import web

from bot.cli.importer import import_checked, problems_of, problems_text
from bot.webconsole.routes import Asked, Console
from storage.roster_file import MAX_TOML_BYTES, Problem, ProgrammeFile, parse_programme, read_roster
from storage.tables import Programme

_SAFE_NAME = re.compile(r"[^\w .()-]")


def add_import_routes(app: web.Application, console: Console) -> None:
    importing = Importing(console)
    guard = console.signed_in
    app.router.add_get("/console/p/{slug}/import", guard(importing.form))
    app.router.add_post("/console/p/{slug}/import/preview", guard(importing.preview, form=True))
    app.router.add_post("/console/p/{slug}/import/apply", guard(importing.apply, form=True))


class Importing:
    def __init__(self, console: Console) -> None:
        self.console = console

    async def form(self, request: web.Request, asked: Asked) -> web.Response:
        programme = await self.console.programme_or_404(request, asked)
        return self.console.page(asked, asked.lang, "import.html.j2", programme=programme,
                                 stage="form")

    async def preview(self, request: web.Request, asked: Asked) -> web.Response:
        programme = await self.console.programme_or_404(request, asked)
        data = await request.post()
        roster, roster_name = _upload(data.get("roster"))
        toml, toml_name = _upload(data.get("programme_file"))
        return await self._run(asked, programme, roster, roster_name, toml, toml_name,
                               apply=False)

    async def apply(self, request: web.Request, asked: Asked) -> web.Response:
        programme = await self.console.programme_or_404(request, asked)
        data = await request.post()
        try:
            roster = base64.b64decode(str(data.get("roster_b64", "")), validate=True)
            toml = base64.b64decode(str(data.get("toml_b64", "")), validate=True)
        except (binascii.Error, ValueError):
            roster, toml = b"", b""
        return await self._run(asked, programme, roster, _name(data.get("roster_name")),
                               toml, _name(data.get("toml_name")), apply=True)

    async def _run(self, asked: Asked, programme: Programme, roster: bytes, roster_name: str,
                   toml: bytes, toml_name: str, *, apply: bool) -> web.Response:
        console = self.console
        values = {"programme": programme, "roster_name": roster_name, "toml_name": toml_name}
        if not roster:
            return console.page(asked, asked.lang, "import.html.j2", status=422, stage="form",
                                missing_roster=True, **values)
        parsed = _programme_file(programme, toml, toml_name)
        if parsed.slug and parsed.slug != programme.slug:
            return console.page(asked, asked.lang, "import.html.j2", status=422, stage="form",
                                other_programme=parsed.name, **values)
        if parsed.slug:
            read_roster(roster, parsed)
        problems = problems_of(parsed)
        if problems:
            text = problems_text(console.services.texts, asked.lang, roster_name or "roster.csv",
                                 problems)
            intro, *lines = text.splitlines()
            return console.page(asked, asked.lang, "import.html.j2", status=422, stage="form",
                                problems_intro=intro, problems=[x.strip() for x in lines
                                                                if x.strip()], **values)
        result = await asyncio.to_thread(partial(import_checked, console.db, parsed,
                                                 console.clock.now(), apply=apply))
        return console.page(asked, asked.lang, "import.html.j2",
                            stage="applied" if apply else "preview", result=result,
                            roster_b64=base64.b64encode(roster).decode("ascii"),
                            toml_b64=base64.b64encode(toml).decode("ascii"), **values)


def _upload(field) -> tuple[bytes, str]:
    """An uploaded file's bytes and a name safe to show; nothing when no file was chosen."""
    if not hasattr(field, "file"):  # none chosen: browsers send an empty part without a name
        return b"", ""
    return field.file.read(), _name(field.filename)


def _name(value) -> str:
    return _SAFE_NAME.sub("_", str(value or ""))[:80]


def _programme_file(programme: Programme, toml: bytes, toml_name: str) -> ProgrammeFile:
    """The uploaded programme file, or the programme as stored when none was uploaded."""
    stored = ProgrammeFile(slug=programme.slug, name=programme.name, starts=programme.starts,
                           ends=programme.ends, cadence_weeks=programme.cadence_weeks,
                           language=programme.language, timezone=programme.timezone,
                           settings=json.loads(programme.settings_json or "{}"))
    if not toml:
        return stored
    if len(toml) > MAX_TOML_BYTES:
        stored.problems.append(Problem(0, "toml_too_large", toml_name or "programme.toml"))
        return stored
    return parse_programme(toml)[0]
