"""A fast "certainly valid" check for the common subset of JSON schema (draft 4), pure.

jsonschema costs 10-40 µs per payload of a few properties, as much as
publishing it: the dispatch path (sensors, webhooks) checks every payload.
:func:`compile_check` turns a schema that uses only the keywords below into a
plain Python predicate that runs in a few µs. The predicate is never laxer
than jsonschema's ``Draft4Validator``: where it says True, jsonschema finds no
error; where it says False (or the schema uses anything else, and
:func:`compile_check` returns None), the caller asks jsonschema, which decides
and words the error. So a doubtful case (``1.0`` in an ``enum`` of ``[1]``)
simply goes the slow way.

Supported: ``type`` (a name or a list), ``properties``, ``required`` (a list),
``additionalProperties`` (a boolean or a schema, without ``patternProperties``),
``items`` (one schema), ``enum``, ``minimum``/``maximum`` (without the
``exclusive*`` flags), ``minLength``/``maxLength``, ``minItems``/``maxItems``,
``pattern``, and the annotations jsonschema does not check (``title``,
``description``, ``default``, ``examples``, ``format``, ``$schema``, ``id``,
``$comment``).
"""

from __future__ import annotations

import numbers
import re
from collections.abc import Callable
from typing import Any

__all__ = ["Check", "compile_check"]

#: True when the value certainly satisfies the schema (False: ask jsonschema).
Check = Callable[[Any], bool]

_ANNOTATIONS = frozenset({"title", "description", "default", "examples", "format", "$schema", "id", "$comment"})


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _other_number(value: Any) -> bool:
    """A number jsonschema would bound-check that is no int or float (``Decimal``, ``Fraction``): doubtful."""
    return isinstance(value, numbers.Number) and not isinstance(value, bool | int | float)


_TYPES: dict[str, Check] = {
    "object": lambda v: isinstance(v, dict),
    "array": lambda v: isinstance(v, list),
    "string": lambda v: isinstance(v, str),
    "integer": lambda v: isinstance(v, int) and not isinstance(v, bool),  # draft 4: 1.0 is not an integer
    "number": _is_number,
    "boolean": lambda v: isinstance(v, bool),
    "null": lambda v: v is None,
}


class _Unsupported(Exception):
    """The schema uses something outside the subset."""


def compile_check(schema: Any) -> Check | None:
    """A predicate for ``schema``, or None when it uses anything outside the subset (or is malformed)."""
    try:
        return _compile(schema)
    except _Unsupported:
        return None


def _compile(schema: Any) -> Check:
    if not isinstance(schema, dict):
        raise _Unsupported
    checks: list[Check] = []
    for keyword, value in schema.items():
        if keyword in _ANNOTATIONS:
            continue
        builder = _KEYWORDS.get(keyword)
        if builder is None:
            raise _Unsupported
        checks.append(builder(value, schema))
    if not checks:
        return lambda _v: True
    if len(checks) == 1:
        return checks[0]
    return lambda v: all(check(v) for check in checks)


def _type(value: Any, _schema: dict[str, Any]) -> Check:
    names = [value] if isinstance(value, str) else value
    if not isinstance(names, list) or not names or any(n not in _TYPES for n in names):
        raise _Unsupported
    tests = [_TYPES[n] for n in names]
    if len(tests) == 1:
        return tests[0]
    return lambda v: any(test(v) for test in tests)


def _properties(value: Any, _schema: dict[str, Any]) -> Check:
    if not isinstance(value, dict):
        raise _Unsupported
    subs = {name: _compile(sub) for name, sub in value.items()}

    def check(v: Any) -> bool:
        return not isinstance(v, dict) or all(sub(v[name]) for name, sub in subs.items() if name in v)

    return check


def _required(value: Any, _schema: dict[str, Any]) -> Check:
    if not isinstance(value, list) or not all(isinstance(n, str) for n in value):
        raise _Unsupported  # draft 3's ``required: true`` and the like: jsonschema decides
    names = tuple(value)
    return lambda v: not isinstance(v, dict) or all(n in v for n in names)


def _additional(value: Any, schema: dict[str, Any]) -> Check:
    if "patternProperties" in schema:
        raise _Unsupported
    declared = schema.get("properties", {})
    if not isinstance(declared, dict):
        raise _Unsupported
    known = frozenset(declared)
    if value is True:
        return lambda _v: True
    if value is False:
        return lambda v: not isinstance(v, dict) or known.issuperset(v)
    sub = _compile(value)
    return lambda v: not isinstance(v, dict) or all(sub(item) for name, item in v.items() if name not in known)


def _items(value: Any, _schema: dict[str, Any]) -> Check:
    sub = _compile(value)  # the tuple form (a list of schemas) is not supported
    return lambda v: not isinstance(v, list) or all(sub(item) for item in v)


def _enum(value: Any, _schema: dict[str, Any]) -> Check:
    if not isinstance(value, list):
        raise _Unsupported
    # Scalars of the same type and equal: stricter than jsonschema (which takes 1.0 for 1), never laxer.
    # Arrays and objects are left to jsonschema (Python's == takes [True] for [1]; jsonschema does not).
    options = [(type(option), option) for option in value if isinstance(option, str | int | float) or option is None]
    return lambda v: any(type(v) is kind and v == option for kind, option in options)


def _bound(keyword: str) -> Callable[[Any, dict[str, Any]], Check]:
    def build(value: Any, schema: dict[str, Any]) -> Check:
        if not _is_number(value) or "exclusiveMinimum" in schema or "exclusiveMaximum" in schema:
            raise _Unsupported
        if keyword == "minimum":
            return lambda v: v >= value if _is_number(v) else not _other_number(v)
        return lambda v: v <= value if _is_number(v) else not _other_number(v)

    return build


def _length(kind: type[str] | type[list[Any]], low: bool) -> Callable[[Any, dict[str, Any]], Check]:
    def build(value: Any, _schema: dict[str, Any]) -> Check:
        if not isinstance(value, int) or isinstance(value, bool) or value < 0:
            raise _Unsupported
        if low:
            return lambda v: not isinstance(v, kind) or len(v) >= value
        return lambda v: not isinstance(v, kind) or len(v) <= value

    return build


def _pattern(value: Any, _schema: dict[str, Any]) -> Check:
    if not isinstance(value, str):
        raise _Unsupported
    try:
        compiled = re.compile(value)
    except re.error:
        raise _Unsupported from None
    return lambda v: not isinstance(v, str) or compiled.search(v) is not None


_KEYWORDS: dict[str, Callable[[Any, dict[str, Any]], Check]] = {
    "type": _type,
    "properties": _properties,
    "required": _required,
    "additionalProperties": _additional,
    "items": _items,
    "enum": _enum,
    "minimum": _bound("minimum"),
    "maximum": _bound("maximum"),
    "minLength": _length(str, True),
    "maxLength": _length(str, False),
    "minItems": _length(list, True),
    "maxItems": _length(list, False),
    "pattern": _pattern,
}
