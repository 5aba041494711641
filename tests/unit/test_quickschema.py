"""The quick payload check (fastjsonschema) is never laxer than jsonschema, and takes the common valid payloads."""

from __future__ import annotations

import itertools
from decimal import Decimal
from fractions import Fraction
from typing import Any

import jsonschema
import pytest

from st2lite.quickschema import compile_check
from st2lite.triggers import BUILTIN_TRIGGER_TYPES

READING: dict[str, Any] = {
    "type": "object",
    "description": "a reading",
    "properties": {
        "host": {"type": "string", "minLength": 1, "maxLength": 20, "pattern": "^web-"},
        "metric": {"type": "string", "enum": ["cpu", "memory"]},
        "value": {"type": "number", "minimum": 0, "maximum": 100},
        "count": {"type": "integer"},
        "tags": {"type": "array", "items": {"type": "string"}, "minItems": 1, "maxItems": 3},
        "extra": {"type": ["object", "null"], "additionalProperties": {"type": "boolean"}},
        "level": {"enum": [1, "two", None, True]},
    },
    "required": ["host", "value"],
    "additionalProperties": False,
}

INSTANCES: list[Any] = [
    {"host": "web-1", "value": 5},
    {"host": "web-1", "value": 5.5, "metric": "cpu", "count": 3, "tags": ["a"], "extra": {"x": True}, "level": 1},
    {"host": "web-1", "value": 5, "extra": None, "level": "two"},
    {"host": "web-1", "value": 5, "level": None},
    {"host": "web-1", "value": 5, "level": True},
    {"host": "web-1", "value": 5, "level": 1.0},  # jsonschema: equal to 1; quick: doubtful
    {"host": "web-1", "value": 5, "level": False},
    {"host": "web-1"},
    {"host": "db-1", "value": 5},
    {"host": "", "value": 5},
    {"host": "web-" + "x" * 30, "value": 5},
    {"host": "web-1", "value": 500},
    {"host": "web-1", "value": -1},
    {"host": "web-1", "value": True},
    {"host": "web-1", "value": "5"},
    {"host": "web-1", "value": 5, "count": 1.0},
    {"host": "web-1", "value": 5, "count": True},
    {"host": "web-1", "value": 5, "metric": "disk"},
    {"host": "web-1", "value": 5, "tags": []},
    {"host": "web-1", "value": 5, "tags": ["a", "b", "c", "d"]},
    {"host": "web-1", "value": 5, "tags": [1]},
    {"host": "web-1", "value": 5, "extra": {"x": 1}},
    {"host": "web-1", "value": 5, "extra": []},
    {"host": "web-1", "value": 5, "unknown": 1},
    {"host": 7, "value": 5},
    {"host": "web-1", "value": Decimal("-1")},
    {"host": "web-1", "value": Fraction(1, 2)},
    [],
    "text",
    None,
]

SCHEMAS: list[dict[str, Any]] = [
    READING,
    {"type": "object", "properties": {"a": {"enum": [[1], {"k": 1}]}}},
    {"type": ["object", "array"]},
    {"properties": {"a": {"type": "integer"}}, "required": ["a"]},
    {"additionalProperties": {"type": "string"}},
    {"properties": {"value": {"minimum": 0, "maximum": 10}}},  # bounds without a type: any number is checked
    *(t.payload_schema for t in BUILTIN_TRIGGER_TYPES if t.payload_schema),
]


@pytest.mark.parametrize("schema", SCHEMAS, ids=range(len(SCHEMAS)))
def test_never_laxer_than_jsonschema(schema: dict[str, Any]) -> None:
    check = compile_check(schema)
    assert check is not None
    validator = jsonschema.Draft4Validator(schema)
    extra: list[Any] = [{"a": [1]}, {"a": [True]}, {"a": {"k": True}}, {"a": 1}, {"a": "x"}, {"b": 2}, {}]
    for instance in itertools.chain(INSTANCES, extra):
        if check(instance):
            assert validator.is_valid(instance), f"quick check accepted {instance!r}, jsonschema rejects it"


def test_takes_the_common_valid_payloads() -> None:
    check = compile_check(READING)
    assert check is not None
    assert check(INSTANCES[0]) and check(INSTANCES[1]) and check(INSTANCES[2])
    webhook = next(t for t in BUILTIN_TRIGGER_TYPES if t.ref == "core.st2.webhook")
    quick = compile_check(webhook.payload_schema)
    assert quick is not None and quick({"headers": {}, "headers_lower": {}, "body": [1]})
    assert not quick({"headers": {}, "body": "text"})


EXOTIC: list[Any] = [
    {"type": "any"},
    {"properties": {"a": {"type": "string", "required": True}}},  # draft 3 style
    {"items": [{"type": "string"}]},
    {"minimum": 1, "exclusiveMinimum": True},
    {"patternProperties": {"^a": {"type": "integer"}}, "additionalProperties": False},
    {"oneOf": [{"type": "string"}, {"type": "integer"}]},
    {"properties": {"value": {"multipleOf": 0.5}}},
]


@pytest.mark.parametrize("schema", EXOTIC, ids=range(len(EXOTIC)))
def test_other_keywords_are_never_laxer_either(schema: Any) -> None:
    check = compile_check(schema)
    validator = jsonschema.Draft4Validator(schema)
    instances: list[Any] = [*INSTANCES, {"a": 1}, {"a": "x"}, {"b": 2}, {}, ["x"], [1], 0, 1, 1.5, 2, "a", True]
    for instance in instances:
        if check is not None and check(instance):
            assert validator.is_valid(instance), f"accepted {instance!r} for {schema}; jsonschema rejects it"


@pytest.mark.parametrize("schema", [{"$ref": "#/definitions/x"}, {"pattern": "("}, "not a schema"])
def test_a_schema_it_cannot_compile_is_left_to_jsonschema(schema: Any) -> None:
    assert compile_check(schema) is None
