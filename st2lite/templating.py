"""Sandboxed Jinja templating for criteria patterns and action parameters.

One environment for the whole process: sandboxed (templates cannot reach
Python internals), ``StrictUndefined`` (a misspelt variable is an error, not an
empty string), with StackStorm's filters (:mod:`st2lite.template_filters`).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from functools import lru_cache
from typing import Any

import jinja2
from jinja2.sandbox import SandboxedEnvironment

from st2lite.exceptions import TemplateError

__all__ = [
    "KvLookup",
    "KvNamespace",
    "check_syntax",
    "environment",
    "has_template",
    "render_template",
    "render_typed",
]

#: Reads a datastore value: ``(scope, name) -> value or None``; scope is ``system`` or ``user:<name>``.
KvLookup = Callable[[str, str], "str | None"]

_MARKERS = ("{{", "{%")
_WHOLE_EXPR = re.compile(r"^\s*\{\{(.*)\}\}\s*$", re.DOTALL)


def has_template(value: object) -> bool:
    """True when ``value`` is a string containing Jinja syntax."""
    return isinstance(value, str) and any(m in value for m in _MARKERS)


class KvNamespace(Mapping[str, Any]):
    """``st2kv.system`` / ``st2kv.user``: attribute or item access reads the datastore.

    A missing key renders as the empty string, as in StackStorm. Dotted names
    (``st2kv.system.app.token``) are looked up as one key ``app.token``.
    """

    def __init__(self, lookup: KvLookup, scope: str, prefix: str = "") -> None:
        self._lookup = lookup
        self._scope = scope
        self._prefix = prefix

    def _get(self, name: str) -> Any:
        key = self._prefix + name
        value = self._lookup(self._scope, key)
        if value is None:
            return _KvMissing(self._lookup, self._scope, key + ".")
        return value

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_"):
            raise AttributeError(name)
        return self._get(name)

    def __getitem__(self, name: str) -> Any:
        return self._get(name)

    def __iter__(self) -> Any:
        return iter(())

    def __len__(self) -> int:
        return 0


class _KvMissing(KvNamespace):
    """A datastore key that does not exist: renders as "", but can still be a prefix of a dotted key."""

    def __str__(self) -> str:
        return ""

    def __bool__(self) -> bool:
        return False

    def __eq__(self, other: object) -> bool:
        return other == "" or other is None

    def __hash__(self) -> int:
        return hash("")


def kv_context(lookup: KvLookup, *, user: str | None = None) -> dict[str, Any]:
    """Build the ``st2kv`` template variable."""
    ns: dict[str, Any] = {"system": KvNamespace(lookup, "system")}
    if user:
        ns["user"] = KvNamespace(lookup, f"user:{user}")
    return ns


@lru_cache(maxsize=1)
def environment() -> SandboxedEnvironment:
    """The process-wide sandboxed environment with StackStorm's filters."""
    from st2lite.template_filters import FILTERS, TESTS

    env = SandboxedEnvironment(undefined=jinja2.StrictUndefined, autoescape=False, keep_trailing_newline=False)
    env.filters.update(FILTERS)
    env.tests.update(TESTS)
    return env


@lru_cache(maxsize=4096)
def _compile(source: str) -> jinja2.Template:
    try:
        return environment().from_string(source)
    except jinja2.TemplateSyntaxError as exc:
        raise TemplateError(f"template {source!r} is not valid Jinja: {exc.message} (line {exc.lineno})") from exc


def check_syntax(source: str) -> None:
    """Raise :class:`TemplateError` when ``source`` is not valid Jinja (checked at load time)."""
    _compile(source)


def render_template(source: str, context: Mapping[str, Any]) -> str:
    """Render ``source`` to a string; errors become :class:`TemplateError` naming the template."""
    try:
        return _compile(source).render(context)
    except TemplateError:
        raise
    except jinja2.UndefinedError as exc:
        raise TemplateError(f"template {source!r}: {exc.message}") from exc
    except Exception as exc:  # any error raised inside a filter or expression
        raise TemplateError(f"template {source!r} failed: {type(exc).__name__}: {exc}") from exc


def render_typed(source: str, context: Mapping[str, Any]) -> Any:
    """Render keeping the type of a whole-value expression (StackStorm's typed rendering).

    ``"{{ trigger.count }}"`` gives the integer, ``"{{ trigger.flag }}"`` the
    boolean and ``"{{ trigger.items }}"`` the list: the expression is rendered
    through ``to_complex`` (JSON) and decoded. Text around an expression, or a
    result that is not JSON, gives the plain string render.
    """
    if not has_template(source):
        return source
    whole = _WHOLE_EXPR.match(source)
    if whole and "}}" not in whole.group(1):
        try:
            rendered = render_template("{{ (" + whole.group(1) + ") | to_complex }}", context)
        except TemplateError:
            # Render again as written, so the message quotes the user's own template.
            rendered = render_template(source, context)
    else:
        rendered = render_template(source, context)
    try:
        return json.loads(rendered)
    except ValueError:
        return rendered
