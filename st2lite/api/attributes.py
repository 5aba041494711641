"""``include_attributes`` / ``exclude_attributes``: which fields of a returned object the caller wants (pure).

StackStorm's clients send comma-separated field names, with one level of dots
(``action.ref`` keeps ``{"action": {"ref": ...}}``) and sometimes the same name
twice. ``id`` is always kept, as upstream does: the st2 client's tables and
follow-up calls need it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

__all__ = ["Projection", "parse_fields", "project"]

#: Always in a projected object.
ALWAYS = ("id",)


def parse_fields(values: Iterable[str] | str | None) -> tuple[str, ...]:
    """``"a,b.c,a"`` (or several such strings) -> ``("a", "b.c")``: trimmed, empty parts and repeats dropped."""
    if values is None:
        return ()
    if isinstance(values, str):
        values = [values]
    seen: dict[str, None] = {}
    for value in values:
        for part in value.split(","):
            name = part.strip()
            if name:
                seen.setdefault(name, None)
    return tuple(seen)


def _split(names: Iterable[str]) -> dict[str, set[str] | None]:
    """``("a", "b.c", "b.d")`` -> ``{"a": None, "b": {"c", "d"}}`` (None: the whole field)."""
    out: dict[str, set[str] | None] = {}
    for name in names:
        top, _, sub = name.partition(".")
        sub = sub.partition(".")[0]  # one level of dots; deeper paths keep the second level whole
        if not sub or out.get(top, set()) is None:
            out[top] = None
        else:
            subs = out.setdefault(top, set())
            assert subs is not None
            subs.add(sub)
    return out


def project(item: Mapping[str, Any], include: Iterable[str] = (), exclude: Iterable[str] = ()) -> dict[str, Any]:
    """``item`` with only the ``include`` fields (all when empty) and without the ``exclude`` ones.

    A dotted name reaches one level into an object (``action.ref``); into
    anything else it keeps or drops the whole field. ``id`` is never dropped.
    """
    included = _split(include)
    excluded = _split(exclude)
    out: dict[str, Any] = {}
    for key, value in item.items():
        if included and key not in ALWAYS:
            if key not in included:
                continue
            subs = included[key]
            if subs is not None and isinstance(value, Mapping):
                value = {k: v for k, v in value.items() if k in subs}
        if key in excluded and key not in ALWAYS:
            drop = excluded[key]
            if drop is None or not isinstance(value, Mapping):
                continue
            value = {k: v for k, v in value.items() if k not in drop}
        out[key] = value
    return out


@dataclass(frozen=True)
class Projection:
    """The fields a request asked for (see :func:`project`); empty means the whole object."""

    include: tuple[str, ...] = ()
    exclude: tuple[str, ...] = ()

    def __bool__(self) -> bool:
        return bool(self.include or self.exclude)

    def apply(self, item: Mapping[str, Any]) -> dict[str, Any]:
        return project(item, self.include, self.exclude) if self else dict(item)

    def apply_all(self, items: list[dict[str, Any]]) -> list[dict[str, Any]]:
        return [project(item, self.include, self.exclude) for item in items] if self else items
