"""StackStorm's criteria operators: ``name -> (value, pattern) -> bool``.

``value`` is what the criteria key selected in the payload (``None`` when
nothing), ``pattern`` the criterion's (rendered) pattern. The semantics are
StackStorm's, including its edges:

* Only ``bytes`` are converted (decoded as UTF-8), on either side; there is no
  other coercion: ``"1"`` does not equal ``1``. Python's own equality still
  applies, so ``1 == 1.0`` and, as ``bool`` is a subclass of ``int``,
  ``True == 1`` and ``False == 0``, exactly as in StackStorm.
* A ``None`` pattern never matches, except for ``nequals`` (``value != None``)
  and ``exists``/``nexists``, which ignore the pattern.
* A value and pattern the operation cannot handle (``"a" < 1``, ``iequals`` on
  a number, ``contains`` on a missing key) raise :class:`MatchError` with the
  reason, which the rules engine records as a failed enforcement.

One deliberate difference: ``timediff_lt``/``timediff_gt`` compare the whole
age of the date in seconds, where StackStorm compares the seconds *within the
last day* of the difference (``timedelta.seconds``), which wraps around daily.

``search`` is a known name but needs child criteria, so :mod:`st2lite.criteria`
evaluates it; calling its entry here raises.
"""

from __future__ import annotations

import fnmatch
import re
import reprlib
from collections.abc import Callable
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any

from dateutil import parser as date_parser

from st2lite.exceptions import MatchError, UnknownOperatorError

__all__ = ["OPERATORS", "SEARCH", "Operator", "canonical_name", "describe", "get_operator"]

#: An operator: ``(value, pattern) -> matched``; raises :class:`MatchError` when it cannot compare them.
Operator = Callable[[Any, Any], bool]

#: Explains why an operation failed: ``(value, pattern, error) -> reason``.
_Complaint = Callable[[Any, Any, Exception], str]

#: The operator that applies child criteria to list items (evaluated by :mod:`st2lite.criteria`).
SEARCH = "search"

_SHORT = reprlib.Repr()
_SHORT.maxstring = 60
_SHORT.maxother = 60


def describe(value: Any) -> str:
    """``value`` for an error message: its type and a shortened repr (``str 'a'``, ``int 1``, ``None``)."""
    if value is None:
        return "None"
    return f"{type(value).__name__} {_SHORT.repr(value)}"


def _decode(name: str, data: bytes) -> str:
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise MatchError(f"operator '{name}' cannot decode {describe(data)} as UTF-8") from exc


def _operator(name: str, test: Operator, complaint: _Complaint, *, none_never_matches: bool = True) -> Operator:
    """Wrap ``test`` with StackStorm's shared rules: bytes decoding, the ``None`` pattern guard, errors."""

    def operator(value: Any, pattern: Any) -> bool:
        if pattern is None and none_never_matches:
            return False
        if isinstance(value, bytes):
            value = _decode(name, value)
        if isinstance(pattern, bytes):
            pattern = _decode(name, pattern)
        try:
            return test(value, pattern)
        except (TypeError, AttributeError, ValueError, OverflowError, re.error) as exc:
            raise MatchError(f"operator '{name}' {complaint(value, pattern, exc)}") from exc

    operator.__name__ = operator.__qualname__ = name
    return operator


def _cannot_compare(value: Any, pattern: Any, _: Exception) -> str:
    return f"cannot compare {describe(value)} with {describe(pattern)}"


def _needs_strings(value: Any, pattern: Any, _: Exception) -> str:
    return f"needs a string value and a string pattern, got {describe(value)} and {describe(pattern)}"


def _cannot_find_pattern(value: Any, pattern: Any, _: Exception) -> str:
    return f"cannot look for {describe(pattern)} in {describe(value)}"


def _cannot_find_value(value: Any, pattern: Any, _: Exception) -> str:
    return f"cannot look for {describe(value)} in {describe(pattern)}"


def _bad_regex(value: Any, pattern: Any, exc: Exception) -> str:
    if isinstance(exc, re.error):
        return f"pattern {pattern!r} is not a valid regular expression: {exc}"
    return _needs_strings(value, pattern, exc)


def _bad_timediff(value: Any, pattern: Any, _: Exception) -> str:
    return (
        "needs a date (ISO 8601, naive means UTC) as value and a number of seconds as pattern, "
        f"got {describe(value)} and {describe(pattern)}"
    )


@lru_cache(maxsize=4096)
def _regex(pattern: str, flags: int) -> re.Pattern[str]:
    return re.compile(pattern, flags)


def _age_seconds(value: Any) -> float:
    """Seconds from the date ``value`` (ISO 8601 string or datetime; naive is UTC) until now."""
    if isinstance(value, datetime):
        moment = value
    elif isinstance(value, str):
        try:
            moment = datetime.fromisoformat(value)
        except ValueError:
            moment = date_parser.parse(value)  # RFC 2822 and other formats, as StackStorm's fallback
    else:
        raise TypeError(f"not a date: {value!r}")
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return (datetime.now(UTC) - moment).total_seconds()


def _seconds(pattern: Any) -> float:
    """A number of seconds: an int, a float or a numeric string (the web UI sends strings)."""
    if isinstance(pattern, bool):
        raise TypeError("a boolean is not a number of seconds")
    return float(pattern)


def _search_needs_criteria(value: Any, pattern: Any) -> bool:
    raise MatchError("operator 'search' needs child criteria; evaluate it with st2lite.criteria")


def _exists(value: Any, pattern: Any) -> bool:
    return value is not None


def _nexists(value: Any, pattern: Any) -> bool:
    return value is None


# Each operator under its canonical name and its aliases.
_TABLE: tuple[tuple[tuple[str, ...], Operator], ...] = (
    (("equals", "eq"), _operator("equals", lambda v, p: v == p, _cannot_compare)),
    (
        ("nequals", "neq"),
        _operator("nequals", lambda v, p: v != p, _cannot_compare, none_never_matches=False),
    ),
    (("iequals", "ieq"), _operator("iequals", lambda v, p: v.lower() == p.lower(), _needs_strings)),
    (("contains",), _operator("contains", lambda v, p: p in v, _cannot_find_pattern)),
    (("ncontains",), _operator("ncontains", lambda v, p: p not in v, _cannot_find_pattern)),
    (("icontains",), _operator("icontains", lambda v, p: p.lower() in v.lower(), _needs_strings)),
    (("incontains",), _operator("incontains", lambda v, p: p.lower() not in v.lower(), _needs_strings)),
    (("startswith",), _operator("startswith", lambda v, p: v.startswith(p), _needs_strings)),
    (
        ("istartswith",),
        _operator("istartswith", lambda v, p: v.lower().startswith(p.lower()), _needs_strings),
    ),
    (("endswith",), _operator("endswith", lambda v, p: v.endswith(p), _needs_strings)),
    (("iendswith",), _operator("iendswith", lambda v, p: v.lower().endswith(p.lower()), _needs_strings)),
    (("lessthan", "lt"), _operator("lessthan", lambda v, p: v < p, _cannot_compare)),
    (("greaterthan", "gt"), _operator("greaterthan", lambda v, p: v > p, _cannot_compare)),
    (("matchwildcard",), _operator("matchwildcard", fnmatch.fnmatchcase, _needs_strings)),
    (
        ("matchregex",),
        _operator("matchregex", lambda v, p: _regex(p, re.DOTALL).match(v) is not None, _bad_regex),
    ),
    (("regex",), _operator("regex", lambda v, p: _regex(p, 0).search(v) is not None, _bad_regex)),
    (
        ("iregex",),
        _operator("iregex", lambda v, p: _regex(p, re.IGNORECASE).search(v) is not None, _bad_regex),
    ),
    (
        ("timediff_lt", "td_lt"),
        _operator("timediff_lt", lambda v, p: _age_seconds(v) < _seconds(p), _bad_timediff),
    ),
    (
        ("timediff_gt", "td_gt"),
        _operator("timediff_gt", lambda v, p: _age_seconds(v) > _seconds(p), _bad_timediff),
    ),
    (("exists",), _exists),
    (("nexists",), _nexists),
    (("inside", "in"), _operator("inside", lambda v, p: v in p, _cannot_find_value)),
    (("ninside", "nin"), _operator("ninside", lambda v, p: v not in p, _cannot_find_value)),
    ((SEARCH,), _search_needs_criteria),
)

#: Every operator name and alias (lower case) -> its function; aliases share their operator's function.
OPERATORS: dict[str, Operator] = {name: function for names, function in _TABLE for name in names}

_CANONICAL: dict[str, str] = {name: names[0] for names, _ in _TABLE for name in names}


def get_operator(name: str) -> Operator:
    """The operator called ``name``, in any letter case (``EQUALS``, ``eq``).

    Raises:
        UnknownOperatorError: no operator has that name; the message lists them all.
    """
    try:
        return OPERATORS[name.lower()]
    except KeyError:
        raise UnknownOperatorError(name, list(OPERATORS)) from None


def canonical_name(name: str) -> str:
    """The canonical name of operator ``name`` or an alias (``eq`` -> ``equals``), in any letter case.

    Raises:
        UnknownOperatorError: no operator has that name.
    """
    get_operator(name)
    return _CANONICAL[name.lower()]
