"""Criteria key addressing: from ``trigger.body.alerts[0].labels.name`` to a value in the payload.

A criteria key is a JSONPath expression whose first name is the root it
addresses: ``trigger`` (the trigger payload) in a rule's criteria, ``item``
(each list element) in the child criteria of a ``search``. Everything from
the first ``#`` is stripped first, so one field can carry several criteria
(``trigger.count`` and ``trigger.count#max``).

Two evaluation strategies, chosen once at compile time:

* **Fast path** for the forms rules actually use: dotted names (hyphens
  allowed, ``trigger.headers.Content-Type``), quoted names (``trigger."a.b"``,
  ``trigger.'a.b'``, ``trigger["a.b"]``), list indexes (``[0]``, ``[-1]``) and
  wildcards (``[*]``, ``.*``). The key becomes a tuple of steps walked with
  plain dict/list access.
* **jsonpath-ng fallback** for everything else (recursive descent ``..``,
  slices ``[1:3]``, unions ``[0,2]``, escaped quotes, ``where`` ...), parsed
  once and evaluated against ``{root: payload}``.

Both follow the same rules (RFC 9535, as jsonpath-ng does): a name selects a
member of an object, an index an element of a list, a wildcard every element
of a list or every member value of an object; anything else selects nothing.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Mapping
from functools import lru_cache
from typing import Any, Final

from jsonpath_ng.parser import parse as jsonpath_parse

from st2lite.exceptions import ContentError

__all__ = ["PayloadPath", "compile_path"]


class _Wildcard:
    """The ``[*]`` / ``.*`` step."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "*"


_WILDCARD: Final = _Wildcard()

# What each root names, for error messages.
_ROOTS: Final = {"trigger": "the trigger payload", "item": "each element of the searched list"}

# One step of the fast path, matched at the current position of the key.
_STEP = re.compile(
    r"""
      \.(?P<name>[A-Za-z_@][A-Za-z0-9_@\-]*|\d+)
    | \."(?P<dq>[^"\\]*)"
    | \.'(?P<sq>[^'\\]*)'
    | \[(?P<index>-?\d+)\]
    | \["(?P<bdq>[^"\\]*)"\]
    | \['(?P<bsq>[^'\\]*)'\]
    | (?P<star>\.\*|\[\*\])
    """,
    re.VERBOSE,
)

#: A fast-path step: a member name, a list index or the wildcard.
Step = str | int | _Wildcard


class PayloadPath:
    """A compiled criteria key; :meth:`first` reads its value from a payload.

    Attributes:
        key: the key as written, ``#`` suffix included.
        expression: the key without its ``#`` suffix.
        root: the root name the key starts with (``trigger`` or ``item``).
        steps: the fast-path steps (``str`` name, ``int`` index, wildcard), or
            ``None`` when the key is evaluated by jsonpath-ng.
    """

    __slots__ = ("_jsonpath", "_walk", "expression", "getter", "key", "root", "steps")

    def __init__(self, key: str, expression: str, root: str, steps: tuple[Step, ...] | None) -> None:
        self.key = key
        self.expression = expression
        self.root = root
        self.steps = steps
        # Paths without wildcards (nearly all of them) are walked by a plain loop.
        self._walk: tuple[str | int, ...] | None = None
        if steps is not None and _WILDCARD not in steps:
            self._walk = tuple(step for step in steps if not isinstance(step, _Wildcard))
        self._jsonpath: Any = jsonpath_parse(expression) if steps is None else None
        #: :meth:`first`, or the same read specialised for a one-member key (``trigger.status``, the common
        #: case): criteria call it for every candidate rule of every trigger instance.
        self.getter: Callable[[Any], Any] = self.first
        if self._walk is not None and len(self._walk) == 1 and isinstance(self._walk[0], str):
            self.getter = _member_getter(self._walk[0])

    def first(self, payload: Any) -> Any:
        """The first value the key selects in ``payload`` (the root's value), or ``None`` if none."""
        if self._walk is not None:
            value = payload
            for step in self._walk:
                if isinstance(step, str):
                    if not isinstance(value, (dict, Mapping)):
                        return None
                    value = value.get(step)
                    if value is None:
                        return None
                elif isinstance(value, (list, tuple)):
                    try:
                        value = value[step]
                    except IndexError:
                        return None
                else:
                    return None
            return value
        if self.steps is not None:
            return next(_matches(payload, self.steps, 0), None)
        for match in self._jsonpath.find({self.root: payload}):
            return match.value
        return None

    def __repr__(self) -> str:
        how = "fast" if self.steps is not None else "jsonpath-ng"
        return f"PayloadPath({self.key!r}, {how})"


def _member_getter(name: str) -> Callable[[Any], Any]:
    """``PayloadPath.first`` for the key ``<root>.<name>``."""

    def member(payload: Any) -> Any:
        return payload.get(name) if isinstance(payload, (dict, Mapping)) else None

    return member


def _matches(value: Any, steps: tuple[Step, ...], start: int) -> Iterator[Any]:
    """Every value ``steps[start:]`` selects in ``value``, in document order.

    Unlike the simple walk, a member present with a ``null`` value is a match
    here: ``items[*].id`` over ``[{"id": null}, {"id": 2}]`` selects ``None`` first.
    """
    for position in range(start, len(steps)):
        step = steps[position]
        if isinstance(step, _Wildcard):
            if isinstance(value, (list, tuple)):
                children: Any = value
            elif isinstance(value, Mapping):
                children = value.values()
            else:
                return
            for child in children:
                yield from _matches(child, steps, position + 1)
            return
        if isinstance(step, str):
            if not isinstance(value, Mapping) or step not in value:
                return
            value = value[step]
        elif isinstance(value, (list, tuple)) and -len(value) <= step < len(value):
            value = value[step]
        else:
            return
    yield value


def _fast_steps(path: str, start: int) -> tuple[Step, ...] | None:
    """The steps of ``path[start:]``, or ``None`` if it uses a form only jsonpath-ng knows."""
    steps: list[Step] = []
    position = start
    while position < len(path):
        match = _STEP.match(path, position)
        if match is None:
            return None
        kind = match.lastgroup
        text = match.group(kind or 0)
        if kind == "index":
            steps.append(int(text))
        elif kind == "star":
            steps.append(_WILDCARD)
        else:
            steps.append(text)
        position = match.end()
    return tuple(steps)


@lru_cache(maxsize=8192)
def compile_path(key: str, root: str = "trigger") -> PayloadPath:
    """Compile a criteria key; cached, so compiling the same key twice is free.

    Args:
        key: the key as written in the rule, e.g. ``trigger.body.alerts[0].value#max``.
        root: the name the key must start with: ``trigger`` for rule criteria,
            ``item`` for the child criteria of a ``search``.

    Raises:
        ContentError: the key does not start with ``<root>.`` or is not a valid path.
    """
    expression = key.split("#", 1)[0]
    after = expression[len(root) : len(root) + 1]
    if not expression.startswith(root) or after not in ("", ".", "["):
        addresses = _ROOTS.get(root, f"the {root} value")
        raise ContentError(
            f"criteria {key!r}: keys must start with '{root}.' ({root} is {addresses}); did you mean '{root}.{key}'?"
        )
    steps = _fast_steps(expression, len(root))
    if steps is not None:
        return PayloadPath(key, expression, root, steps)
    try:
        return PayloadPath(key, expression, root, None)
    except Exception as exc:  # jsonpath-ng raises its own lexer/parser errors and plain Exceptions
        raise ContentError(
            f"criteria {key!r}: not a valid path ({exc}); use dotted names, [n] indexes, [*] "
            f'wildcards and quoted names such as {root}."a.b"'
        ) from exc
