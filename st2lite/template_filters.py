"""StackStorm's Jinja filters and tests, registered by :func:`st2lite.templating.environment`.

Every filter is a plain function of its input (and arguments). A filter that
cannot do its job raises :class:`ValueError` with a message saying why; the
template renderer turns it into a :class:`~st2lite.exceptions.TemplateError`
naming the template.

Families (the names are StackStorm's, so pack templates work unchanged):

- data: ``to_json_string``, ``to_yaml_string``, ``from_json_string``,
  ``from_yaml_string``, ``json_escape``, ``jsonpath_query``, ``to_complex``,
  ``use_none``
- regex: ``regex_match``, ``regex_replace``, ``regex_search``, ``regex_substring``
- datastore and time: ``decrypt_kv``, ``to_human_time_from_seconds``
- version (semantic versioning 2.0.0): ``version_compare``,
  ``version_more_than``, ``version_less_than``, ``version_equal``,
  ``version_match``, ``version_bump_major``, ``version_bump_minor``,
  ``version_bump_patch``, ``version_strip_patch``
- path: ``basename``, ``dirname``
- test: ``in``

Versions are parsed here by a small semantic-versioning parser rather than
:mod:`packaging`: ``packaging.version.Version`` implements PEP 440, which
rejects valid semantic versions (``1.0.0-x.7.z.92``), accepts invalid ones
(``1.2``) and orders build metadata (``1.0.0+build``) above the bare release,
where semantic versioning ignores it.
"""

from __future__ import annotations

import datetime
import functools
import json
import math
import posixpath
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import jinja2
import yaml
from jsonpath_ng.ext.parser import parse as jsonpath_parse

from st2lite.templating import KvNamespace

__all__ = [
    "FILTERS",
    "NONE_MARKER",
    "TESTS",
    "Decryptor",
    "set_decryptor",
]

#: What ``use_none`` gives for ``None``. Jinja renders everything to text, so the
#: parameter renderer recognises this exact string and turns it back into ``None``.
NONE_MARKER = "@@st2lite:use_none@@"

#: Turns a datastore value as stored into clear text; given plain values it returns them unchanged.
Decryptor = Callable[[str], str]

_decryptor: Decryptor | None = None


# --- data ------------------------------------------------------------------------------------------


def _json_default(value: Any) -> Any:
    """Make the objects Jinja hands to filters JSON-encodable (``json.dumps(default=...)``)."""
    if isinstance(value, jinja2.Undefined):
        return str(value)  # StrictUndefined raises here, naming the missing variable
    if type(value) is KvNamespace:
        raise ValueError("st2kv.system and st2kv.user are namespaces; name a key, e.g. st2kv.system.my_key")
    if isinstance(value, KvNamespace):
        return str(value)  # a missing datastore key: the empty string, as in StackStorm
    if isinstance(value, datetime.date | datetime.time):
        return value.isoformat()
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, bytes):
        return value.decode("utf-8", errors="replace")
    if isinstance(value, Mapping):
        return dict(value)
    if isinstance(value, set | frozenset):
        return sorted(value, key=repr)
    if isinstance(value, Iterable):
        return list(value)
    return str(value)


def _plain(value: Any) -> Any:
    """``value`` as plain JSON types (dict, list, str, numbers, bool, None)."""
    return json.loads(json.dumps(value, default=_json_default))


def to_json_string(value: Any, indent: int | None = None, sort_keys: bool = False) -> str:
    """JSON text of ``value``; objects JSON cannot encode are converted (see ``to_complex``)."""
    return json.dumps(value, indent=indent, sort_keys=sort_keys, default=_json_default)


def to_yaml_string(value: Any, indent: int | None = None, allow_unicode: bool = True) -> str:
    """Block-style YAML text of ``value``, keys in their given order."""
    return yaml.safe_dump(
        _plain(value), default_flow_style=False, indent=indent, allow_unicode=allow_unicode, sort_keys=False
    )


def from_json_string(value: Any) -> Any:
    """Parse JSON text."""
    try:
        return json.loads(str(value))
    except ValueError as exc:
        raise ValueError(f"from_json_string: the input is not valid JSON ({exc})") from exc


def from_yaml_string(value: Any) -> Any:
    """Parse YAML text (safe loader: plain data only)."""
    try:
        return yaml.safe_load(str(value))
    except yaml.YAMLError as exc:
        raise ValueError(f"from_yaml_string: the input is not valid YAML ({exc})") from exc


def json_escape(value: Any) -> str:
    """``value`` as text escaped for use inside a JSON string literal (no surrounding quotes)."""
    return json.dumps(str(value), ensure_ascii=False)[1:-1]


@functools.lru_cache(maxsize=256)
def _jsonpath(query: str) -> Any:
    try:
        return jsonpath_parse(query)
    except Exception as exc:  # jsonpath-ng raises bare Exception subclasses for lexer and parser errors
        raise ValueError(f"jsonpath_query: {query!r} is not a valid JSONPath expression ({exc})") from exc


def jsonpath_query(value: Any, query: str) -> list[Any] | None:
    """Values in ``value`` matched by the JSONPath ``query`` (filters such as ``[?(@.x > 1)]`` work).

    Returns:
        The list of matches, or ``None`` when nothing matches (StackStorm's contract).
    """
    matches = [match.value for match in _jsonpath(query).find(_plain(value))]
    return matches or None


def to_complex(value: Any) -> str:
    """JSON text of any value, used for typed rendering: ``use_none``'s marker becomes ``null``."""
    if isinstance(value, str) and value == NONE_MARKER:
        return "null"
    return json.dumps(value, default=_json_default)


def use_none(value: Any) -> Any:
    """``None`` becomes :data:`NONE_MARKER`, which the parameter renderer turns into a real ``None``."""
    return NONE_MARKER if value is None else value


# --- regex -----------------------------------------------------------------------------------------


def _regex(pattern: str) -> re.Pattern[str]:
    try:
        return re.compile(pattern)
    except re.error as exc:
        raise ValueError(f"{pattern!r} is not a valid regular expression: {exc}") from exc


def regex_match(value: Any, pattern: str) -> bool:
    """True when ``pattern`` matches at the start of ``value``."""
    return _regex(pattern).match(str(value)) is not None


def regex_search(value: Any, pattern: str) -> bool:
    """True when ``pattern`` matches anywhere in ``value``."""
    return _regex(pattern).search(str(value)) is not None


def regex_replace(value: Any, pattern: str, replacement: str) -> str:
    """Replace every match of ``pattern``; ``replacement`` may use ``\\1`` group references."""
    return _regex(pattern).sub(replacement, str(value))


def regex_substring(value: Any, pattern: str, result_index: int = 0) -> Any:
    """The ``result_index``-th match of ``pattern`` in ``value`` (its group when the pattern has one)."""
    found = _regex(pattern).findall(str(value))
    try:
        return found[result_index]
    except IndexError:
        raise ValueError(
            f"regex_substring: {pattern!r} matched {len(found)} time(s), so there is no match at index {result_index}"
        ) from None


# --- datastore and time ----------------------------------------------------------------------------


def set_decryptor(fn: Decryptor | None) -> None:
    """Install the function ``decrypt_kv`` applies to datastore values (``None`` restores the identity).

    Processes that render templates install one with
    :func:`st2lite.datastore.install_decrypt_kv`; until then ``decrypt_kv``
    returns values unchanged.
    """
    global _decryptor
    _decryptor = fn


def decrypt_kv(value: Any) -> str:
    """Clear text of a datastore value (``{{ st2kv.system.token | decrypt_kv }}``).

    Raises:
        ValueError: the value is empty, which means the key does not exist.
    """
    text = "" if value is None else str(value)
    if not text:
        raise ValueError(
            "decrypt_kv got an empty value: the datastore key does not exist or is empty; "
            "store the secret in the datastore first"
        )
    return _decryptor(text) if _decryptor is not None else text


_TIME_UNITS = (("y", 365 * 86400), ("d", 86400), ("h", 3600), ("m", 60), ("s", 1))


def to_human_time_from_seconds(seconds: Any) -> str:
    """A duration as ``1y162d18h40m0s``: units from the largest non-zero one down, seconds rounded.

    Durations under a second are given in milliseconds (``250ms``).
    """
    if isinstance(seconds, bool) or not isinstance(seconds, int | float | str):
        raise ValueError(f"to_human_time_from_seconds expects a number of seconds, got {seconds!r}")
    try:
        amount = float(seconds)
    except ValueError:
        raise ValueError(f"to_human_time_from_seconds expects a number of seconds, got {seconds!r}") from None
    if not 0 <= amount < math.inf:
        raise ValueError(f"to_human_time_from_seconds expects a duration of zero or more, got {seconds!r}")
    if 0 < amount < 1:
        return f"{round(amount * 1000)}ms"
    remaining = round(amount)
    parts: list[str] = []
    for suffix, size in _TIME_UNITS:
        count, remaining = divmod(remaining, size)
        if count or parts or suffix == "s":
            parts.append(f"{count}{suffix}")
    return "".join(parts)


# --- semantic versions -----------------------------------------------------------------------------

_NUMBER = r"0|[1-9]\d*"
_IDENTIFIER = r"[0-9A-Za-z-]+"
_SEMVER = re.compile(
    rf"^(?P<major>{_NUMBER})\.(?P<minor>{_NUMBER})\.(?P<patch>{_NUMBER})"
    rf"(?:-(?P<pre>{_IDENTIFIER}(?:\.{_IDENTIFIER})*))?"
    rf"(?:\+(?P<build>{_IDENTIFIER}(?:\.{_IDENTIFIER})*))?$"
)
_LEADING_ZERO = re.compile(r"^0\d+$")


@dataclass(frozen=True)
class _SemVer:
    major: int
    minor: int
    patch: int
    prerelease: tuple[str, ...]

    @classmethod
    def parse(cls, text: Any) -> _SemVer:
        found = _SEMVER.match(str(text).strip())
        pre = tuple(found.group("pre").split(".")) if found and found.group("pre") else ()
        if found is None or any(_LEADING_ZERO.match(part) for part in pre):
            raise ValueError(f"{text!r} is not a semantic version (MAJOR.MINOR.PATCH, such as 1.4.0 or 2.0.0-rc.1)")
        return cls(int(found.group("major")), int(found.group("minor")), int(found.group("patch")), pre)

    def precedence(self) -> tuple[Any, ...]:
        """Sort key: a release follows its pre-releases; numeric identifiers sort below alphanumeric ones."""
        if not self.prerelease:
            return (self.major, self.minor, self.patch, (1,))
        parts = tuple((0, int(p), "") if p.isdigit() else (1, 0, p) for p in self.prerelease)
        return (self.major, self.minor, self.patch, (0, *parts))


def version_compare(value: Any, other: Any) -> int:
    """-1, 0 or 1 as ``value`` is lower than, equal to or higher than ``other`` (build metadata ignored)."""
    left, right = _SemVer.parse(value).precedence(), _SemVer.parse(other).precedence()
    return (left > right) - (left < right)


def version_more_than(value: Any, other: Any) -> bool:
    return version_compare(value, other) > 0


def version_less_than(value: Any, other: Any) -> bool:
    return version_compare(value, other) < 0


def version_equal(value: Any, other: Any) -> bool:
    return version_compare(value, other) == 0


_COMPARISONS: dict[str, Callable[[int], bool]] = {
    ">=": lambda c: c >= 0,
    "<=": lambda c: c <= 0,
    "==": lambda c: c == 0,
    "!=": lambda c: c != 0,
    ">": lambda c: c > 0,
    "<": lambda c: c < 0,
}
_MATCH_EXPR = re.compile(r"^\s*(>=|<=|==|!=|>|<)?\s*(\S+)\s*$")


def version_match(value: Any, expression: str) -> bool:
    """True when ``value`` satisfies ``expression``: an operator (>=, <=, ==, !=, >, <) and a version.

    Without an operator the versions must be equal.
    """
    found = _MATCH_EXPR.match(str(expression))
    if found is None:
        raise ValueError(f"version_match: {expression!r} is not '<operator><version>', such as '>=1.2.0'")
    operator = found.group(1) or "=="
    return _COMPARISONS[operator](version_compare(value, found.group(2)))


def version_bump_major(value: Any) -> str:
    version = _SemVer.parse(value)
    return f"{version.major + 1}.0.0"


def version_bump_minor(value: Any) -> str:
    version = _SemVer.parse(value)
    return f"{version.major}.{version.minor + 1}.0"


def version_bump_patch(value: Any) -> str:
    """The next patch release; a pre-release bumps past its release (``1.2.3-rc.1`` -> ``1.2.4``)."""
    version = _SemVer.parse(value)
    return f"{version.major}.{version.minor}.{version.patch + 1}"


def version_strip_patch(value: Any) -> str:
    version = _SemVer.parse(value)
    return f"{version.major}.{version.minor}"


# --- paths and tests -------------------------------------------------------------------------------


def basename(value: Any) -> str:
    """Last component of a POSIX path (``/a/b.txt`` -> ``b.txt``)."""
    return posixpath.basename(str(value))


def dirname(value: Any) -> str:
    """Everything but the last component of a POSIX path (``/a/b.txt`` -> ``/a``)."""
    return posixpath.dirname(str(value))


def _is_in(value: Any, container: Any) -> bool:
    return value in container


FILTERS: dict[str, Callable[..., Any]] = {
    "to_json_string": to_json_string,
    "to_yaml_string": to_yaml_string,
    "from_json_string": from_json_string,
    "from_yaml_string": from_yaml_string,
    "json_escape": json_escape,
    "jsonpath_query": jsonpath_query,
    "to_complex": to_complex,
    "use_none": use_none,
    "regex_match": regex_match,
    "regex_replace": regex_replace,
    "regex_search": regex_search,
    "regex_substring": regex_substring,
    "decrypt_kv": decrypt_kv,
    "to_human_time_from_seconds": to_human_time_from_seconds,
    "version_compare": version_compare,
    "version_more_than": version_more_than,
    "version_less_than": version_less_than,
    "version_equal": version_equal,
    "version_match": version_match,
    "version_bump_major": version_bump_major,
    "version_bump_minor": version_bump_minor,
    "version_bump_patch": version_bump_patch,
    "version_strip_patch": version_strip_patch,
    "basename": basename,
    "dirname": dirname,
}

TESTS: dict[str, Callable[..., bool]] = {"in": _is_in}
