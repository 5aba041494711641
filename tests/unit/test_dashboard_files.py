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


def _luminance(colour: str) -> float:
    channels = [int(colour[i : i + 2], 16) / 255 for i in (1, 3, 5)]
    linear = [c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]
    return 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]


def contrast(foreground: str, background: str) -> float:
    """WCAG 2 contrast ratio of two ``#rrggbb`` colours."""
    light, dark = sorted((_luminance(foreground), _luminance(background)), reverse=True)
    return (light + 0.05) / (dark + 0.05)


def test_contrast_helper_matches_known_ratios() -> None:
    assert contrast("#000000", "#ffffff") == pytest.approx(21.0)
    assert contrast("#777777", "#ffffff") == pytest.approx(4.48, abs=0.01)


#: (text colour, background) pairs of app.css's palette that are drawn together.
PAIRS = [
    ("text", "bg"),
    ("text", "panel"),
    ("muted", "bg"),
    ("muted", "panel"),
    ("muted", "off-bg"),
    ("accent", "bg"),
    ("accent", "panel"),
    ("accent-text", "accent"),
    ("ok", "ok-bg"),
    ("bad", "bad-bg"),
    ("run", "run-bg"),
    ("wait", "wait-bg"),
    ("off", "off-bg"),
    ("warn", "warn-bg"),
    ("pause", "pause-bg"),
]


@pytest.mark.parametrize(("text", "background"), PAIRS)
def test_palette_meets_wcag_aa_contrast(text: str, background: str) -> None:
    palette = dict(re.findall(r"--([\w-]+):\s*(#[0-9a-fA-F]{6})\s*;", (WEB_DIR / "app.css").read_text()))
    ratio = contrast(palette[text], palette[background])
    assert ratio >= 4.5, f"--{text} on --{background} has contrast {ratio:.2f}, under WCAG AA's 4.5"
