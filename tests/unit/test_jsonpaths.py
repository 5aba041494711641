"""Criteria key addressing: every supported path form, first-match, misses, errors."""

from __future__ import annotations

from types import MappingProxyType
from typing import Any

import pytest
from jsonpath_ng.parser import parse as jsonpath_parse

from st2lite.exceptions import ContentError
from st2lite.jsonpaths import compile_path

PAYLOAD: dict[str, Any] = {
    "body": {
        "user": {"name": "stanley"},
        "alerts": [{"labels": {"alertname": "DiskFull"}}, {"labels": {"alertname": "CPU"}}],
        "none": None,
        "zero": 0,
        "0": "digit-key",
        "text": "abc",
    },
    "headers": {"Content-Type": "application/json", "X_Hub@Event": "push"},
    "a.b": "dotted",
    "items": [{"id": None}, {"id": 2}, {}, {"id": 4}],
    "sparse": [{}, {"id": 7}],
    "count": 5,
}


@pytest.mark.parametrize(
    ("key", "expected"),
    [
        ("trigger.body.user.name", "stanley"),
        ("trigger.body.alerts[0].labels.alertname", "DiskFull"),
        ("trigger.body.alerts[1].labels.alertname", "CPU"),
        ("trigger.body.alerts[-1].labels.alertname", "CPU"),
        ("trigger.headers.Content-Type", "application/json"),
        ("trigger.headers.X_Hub@Event", "push"),
        ('trigger."a.b"', "dotted"),
        ("trigger.'a.b'", "dotted"),
        ('trigger["a.b"]', "dotted"),
        ("trigger['a.b']", "dotted"),
        ('trigger."headers"."Content-Type"', "application/json"),
        ("trigger.body.0", "digit-key"),
        ("trigger.body.zero", 0),
        ("trigger.count", 5),
        ("trigger.count#2", 5),
        ("trigger.count#max#min", 5),
        ("trigger.body.alerts[*].labels.alertname", "DiskFull"),
        ("trigger.body.user.*", "stanley"),
    ],
)
def test_fast_path_forms(key: str, expected: Any) -> None:
    path = compile_path(key)
    assert path.steps is not None, "expected the fast path"
    assert path.first(PAYLOAD) == expected


def test_bare_root_addresses_the_whole_payload() -> None:
    assert compile_path("trigger").first(PAYLOAD) is PAYLOAD


def test_hash_suffix_is_stripped_from_the_expression_but_kept_in_the_key() -> None:
    path = compile_path("trigger.count#2")
    assert path.key == "trigger.count#2"
    assert path.expression == "trigger.count"


def test_wildcard_takes_the_first_match_even_when_its_value_is_null() -> None:
    assert compile_path("trigger.items[*].id").first(PAYLOAD) is None
    assert compile_path("trigger.sparse[*].id").first(PAYLOAD) == 7


def test_wildcard_over_an_object_walks_its_values() -> None:
    assert compile_path("trigger.body.*.name").first(PAYLOAD) == "stanley"
    assert compile_path("trigger.headers[*]").first(PAYLOAD) == "application/json"


@pytest.mark.parametrize(
    "key",
    [
        "trigger.missing",
        "trigger.body.user.missing",
        "trigger.body.none.deeper",
        "trigger.body.alerts[5]",
        "trigger.body.alerts[-5]",
        "trigger.body.alerts.labels",  # a name selects nothing in a list
        "trigger.body.user[0]",  # an index selects nothing in an object
        "trigger.body.text[0]",  # nor in a string
        "trigger.body.text.x",
        "trigger.count[*]",  # a wildcard selects nothing in a scalar
        "trigger.items[*].missing",
    ],
)
def test_a_path_that_selects_nothing_gives_none(key: str) -> None:
    assert compile_path(key).first(PAYLOAD) is None


@pytest.mark.parametrize("payload", [None, {}, [], 0, "text"])
def test_any_payload_shape_is_safe(payload: Any) -> None:
    assert compile_path("trigger.body.user.name").first(payload) is None
    assert compile_path("trigger.items[*].id").first(payload) is None


def test_other_mappings_are_walked_like_dicts() -> None:
    payload = MappingProxyType({"body": MappingProxyType({"x": 1})})
    assert compile_path("trigger.body.x").first(payload) == 1
    assert compile_path("trigger.body.*").first(payload) == 1


@pytest.mark.parametrize(
    ("key", "expected"),
    [
        ("trigger..alertname", "DiskFull"),
        ("trigger.body.alerts[1:2].labels.alertname", "CPU"),
        ("trigger.items[1,3].id", 2),
        ("trigger.items[ 3 ].id", 4),
        ("trigger..missing", None),
    ],
)
def test_other_jsonpath_forms_fall_back_to_jsonpath_ng(key: str, expected: Any) -> None:
    path = compile_path(key)
    assert path.steps is None, "expected the jsonpath-ng fallback"
    assert "jsonpath-ng" in repr(path)
    assert path.first(PAYLOAD) == expected


@pytest.mark.parametrize(
    "key",
    [
        "trigger.body.user.name",
        "trigger.body.alerts[0].labels.alertname",
        "trigger.body.alerts[-1].labels",
        "trigger.body.alerts[9]",
        "trigger.body.alerts.labels",
        "trigger.body.user[0]",
        "trigger.body.text[0]",
        "trigger.body.0",
        "trigger.body.none",
        "trigger.headers.Content-Type",
        'trigger."a.b"',
        "trigger.items[*].id",
        "trigger.sparse[*].id",
        "trigger.body.*",
        "trigger.headers[*]",
        "trigger.count[*]",
    ],
)
def test_fast_path_agrees_with_jsonpath_ng(key: str) -> None:
    matches = jsonpath_parse(key).find({"trigger": PAYLOAD})
    expected = matches[0].value if matches else None
    assert compile_path(key).first(PAYLOAD) == expected


def test_compiled_paths_are_cached() -> None:
    assert compile_path("trigger.body.user.name") is compile_path("trigger.body.user.name")


def test_item_root_for_search_children() -> None:
    assert compile_path("item.field", root="item").first({"field": "Status"}) == "Status"


@pytest.mark.parametrize(
    ("key", "message"),
    [
        (
            "body.x",
            "criteria 'body.x': keys must start with 'trigger.' (trigger is the trigger payload); "
            "did you mean 'trigger.body.x'?",
        ),
        (
            "triggers.x",
            "criteria 'triggers.x': keys must start with 'trigger.' (trigger is the trigger payload); "
            "did you mean 'trigger.triggers.x'?",
        ),
        (
            "$.trigger.x",
            "criteria '$.trigger.x': keys must start with 'trigger.' (trigger is the trigger payload); "
            "did you mean 'trigger.$.trigger.x'?",
        ),
        (
            "trigger.",
            "criteria 'trigger.': not a valid path (Parse error near the end of string!); use dotted "
            'names, [n] indexes, [*] wildcards and quoted names such as trigger."a.b"',
        ),
        (
            "trigger.body[1:",
            "criteria 'trigger.body[1:': not a valid path (Parse error near the end of string!); use dotted "
            'names, [n] indexes, [*] wildcards and quoted names such as trigger."a.b"',
        ),
    ],
)
def test_bad_keys_are_rejected_with_a_clear_message(key: str, message: str) -> None:
    with pytest.raises(ContentError) as caught:
        compile_path(key)
    assert str(caught.value) == message


def test_bad_search_child_key_names_the_item_root() -> None:
    with pytest.raises(ContentError) as caught:
        compile_path("field", root="item")
    assert str(caught.value) == (
        "criteria 'field': keys must start with 'item.' (item is each element of the searched list); "
        "did you mean 'item.field'?"
    )
