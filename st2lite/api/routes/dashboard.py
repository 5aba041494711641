"""The web dashboard (docs/dashboard.md): ``GET /`` serves its one page, ``/ui/...`` its files.

The page and its files are public (they hold no data); everything they show comes
from the API with the credential the user logs in with. No build step: the files
under ``st2lite/web/`` are what the browser runs.
"""

from __future__ import annotations

import os
from os import PathLike
from pathlib import Path

from fastapi import APIRouter
from fastapi.responses import FileResponse
from starlette.responses import Response
from starlette.staticfiles import StaticFiles
from starlette.types import Scope

__all__ = ["UI_PREFIX", "WEB_DIR", "DashboardFiles", "router"]

WEB_DIR = Path(__file__).resolve().parents[2] / "web"
UI_PREFIX = "/ui"

#: The page runs only its own scripts and styles and talks only to this origin.
SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
        "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-cache",
}

router = APIRouter(include_in_schema=False)


@router.get("/")
def dashboard() -> FileResponse:
    """The dashboard's page; it routes on the URL's fragment (``#/executions``...)."""
    return FileResponse(WEB_DIR / "index.html", media_type="text/html", headers=SECURITY_HEADERS)


class DashboardFiles(StaticFiles):
    """The dashboard's scripts and styles, revalidated on every load (``no-cache``): an upgrade shows at once."""

    def file_response(
        self, full_path: PathLike[str] | str, stat_result: os.stat_result, scope: Scope, status_code: int = 200
    ) -> Response:
        response = super().file_response(full_path, stat_result, scope, status_code)
        response.headers.update(SECURITY_HEADERS)
        return response
