"""``include_attributes`` / ``exclude_attributes`` and paging: pure helpers."""

from __future__ import annotations

from typing import Any

import pytest

from st2lite.api.attributes import Projection, parse_fields, project
from st2lite.api.queries import Page

EXECUTION: dict[str, Any] = {
    "id": "6650f0c2a1b2c3d4e5f60a01",
    "action": {"ref": "core.local", "runner_type": "local-shell-cmd", "parameters": {"cmd": {"type": "string"}}},
    "context": {"user": "st2admin", "pack": "core"},
    "status": "succeeded",
    "result": {"stdout": "hi"},
    "log": [{"status": "requested"}],
}


def test_parse_fields_splits_trims_and_drops_repeats() -> None:
    assert parse_fields("a, b.c,,a") == ("a", "b.c")
    assert parse_fields(["a,b", "b,c"]) == ("a", "b", "c")
    assert parse_fields(None) == ()
    assert parse_fields("") == ()


def test_include_keeps_the_named_fields_and_always_the_id() -> None:
    assert project(EXECUTION, ["status"]) == {"id": EXECUTION["id"], "status": "succeeded"}


def test_include_reaches_one_level_into_objects() -> None:
    projected = project(EXECUTION, ["action.ref", "context.user", "status", "action.runner_type"])

    assert projected == {
        "id": EXECUTION["id"],
        "action": {"ref": "core.local", "runner_type": "local-shell-cmd"},
        "context": {"user": "st2admin"},
        "status": "succeeded",
    }


def test_what_st2_execution_get_sends_duplicates_and_all() -> None:
    names = parse_fields(
        "action.ref,action.runner_type,start_timestamp,end_timestamp,log,id,action.ref,context.user,"
        "parameters,status,start_timestamp,end_timestamp,log,result"
    )

    projected = project(EXECUTION, names)

    assert set(projected) == {"id", "action", "context", "status", "result", "log"}
    assert projected["action"] == {"ref": "core.local", "runner_type": "local-shell-cmd"}


def test_a_whole_field_named_with_and_without_a_dot_is_kept_whole() -> None:
    assert project(EXECUTION, ["action.ref", "action"])["action"] == EXECUTION["action"]
    assert project(EXECUTION, ["action", "action.ref"])["action"] == EXECUTION["action"]


def test_deeper_dots_keep_the_second_level_whole() -> None:
    assert project(EXECUTION, ["action.parameters.cmd"])["action"] == {"parameters": {"cmd": {"type": "string"}}}


def test_a_dot_into_something_that_is_no_object_keeps_the_field() -> None:
    assert project(EXECUTION, ["status.x"]) == {"id": EXECUTION["id"], "status": "succeeded"}


def test_unknown_fields_are_ignored() -> None:
    assert project(EXECUTION, ["nope"]) == {"id": EXECUTION["id"]}


def test_exclude_drops_fields_and_sub_fields_but_never_the_id() -> None:
    projected = project(EXECUTION, exclude=["result", "context.pack", "id"])

    assert "result" not in projected and projected["id"] == EXECUTION["id"]
    assert projected["context"] == {"user": "st2admin"}
    assert projected["action"] == EXECUTION["action"]


def test_include_and_exclude_together() -> None:
    assert project(EXECUTION, ["context", "status"], ["context.pack"]) == {
        "id": EXECUTION["id"],
        "context": {"user": "st2admin"},
        "status": "succeeded",
    }


def test_projection_leaves_its_input_alone() -> None:
    before = repr(EXECUTION)
    Projection(include=("action.ref",), exclude=("context.user",)).apply_all([EXECUTION])
    assert repr(EXECUTION) == before


def test_an_empty_projection_returns_the_items_themselves() -> None:
    items = [EXECUTION]
    assert not Projection()
    assert Projection().apply_all(items) is items


@pytest.mark.parametrize(
    ("page", "expected"),
    [
        (Page(limit=None), [0, 1, 2, 3, 4]),
        (Page(limit=2), [0, 1]),
        (Page(limit=2, offset=3), [3, 4]),
        (Page(limit=10, offset=4), [4]),
        (Page(limit=None, offset=5), []),
    ],
)
def test_page_cut(page: Page, expected: list[int]) -> None:
    assert page.cut([0, 1, 2, 3, 4]) == expected


def test_page_size_caps_stored_lists() -> None:
    assert Page(limit=None).size == 1000
    assert Page(limit=5000).size == 1000
    assert Page(limit=7).size == 7
