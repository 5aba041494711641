"""The dashboard's files hang together: every module a page imports exists, every route has its page, and no
script builds HTML from strings (the page inserts API data only as text: docs/dashboard.md#security)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from st2lite.api.routes.dashboard import WEB_DIR

SCRIPTS = sorted(WEB_DIR.rglob("*.js"))
IMPORT = re.compile(r"""(?:\bimport\b[^"';]*?\bfrom\s*|\bimport\s*\(?\s*)["'](\.{1,2}/[^"']+)["']""")
ROUTE_PAGE = re.compile(r"""/,\s*"(\w+)",\s*(?:"\w+"|null)\],?$""", re.MULTILINE)


def test_the_page_loads_files_that_exist() -> None:
    html = (WEB_DIR / "index.html").read_text()
    refs = re.findall(r'(?:src|href)="/ui/([^"]+)"', html)
    assert "js/app.js" in refs and "app.css" in refs
    for ref in refs:
        assert (WEB_DIR / ref).is_file(), f"index.html loads /ui/{ref}, which is not in {WEB_DIR}"


@pytest.mark.parametrize("script", SCRIPTS, ids=lambda p: str(p.relative_to(WEB_DIR)))
def test_every_static_import_resolves(script: Path) -> None:
    for target in IMPORT.findall(script.read_text()):
        if "${" in target:
            continue  # the router's dynamic import of a page: checked below
        assert (script.parent / target).resolve().is_file(), f"{script.name} imports {target}, which does not exist"


def test_every_route_has_its_page_module() -> None:
    pages = ROUTE_PAGE.findall((WEB_DIR / "js" / "app.js").read_text())
    assert {"overview", "executions", "execution", "rules", "rule", "login"} <= set(pages)
    for page in pages:
        assert (WEB_DIR / "js" / "pages" / f"{page}.js").is_file(), f"route to page {page!r} has no module"


@pytest.mark.parametrize("script", SCRIPTS, ids=lambda p: str(p.relative_to(WEB_DIR)))
def test_no_script_writes_html_from_strings(script: Path) -> None:
    code = script.read_text()
    for sink in ("innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "eval(", "new Function"):
        assert sink not in code, f"{script.name} uses {sink}: build elements with h() from js/dom.js instead"
