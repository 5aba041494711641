"""Query-string values every list endpoint reads the same way (StackStorm's conventions).

- ``limit``: a positive number, or ``-1`` for all; ``0`` and other negatives
  are a 400. Lists of stored records (executions, trigger instances, rule
  enforcements) give at most :data:`MAX_PAGE` per request even for ``-1``;
  lists of registered content (actions, rules, packs...) have no cap.
- ``offset``: how many matching items to skip.
- ``include_attributes`` / ``exclude_attributes``: see :mod:`st2lite.api.attributes`.
- booleans: ``True``/``False`` in any case (the st2 client sends Python's ``str(bool)``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Annotated, Any, TypeVar

from fastapi import Depends, Query, Response

from st2lite.api.attributes import Projection, parse_fields
from st2lite.api.errors import ApiError

__all__ = [
    "MAX_PAGE",
    "BoolQuery",
    "FieldsDep",
    "TimeQuery",
    "Page",
    "page_size",
    "paging",
    "parse_bool",
    "parse_time",
]

#: Most items one list request returns from stored records.
MAX_PAGE = 1000
#: The largest ``offset`` (Redis takes 64-bit ranges; nobody pages a billion items).
MAX_OFFSET = 1_000_000_000
#: ``limit`` when a request gives none: StackStorm's spec default, and the st2 client's for its paged lists.
DEFAULT_LIMIT = 100
CLIENT_LIMIT = 50

_T = TypeVar("_T")
_TRUE = frozenset({"true", "1", "yes"})
_FALSE = frozenset({"false", "0", "no"})


def parse_time(value: str | None, name: str) -> datetime | None:
    """``timestamp_gt``/``timestamp_lt``: an ISO 8601 time (``Z`` allowed; UTC when it names no zone), or None
    when not given."""
    if not value:
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError as exc:
        raise ApiError(400, f"{name} must be an ISO 8601 time such as 2026-01-01T00:00:00Z, got {value!r}") from exc
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=UTC)


def parse_bool(value: str | None, name: str) -> bool | None:
    """``True``/``False`` (any case, also ``1``/``0``, ``yes``/``no``), or None when not given; else a 400."""
    if value is None or value == "":
        return None
    text = value.lower()
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    raise ApiError(400, f"{name} must be True or False, got {value!r}")


def page_size(limit: int) -> int:
    """``limit`` for stored records: a positive number (capped at :data:`MAX_PAGE`), or -1 for :data:`MAX_PAGE`."""
    if limit == 0 or limit < -1:
        raise ApiError(400, "limit must be a positive number, or -1 for all")
    return MAX_PAGE if limit == -1 else min(limit, MAX_PAGE)


@dataclass(frozen=True)
class Page:
    """A checked ``limit`` (``None``: all) and ``offset``."""

    limit: int | None
    offset: int = 0

    @property
    def size(self) -> int:
        """The page size for stored records: the limit, at most :data:`MAX_PAGE`."""
        return MAX_PAGE if self.limit is None else min(self.limit, MAX_PAGE)

    def cut(self, items: list[_T]) -> list[_T]:
        """This page of ``items`` (already filtered and ordered)."""
        end = None if self.limit is None else self.offset + self.limit
        return items[self.offset : end]

    def headers(self, response: Response, total: int) -> None:
        """``X-Total-Count`` (every match, before ``limit``) and ``X-Limit``, as StackStorm sends them."""
        response.headers["X-Total-Count"] = str(total)
        response.headers["X-Limit"] = str(-1 if self.limit is None else self.limit)


def paging(default: int) -> Any:
    """A dependency giving the request's :class:`Page`; ``limit`` defaults to ``default``."""

    async def _page(
        limit: Annotated[
            int,
            Query(
                description="How many items to return; -1 for all. 0 or below -1 is an error (400).",
                # documented, checked below with the message StackStorm users know
                json_schema_extra={"minimum": -1, "not": {"const": 0}},
            ),
        ] = default,
        offset: Annotated[int, Query(ge=0, le=MAX_OFFSET, description="How many matching items to skip.")] = 0,
    ) -> Page:
        if limit == 0 or limit < -1:
            raise ApiError(400, "limit must be a positive number, or -1 for all")
        return Page(limit=None if limit == -1 else limit, offset=offset)

    return Depends(_page)


async def _fields(
    include_attributes: Annotated[
        list[str] | None,
        Query(description="Comma-separated fields to return (one level of dots: action.ref); id is always returned."),
    ] = None,
    exclude_attributes: Annotated[
        list[str] | None, Query(description="Comma-separated fields to leave out (one level of dots).")
    ] = None,
) -> Projection:
    return Projection(include=parse_fields(include_attributes), exclude=parse_fields(exclude_attributes))


#: The request's ``include_attributes`` / ``exclude_attributes``.
FieldsDep = Annotated[Projection, Depends(_fields)]


#: A query boolean: ``True``/``False`` in any case, ``1``/``0``, ``yes``/``no`` (checked by :func:`parse_bool`).
BoolQuery = Annotated[
    str | None,
    Query(
        description="True or False (any case)",
        json_schema_extra={"pattern": "^([Tt][Rr][Uu][Ee]|[Ff][Aa][Ll][Ss][Ee]|1|0|[Yy][Ee][Ss]|[Nn][Oo])?$"},
    ),
]
#: A query time: ISO 8601 (checked by :func:`parse_time`; UTC when it names no zone).
TimeQuery = Annotated[
    str | None, Query(description="ISO 8601 time, e.g. 2026-01-01T00:00:00Z", json_schema_extra={"format": "date-time"})
]
