"""Action parameters: rendering as a dependency graph, casting, validation, masking, script arguments."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pytest

from st2lite.actions import ParameterSpec
from st2lite.arguments import positional_and_named
from st2lite.exceptions import ParameterError
from st2lite.parameters import (
    MASK,
    cast_value,
    finalize_parameters,
    mask_secrets,
    render_parameters,
    validate_parameters,
)
from st2lite.templating import kv_context


def specs(**definitions: dict[str, Any]) -> dict[str, ParameterSpec]:
    return {name: ParameterSpec.model_validate(body) for name, body in definitions.items()}


def error_of(call: Any, *args: Any, **kwargs: Any) -> str:
    with pytest.raises(ParameterError) as caught:
        call(*args, **kwargs)
    return str(caught.value)


ECHO = specs(
    message={"type": "string", "required": True},
    cmd={"type": "string", "immutable": True, "default": "echo {{ message }}"},
    timeout={"type": "integer", "default": 60},
)


def context(trigger: Mapping[str, Any] | None = None, **extra: Any) -> dict[str, Any]:
    return {"trigger": dict(trigger or {}), **extra}


# --- render_parameters -----------------------------------------------------------------------------


def test_core_echo_default_cmd_references_message() -> None:
    rendered = render_parameters(ECHO, {"message": "{{ trigger.text }}"}, context({"text": "hi"}))
    assert rendered == {"message": "hi", "cmd": "echo hi", "timeout": 60}


def test_parameters_render_in_dependency_order_whatever_the_declaration_order() -> None:
    chain = specs(a={"default": "{{ b }}+a"}, b={"default": "{{ c }}+b"}, c={"default": "c"})
    assert render_parameters(chain, {}, context()) == {"a": "c+b+a", "b": "c+b", "c": "c"}


def test_supplied_value_replaces_default() -> None:
    rendered = render_parameters(ECHO, {"message": "x", "timeout": 5}, context())
    assert rendered["timeout"] == 5


def test_none_inside_text_renders_as_none() -> None:
    both = specs(a={}, b={}, c={})
    supplied = {"a": "{{ trigger.a }}", "b": "value2", "c": "{{ a }}-{{ b }}"}
    rendered = render_parameters(both, supplied, context({"a": None}))
    assert rendered["c"] == "None-value2"


def test_use_none_gives_real_none() -> None:
    rendered = render_parameters(specs(a={}), {"a": "{{ trigger.a | use_none }}"}, context({"a": None}))
    assert rendered == {"a": None}


def test_use_none_inside_text_reads_none() -> None:
    rendered = render_parameters(specs(a={}), {"a": "x-{{ trigger.a | use_none }}"}, context({"a": None}))
    assert rendered == {"a": "x-None"}


def test_parameter_referencing_a_use_none_parameter_sees_none() -> None:
    supplied = {"a": "{{ trigger.a | use_none }}", "b": "{{ a is none }}"}
    rendered = render_parameters(specs(a={}, b={}), supplied, context({"a": None}))
    assert rendered == {"a": None, "b": "True"}


def test_plain_string_value_renders_to_string() -> None:
    rendered = render_parameters(specs(n={}), {"n": "{{ trigger.count }}"}, context({"count": 5}))
    assert rendered == {"n": "5"}


def test_bracket_access_for_keys_that_are_not_identifiers() -> None:
    payload = {"headers": {"X-Hub-Event": "push"}}
    rendered = render_parameters(specs(e={}), {"e": "{{ trigger.headers['X-Hub-Event'] }}"}, context(payload))
    assert rendered == {"e": "push"}


def test_dict_and_list_whole_value_placeholders_keep_their_type() -> None:
    payload = {"count": 3, "tags": ["a", "b"], "flag": False, "key": "k", "none": None, "body": {"x": 1}}
    supplied = {
        "opts": {
            "count": "{{ trigger.count }}",
            "flag": "{{trigger.flag}}",
            "body": " {{ trigger.body }} ",
            "label": "n={{ trigger.count }}",
            "joined": "{{ trigger.count }}{{ trigger.count }}",
            "{{ trigger.key }}": ["{{ trigger.tags }}", "{{ trigger.none | use_none }}", 7],
            "nested": {"deep": "{{ trigger.tags | length }}"},
            "plain": "no template",
        },
        "items": ["{{ trigger.count }}", "{{ trigger.key }}", {"c": "{{ trigger.count }}"}],
    }
    rendered = render_parameters(specs(opts={}, items={}), supplied, context(payload))
    assert rendered["opts"] == {
        "count": 3,
        "flag": False,
        "body": {"x": 1},
        "label": "n=3",
        "joined": "33",
        "k": [["a", "b"], None, 7],
        "nested": {"deep": 2},
        "plain": "no template",
    }
    assert rendered["items"] == [3, "k", {"c": 3}]


def test_render_context_variables() -> None:
    kv = kv_context(
        lambda scope, name: {"system": "sys-v", "user:ann": "ann-v"}.get(scope) if name == "k" else None,
        user="ann",
    )
    ctx = context(
        {},
        st2kv=kv,
        config_context={"region": "eu"},
        action_context={"rule": {"name": "r1"}, "user": "ann"},
    )
    template = "{{ st2kv.system.k }}/{{ st2kv.user.k }}/{{ config_context.region }}/{{ action_context.rule.name }}"
    supplied = {"a": template}
    assert render_parameters(specs(a={}), supplied, ctx) == {"a": "sys-v/ann-v/eu/r1"}


def test_declared_parameter_without_value_reads_as_none_and_is_left_out() -> None:
    rendered = render_parameters(specs(a={"default": "{{ b }}"}, b={}), {}, context())
    assert rendered == {"a": "None"}


def test_parameter_shadows_context_variable_of_same_name() -> None:
    rendered = render_parameters(specs(trigger={}, b={}), {"trigger": "p", "b": "{{ trigger }}"}, context({"x": 1}))
    assert rendered == {"trigger": "p", "b": "p"}


def test_parameter_without_value_does_not_shadow_context_variable() -> None:
    rendered = render_parameters(specs(trigger={}, b={}), {"b": "{{ trigger.x }}"}, context({"x": 1}))
    assert rendered == {"b": "1"}


def test_values_without_templates_are_kept_as_given() -> None:
    supplied = {"a": 5, "b": {"x": [1, "{ not jinja }"]}, "c": None, "d": "text"}
    assert render_parameters(specs(a={}, b={}, c={}, d={}), supplied, context()) == supplied


def test_cycle_is_rejected() -> None:
    cyclic = specs(a={"default": "{{ b }}"}, b={"default": "{{ a }}"})
    assert error_of(render_parameters, cyclic, {}, context()) == (
        "parameters form a cycle: a -> b -> a; break it by giving one of them a value that does not "
        "reference the others"
    )


def test_self_reference_is_a_cycle() -> None:
    assert error_of(render_parameters, specs(a={}), {"a": "{{ a }}!"}, context()) == (
        "parameters form a cycle: a -> a; break it by giving one of them a value that does not reference the others"
    )


def test_own_name_reads_the_context_variable_of_that_name() -> None:
    # A chain task passing its input on: ``name: "{{ name }}"``; other parameters see the rendered value.
    supplied = {"name": "{{ name }}-1", "label": "{{ name }}!"}
    rendered = render_parameters(specs(name={}, label={}), supplied, context(name="web"))
    assert rendered == {"name": "web-1", "label": "web-1!"}


def test_unknown_variable_is_rejected() -> None:
    assert error_of(render_parameters, ECHO, {"message": "{{ mesage }}"}, context(config_context={})) == (
        "parameter 'message' references 'mesage', which is neither a parameter of the action nor a "
        "template variable (config_context, trigger); fix the name or declare the parameter"
    )


def test_unknown_variable_inside_a_dict_is_rejected() -> None:
    message = error_of(render_parameters, specs(o={}), {"o": {"k": ["{{ nope.x }}"]}}, context())
    assert message.startswith("parameter 'o' references 'nope', which is neither")


def test_invalid_jinja_is_rejected() -> None:
    assert error_of(render_parameters, specs(a={}), {"a": "{{ trigger.x "}, context()) == (
        "parameter 'a': template '{{ trigger.x ' is not valid Jinja: unexpected end of template, expected "
        "'end of print statement'. (line 1)"
    )


def test_render_failure_names_the_parameter() -> None:
    assert error_of(render_parameters, specs(a={}), {"a": "{{ trigger.missing }}"}, context()) == (
        "parameter 'a' could not be rendered: template '{{ trigger.missing }}': 'dict object' has no "
        "attribute 'missing'"
    )


# --- cast_value ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("type_", "value", "expected"),
    [
        ("integer", "42", 42),
        ("integer", " 7 ", 7),
        ("integer", 3.0, 3),
        ("integer", 9, 9),
        ("number", "2.5", 2.5),
        ("number", 2, 2.0),
        ("boolean", "TRUE", True),
        ("boolean", "no", False),
        ("boolean", "1", True),
        ("boolean", "0", False),
        ("boolean", "Yes", True),
        ("boolean", 0, False),
        ("boolean", False, False),
        ("object", '{"a": 1}', {"a": 1}),
        ("object", "{'a': None}", {"a": None}),
        ("object", {"a": 1}, {"a": 1}),
        ("array", "[1, 2]", [1, 2]),
        ("array", "['x', True]", ["x", True]),
        ("array", ("a",), ["a"]),
        ("string", "text", "text"),
    ],
)
def test_cast_value(type_: str, value: Any, expected: Any) -> None:
    result = cast_value("p", ParameterSpec(type=type_), value)
    assert result == expected
    assert type(result) is type(expected)


@pytest.mark.parametrize("type_", ["integer", "number", "boolean", "object", "array", "string"])
def test_none_is_not_cast(type_: str) -> None:
    assert cast_value("p", ParameterSpec(type=type_), None) is None


def test_untyped_or_multi_typed_values_are_not_cast() -> None:
    assert cast_value("p", ParameterSpec(), "5") == "5"
    assert cast_value("p", ParameterSpec(type=["integer", "string"]), "5") == "5"
    assert cast_value("p", ParameterSpec(type="null"), "5") == "5"


@pytest.mark.parametrize(
    ("name", "type_", "value", "shown"),
    [
        ("count", "integer", "abc", "'abc'"),
        ("count", "integer", 2.5, "2.5"),
        ("count", "integer", True, "True"),
        ("count", "integer", [1], "[1]"),
        ("count", "integer", float("inf"), "inf"),
        ("ratio", "number", "fast", "'fast'"),
        ("ratio", "number", False, "False"),
        ("flag", "boolean", "maybe", "'maybe'"),
        ("flag", "boolean", 2, "2"),
        ("opts", "object", "[1, 2]", "'[1, 2]'"),
        ("opts", "object", "a=1", "'a=1'"),
        ("opts", "object", 5, "5"),
        ("items", "array", '{"a": 1}', "'{\"a\": 1}'"),
        ("items", "array", "a,b", "'a,b'"),
        ("name", "string", 1.2, "1.2"),
        ("count", "integer", "x" * 100, "'" + "x" * 76 + "..."),
    ],
)
def test_cast_value_rejects(name: str, type_: str, value: Any, shown: str) -> None:
    assert error_of(cast_value, name, ParameterSpec(type=type_), value) == (
        f"parameter '{name}' expects {type_}, got {shown}"
    )


def test_cast_error_masks_secret_values() -> None:
    assert error_of(cast_value, "token", ParameterSpec(type="integer", secret=True), "hunter2") == (
        "parameter 'token' expects integer, got '********'"
    )


# --- validate_parameters ---------------------------------------------------------------------------

RESTART = specs(
    unit={"type": "string", "required": True, "position": 0},
    mode={"type": "string", "enum": ["restart", "reload"], "default": "restart"},
    retries={"type": "integer", "minimum": 0, "maximum": 3},
    opts={"type": "object", "properties": {"depth": {"type": "integer"}}},
    sudo={"type": "boolean", "immutable": True, "default": False},
    token={"type": "string", "secret": True, "pattern": "^tk-"},
    note={"type": "string", "default": "{{ unit }} by rule"},
)


def test_validate_applies_plain_defaults_only() -> None:
    assert validate_parameters(RESTART, {"unit": "nginx"}, action_ref="ops.restart") == {
        "unit": "nginx",
        "mode": "restart",
        "sudo": False,
    }


def test_validate_rejects_unknown_parameters() -> None:
    assert error_of(validate_parameters, ECHO, {"message": "x", "msg": 1, "cwd": "/"}, action_ref="core.echo") == (
        "action 'core.echo' has no parameter(s) cwd, msg; its parameters are: cmd, message, timeout. "
        "Remove or rename them"
    )


def test_validate_rejects_unknown_parameters_of_action_without_parameters() -> None:
    assert error_of(validate_parameters, {}, {"x": 1}, action_ref="core.noop") == (
        "action 'core.noop' has no parameter(s) x; its parameters are: none. Remove or rename them"
    )


def test_validate_rejects_immutable_override() -> None:
    assert error_of(validate_parameters, RESTART, {"unit": "a", "sudo": True}, action_ref="ops.restart") == (
        "action 'ops.restart': parameter(s) sudo are immutable and cannot be overridden; remove them from "
        "the parameters, or write an action that does not declare them immutable"
    )


def test_validate_allows_immutable_given_its_default() -> None:
    assert validate_parameters(RESTART, {"unit": "a", "sudo": False}, action_ref="ops.restart")["sudo"] is False


def test_validate_rejects_missing_required() -> None:
    assert error_of(validate_parameters, RESTART, {"unit": None}, action_ref="ops.restart") == (
        "action 'ops.restart': required parameter(s) unit have no value; supply them in the rule's action "
        "parameters or the run request"
    )


def test_required_parameter_with_a_default_is_satisfied() -> None:
    required = specs(a={"required": True, "default": "x"}, b={"required": True, "default": "{{ a }}"})
    assert validate_parameters(required, {}, action_ref="p.a") == {"a": "x"}


@pytest.mark.parametrize(
    ("values", "problem"),
    [
        ({"mode": "stop"}, "parameter 'mode': 'stop' is not one of ['restart', 'reload']"),
        ({"retries": 5}, "parameter 'retries': 5 is greater than the maximum of 3"),
        ({"retries": "2"}, "parameter 'retries': '2' is not of type 'integer'"),
        ({"opts": {"depth": "deep"}}, "parameter 'opts' at depth: 'deep' is not of type 'integer'"),
        ({"token": "hunter2"}, "parameter 'token': the value fails the schema keyword 'pattern'"),
    ],
)
def test_validate_checks_json_schema_keywords(values: dict[str, Any], problem: str) -> None:
    assert error_of(validate_parameters, RESTART, {"unit": "a", **values}, action_ref="ops.restart") == (
        f"action 'ops.restart': {problem}"
    )


def test_validate_reports_every_failing_parameter() -> None:
    message = error_of(validate_parameters, RESTART, {"unit": 1, "retries": -1}, action_ref="ops.restart")
    assert message == (
        "action 'ops.restart': parameter 'unit': 1 is not of type 'string'; "
        "parameter 'retries': -1 is less than the minimum of 0"
    )


def test_validate_skips_schema_for_none() -> None:
    assert validate_parameters(RESTART, {"unit": "a", "retries": None}, action_ref="o.r")["retries"] is None


def test_validate_reports_invalid_schema() -> None:
    broken = specs(count={"type": "integr"})
    assert error_of(validate_parameters, broken, {"count": 1}, action_ref="p.a") == (
        "action 'p.a': parameter 'count' has an invalid schema ('integr' is not valid under any of the given "
        "schemas); fix the action metadata"
    )


# --- finalize_parameters ---------------------------------------------------------------------------


def test_finalize_renders_casts_and_validates() -> None:
    supplied = {"unit": "{{ trigger.unit }}", "retries": "{{ trigger.n }}", "opts": "{{ trigger.opts }}"}
    final = finalize_parameters(
        RESTART, supplied, context({"unit": "nginx", "n": 2, "opts": {"depth": 1}}), action_ref="ops.restart"
    )
    assert final == {
        "unit": "nginx",
        "retries": 2,
        "opts": {"depth": 1},
        "mode": "restart",
        "sudo": False,
        "note": "nginx by rule",
    }


def test_finalize_core_echo() -> None:
    final = finalize_parameters(ECHO, {"message": "hello"}, context(), action_ref="core.echo")
    assert final == {"message": "hello", "cmd": "echo hello", "timeout": 60}


def test_finalize_rejects_unknown_before_rendering() -> None:
    message = error_of(finalize_parameters, ECHO, {"message": "x", "bad": "{{ nope"}, context(), action_ref="core.echo")
    assert message.startswith("action 'core.echo' has no parameter(s) bad;")


def test_finalize_rejects_immutable_override_before_rendering() -> None:
    message = error_of(
        finalize_parameters, ECHO, {"message": "x", "cmd": "rm -rf /"}, context(), action_ref="core.echo"
    )
    assert message.startswith("action 'core.echo': parameter(s) cmd are immutable")


def test_finalize_rejects_value_that_does_not_cast() -> None:
    message = error_of(
        finalize_parameters,
        RESTART,
        {"unit": "a", "retries": "{{ trigger.n }}"},
        context({"n": "many"}),
        action_ref="o.r",
    )
    assert message == "parameter 'retries' expects integer, got 'many'"


def test_finalize_rejects_required_made_none_by_use_none() -> None:
    message = error_of(
        finalize_parameters,
        RESTART,
        {"unit": "{{ trigger.u | use_none }}"},
        context({"u": None}),
        action_ref="o.r",
    )
    assert message.startswith("action 'o.r': required parameter(s) unit have no value")


def test_finalize_validates_cast_values() -> None:
    message = error_of(
        finalize_parameters,
        RESTART,
        {"unit": "a", "retries": "{{ trigger.n }}"},
        context({"n": 9}),
        action_ref="o.r",
    )
    assert message == "action 'o.r': parameter 'retries': 9 is greater than the maximum of 3"


# --- mask_secrets and positional_and_named ---------------------------------------------------------


def test_mask_secrets() -> None:
    values = {"unit": "a", "token": "tk-1", "extra": "kept"}
    assert mask_secrets(RESTART, values) == {"unit": "a", "token": MASK, "extra": "kept"}
    assert mask_secrets(RESTART, {"token": None}) == {"token": None}
    assert MASK == "********"


def test_positional_and_named_arguments() -> None:
    script = specs(
        host={"position": 1},
        unit={"position": 0},
        ports={"position": 2},
        meta={"position": 3},
        missing={"position": 4},
        flag={"position": 5},
        verbose={},
        quiet={},
        note={},
        blank={},
        count={},
        tags={},
        labels={},
        timeout={},
    )
    values = {
        "unit": "nginx",
        "host": None,
        "ports": [80, 443],
        "meta": {"a": 1},
        "flag": True,
        "verbose": True,
        "quiet": False,
        "note": None,
        "blank": "",
        "count": 3,
        "tags": ["a", "b"],
        "labels": {"k": "v w"},
        "timeout": 60,
    }
    assert positional_and_named(script, values, exclude={"timeout"}) == [
        "nginx",
        "",
        "80,443",
        '{"a": 1}',
        "",
        "1",
        "--count=3",
        '--labels={"k": "v w"}',
        "--tags=a,b",
        "--verbose",
    ]


def test_positional_false_is_zero_and_kwarg_op_is_configurable() -> None:
    script = specs(enabled={"position": 0}, name={})
    assert positional_and_named(script, {"enabled": False, "name": "x"}, kwarg_op="-") == ["0", "-name=x"]
