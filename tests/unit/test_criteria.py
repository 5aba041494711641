"""Rule criteria: compile-time validation, StackStorm filter semantics, templating, search, explain."""

from __future__ import annotations

from typing import Any

import pytest

from st2lite.criteria import Criteria, CriterionResult, compile_criteria
from st2lite.exceptions import ContentError, MatchError
from st2lite.operators import OPERATORS
from st2lite.templating import kv_context, render_typed

KNOWN = ", ".join(sorted(OPERATORS))


def crit(type_: str, pattern: Any = None, **extra: Any) -> dict[str, Any]:
    spec: dict[str, Any] = {"type": type_, **extra}
    if pattern is not None:
        spec["pattern"] = pattern
    return spec


def matches(criteria: dict[str, Any], payload: Any, render: Any = None) -> bool:
    return compile_criteria(criteria).evaluate(payload, render)


def kv_renderer(store: dict[str, str]) -> Any:
    """The engine's renderer: ``trigger`` plus ``st2kv.system`` backed by ``store``."""

    def lookup(scope: str, name: str) -> str | None:
        return store.get(name) if scope == "system" else None

    def render(pattern: str, payload: Any) -> Any:
        return render_typed(pattern, {"trigger": payload, "st2kv": kv_context(lookup)})

    return render


# --- filter-level behaviours (test_filter.py) ---------------------------------------


@pytest.mark.parametrize("payload", [None, {}, {"a": 1}])
def test_empty_criteria_always_match(payload: Any) -> None:
    assert matches({}, payload)
    assert compile_criteria(None).evaluate(payload)


@pytest.mark.parametrize("payload", [None, {}])
def test_criteria_never_match_an_empty_payload(payload: Any) -> None:
    assert not matches({"trigger.a": crit("nexists")}, payload)
    assert not matches({"trigger": crit("equals", "{{ 1 }}")}, payload)


def test_template_pattern_referencing_the_payload() -> None:
    assert matches({"trigger.p1": crit("equals", "{{trigger.p1}}")}, {"p1": "v1"})


def test_conditional_jinja_expression() -> None:
    pattern = "{{ 'high' if trigger.level > 5 else 'low' }}"
    assert matches({"trigger.kind": crit("equals", pattern)}, {"level": 7, "kind": "high"})
    assert not matches({"trigger.kind": crit("equals", pattern)}, {"level": 1, "kind": "high"})


def test_jinja_loop_rendering_a_json_list_equals_the_payload_list() -> None:
    loop = '[{% for x in trigger.src %}"{{ x }}"{% if not loop.last %},{% endif %}{% endfor %}]'
    payload = {"src": ["a", "b"], "dst": ["a", "b"]}
    assert matches({"trigger.dst": crit("equals", loop)}, payload)
    no_commas = '[{% for x in trigger.src %}"{{ x }}"{% endfor %}]'
    assert not matches({"trigger.dst": crit("equals", no_commas)}, payload)


@pytest.mark.parametrize(
    ("key", "literal"),
    [("trigger.bool", True), ("trigger.int", 1), ("trigger.float", 0.8), ("trigger.str", "x")],
)
def test_typed_payloads_match_literal_and_template_patterns(key: str, literal: Any) -> None:
    payload = {"bool": True, "int": 1, "float": 0.8, "str": "x"}
    assert matches({key: crit("equals", literal)}, payload)
    assert matches({key: crit("equals", "{{ " + key + " }}")}, payload)


def test_typed_template_keeps_the_type() -> None:
    assert matches({"trigger.int": crit("equals", "{{ trigger.int }}")}, {"int": 42})
    assert matches({"trigger.int": crit("gt", "{{ trigger.limit }}")}, {"int": 42, "limit": 40})
    assert not matches({"trigger.s": crit("equals", "{{ trigger.int }}")}, {"int": 42, "s": "42"})


def test_template_with_surrounding_text_renders_a_string() -> None:
    assert matches({"trigger.s": crit("equals", "pre{{ trigger.x }}post")}, {"x": 1, "s": "pre1post"})


def test_exists_and_nexists_on_missing_keys() -> None:
    payload = {"present": False, "null": None}
    assert matches({"trigger.present": crit("exists")}, payload)
    assert not matches({"trigger.missing": crit("exists")}, payload)
    assert matches({"trigger.missing": crit("nexists")}, payload)
    assert matches({"trigger.null": crit("nexists")}, payload)


def test_zero_patterns() -> None:
    assert matches({"trigger.n": crit("gt", 0)}, {"n": 1})
    assert not matches({"trigger.n": crit("lt", 0)}, {"n": 1})


def test_missing_datastore_key_renders_empty_and_does_not_match() -> None:
    render = kv_renderer({})
    assert not matches({"trigger.env": crit("equals", "{{ st2kv.system.env }}")}, {"env": "prod"}, render)
    assert matches({"trigger.env": crit("equals", "{{ st2kv.system.env }}")}, {"env": ""}, render)


def test_datastore_value_in_a_larger_string() -> None:
    render = kv_renderer({"env": "prod"})
    criteria = {"trigger.host": crit("equals", "db-{{ st2kv.system.env }}-01")}
    assert matches(criteria, {"host": "db-prod-01"}, render)
    assert not matches(criteria, {"host": "db-dev-01"}, render)


def test_hash_suffix_gives_a_range_check() -> None:
    criteria = {"trigger.int": crit("gt", 1), "trigger.int#2": crit("lt", 10)}
    assert matches(criteria, {"int": 5})
    assert not matches(criteria, {"int": 10})
    assert not matches(criteria, {"int": 1})


# --- evaluation semantics ------------------------------------------------------------


def test_all_criteria_must_hold() -> None:
    criteria = {"trigger.a": crit("equals", 1), "trigger.b": crit("equals", 2)}
    assert matches(criteria, {"a": 1, "b": 2})
    assert not matches(criteria, {"a": 1, "b": 3})


def test_evaluation_stops_at_the_first_failing_criterion() -> None:
    first_fails = {"trigger.a": crit("equals", 2), "trigger.b": crit("lt", 1)}
    assert not matches(first_fails, {"a": 1, "b": "x"})
    error_first = {"trigger.b": crit("lt", 1), "trigger.a": crit("equals", 2)}
    with pytest.raises(MatchError):
        matches(error_first, {"a": 1, "b": "x"})


def test_operator_names_are_case_insensitive_and_aliases_work() -> None:
    assert matches({"trigger.a": crit("EQUALS", 1), "trigger.b": crit("Neq", 1)}, {"a": 1, "b": 2})


def test_non_string_patterns_are_never_rendered() -> None:
    def render(pattern: str, payload: Any) -> Any:
        raise AssertionError("render must not be called")

    assert matches(
        {"trigger.l": crit("equals", ["{{ x }}"]), "trigger.n": crit("equals", 3)}, {"l": ["{{ x }}"], "n": 3}, render
    )


def test_the_given_renderer_is_used_with_the_pattern_and_payload() -> None:
    calls: list[tuple[str, Any]] = []

    def render(pattern: str, payload: Any) -> Any:
        calls.append((pattern, payload))
        return "rendered"

    payload = {"a": "rendered"}
    assert matches({"trigger.a": crit("equals", "{{ anything }}")}, payload, render)
    assert calls == [("{{ anything }}", payload)]


def test_exists_never_renders_its_pattern() -> None:
    assert matches({"trigger.a": crit("exists", "{{ undefined_variable }}")}, {"a": 1})


def test_criteria_keeps_the_raw_mapping() -> None:
    raw = {"trigger.a": crit("eq", 1), "trigger.a#2": crit("exists")}
    compiled = compile_criteria(raw)
    assert isinstance(compiled, Criteria)
    assert compiled.raw == raw
    assert len(compiled) == 2


# --- evaluation errors ------------------------------------------------------------------


def evaluate_error(criteria: dict[str, Any], payload: Any, render: Any = None) -> str:
    with pytest.raises(MatchError) as caught:
        compile_criteria(criteria).evaluate(payload, render)
    return str(caught.value)


def test_operator_type_error_names_the_key() -> None:
    message = evaluate_error({"trigger.a": crit("lt", 1)}, {"a": "a"})
    assert message == "criteria 'trigger.a': operator 'lessthan' cannot compare str 'a' with int 1"


def test_contains_on_a_missing_key_is_an_error() -> None:
    message = evaluate_error({"trigger.tags": crit("contains", "db")}, {"other": 1})
    assert message == "criteria 'trigger.tags': operator 'contains' cannot look for str 'db' in None"


def test_undefined_template_variable_is_an_error() -> None:
    message = evaluate_error({"trigger.a": crit("equals", "x{{ trigger.nope }}")}, {"a": 1})
    assert message == "criteria 'trigger.a': template 'x{{ trigger.nope }}': 'dict object' has no attribute 'nope'"


def test_renderer_failure_is_an_error() -> None:
    def render(pattern: str, payload: Any) -> Any:
        raise RuntimeError("datastore down")

    message = evaluate_error({"trigger.a": crit("equals", "{{ x }}")}, {"a": 1}, render)
    assert message == "criteria 'trigger.a': RuntimeError: datastore down"


# --- search (test_operators.py behaviours 47-54) -----------------------------------------

CHANGES = [
    {"field_name": "Status", "to_value": "Approved"},
    {"field_name": "Assigned to", "to_value": "Stanley"},
]


def search(condition: str | None, children: dict[str, Any]) -> dict[str, Any]:
    spec: dict[str, Any] = {"type": "search", "pattern": children}
    if condition is not None:
        spec["condition"] = condition
    return {"trigger.items": spec}


STATUS_APPROVED = {"item.field_name": crit("equals", "Status"), "item.to_value": crit("equals", "Approved")}


def test_search_rejects_an_unknown_condition() -> None:  # 47
    with pytest.raises(ContentError) as caught:
        compile_criteria(search("weird", STATUS_APPROVED))
    assert str(caught.value) == (
        "criteria 'trigger.items': search condition 'weird' is not one of: all, all2any, any, any2any"
    )


def test_search_any() -> None:  # 48
    assert matches(search("any", STATUS_APPROVED), {"items": CHANGES})
    denied = {**STATUS_APPROVED, "item.to_value": crit("equals", "Denied")}
    assert not matches(search("any", denied), {"items": CHANGES})


def test_search_all() -> None:  # 49
    assert not matches(search("all", STATUS_APPROVED), {"items": CHANGES})
    signed = [
        {"field_name": "Status", "to_value": "Approved"},
        {"field_name": "Signed off by", "to_value": "Approved"},
    ]
    starts_s = {"item.field_name": crit("startswith", "S"), "item.to_value": crit("equals", "Approved")}
    assert matches(search("all", starts_s), {"items": signed})


def levels(*values: int) -> dict[str, Any]:
    return {"items": [{"level": value} for value in values]}


def test_search_any2any() -> None:  # 50
    children = {"item.level": crit("lt", 40), "item.level#2": crit("gt", 50)}
    assert matches(search("any2any", children), levels(30, 45))
    assert not matches(search("any2any", children), levels(44, 45))


BETWEEN_OR_46 = {"item.level": crit("gt", 40), "item.level#2": crit("lt", 50), "item.level#3": crit("equals", 46)}


def test_search_any_over_numbers() -> None:  # 51
    assert not matches(search("any", BETWEEN_OR_46), levels(45, 20))
    assert matches(search("any", BETWEEN_OR_46), levels(46, 20))
    between = {"item.level": crit("gt", 40), "item.level#2": crit("lt", 50)}
    assert matches(search("any", between), levels(45, 20))


def test_search_all2any() -> None:  # 52
    assert matches(search("all2any", BETWEEN_OR_46), levels(45, 20))
    above = {**BETWEEN_OR_46, "item.level#2": crit("gt", 50)}
    assert not matches(search("all2any", above), levels(45, 20))


def test_search_all_over_numbers() -> None:  # 53
    between = {"item.level": crit("gt", 40), "item.level#2": crit("lt", 50)}
    assert matches(search("all", between), levels(45, 46))
    assert not matches(search("all", between), levels(45, 30))
    assert not matches(search("all", BETWEEN_OR_46), levels(45, 46))


def test_search_over_an_object_treats_it_as_a_one_element_list() -> None:  # 54
    assert matches(search("any", STATUS_APPROVED), {"items": CHANGES[0]})
    assert not matches(search("any", STATUS_APPROVED), {"items": CHANGES[1]})


def test_search_condition_defaults_to_all() -> None:
    assert not matches(search(None, STATUS_APPROVED), {"items": CHANGES})
    assert matches(search(None, STATUS_APPROVED), {"items": CHANGES[:1]})


def test_search_over_an_empty_list() -> None:
    assert matches(search("all", STATUS_APPROVED), {"items": []})
    assert not matches(search("any", STATUS_APPROVED), {"items": []})


def test_nested_search() -> None:
    inner = {"type": "search", "condition": "any", "pattern": {"item.name": crit("equals", "db")}}
    criteria = search("any", {"item.tags": inner, "item.env": crit("equals", "prod")})
    payload: dict[str, Any] = {
        "items": [{"env": "dev", "tags": [{"name": "db"}]}, {"env": "prod", "tags": [{"name": "web"}]}]
    }
    assert not matches(criteria, payload)
    payload["items"][1]["tags"].append({"name": "db"})
    assert matches(criteria, payload)


def test_search_children_may_use_paths_and_templates_on_the_trigger() -> None:
    children = {"item.labels[0]": crit("equals", "{{ trigger.wanted }}")}
    assert matches(search("any", children), {"wanted": "disk", "items": [{"labels": ["cpu"]}, {"labels": ["disk"]}]})


def test_search_over_a_non_list_is_an_error() -> None:
    message = evaluate_error(search("any", STATUS_APPROVED), {"items": "text"})
    assert message == "criteria 'trigger.items': operator 'search' needs a list (or an object), got str 'text'"


def test_search_child_error_names_both_keys() -> None:
    message = evaluate_error(search("any", {"item.n": crit("lt", 1)}), {"items": [{"n": "x"}]})
    assert message == (
        "criteria 'trigger.items': criteria 'item.n': operator 'lessthan' cannot compare str 'x' with int 1"
    )


# --- explain -----------------------------------------------------------------------------


def test_explain_reports_every_criterion_without_stopping() -> None:
    criteria = compile_criteria(
        {
            "trigger.a": crit("equals", 2),
            "trigger.b": crit("lt", 1),
            "trigger.c": crit("equals", "{{ trigger.a }}"),
        }
    )
    assert criteria.explain({"a": 1, "b": "x", "c": 1}) == [
        CriterionResult(key="trigger.a", operator="equals", pattern=2, value=1, passed=False),
        CriterionResult(
            key="trigger.b",
            operator="lessthan",
            pattern=1,
            value="x",
            passed=False,
            error="operator 'lessthan' cannot compare str 'x' with int 1",
        ),
        CriterionResult(key="trigger.c", operator="equals", pattern=1, value=1, passed=True),
    ]


def test_explain_agrees_with_evaluate() -> None:
    criteria = compile_criteria({"trigger.a": crit("gt", 1), "trigger.a#2": crit("lt", 10)})
    for payload in ({"a": 5}, {"a": 0}, {"a": 10}):
        assert criteria.evaluate(payload) == all(result.passed for result in criteria.explain(payload))


def test_explain_template_error() -> None:
    [result] = compile_criteria({"trigger.a": crit("equals", "x{{ trigger.nope }}")}).explain({"a": 1})
    assert result.pattern == "x{{ trigger.nope }}"
    assert result.value == 1
    assert not result.passed
    assert result.error == "template 'x{{ trigger.nope }}': 'dict object' has no attribute 'nope'"


def test_explain_empty_payload() -> None:
    [result] = compile_criteria({"trigger.a": crit("exists")}).explain({})
    assert not result.passed
    assert result.error == "the trigger payload is empty; criteria never match an empty payload"
    assert compile_criteria({}).explain(None) == []


def test_explain_search_and_aliases_use_canonical_names() -> None:
    results = compile_criteria({**search("any", STATUS_APPROVED), "trigger.n": crit("gt", 0)}).explain(
        {"items": CHANGES, "n": 1}
    )
    assert [(result.operator, result.passed) for result in results] == [("search", True), ("greaterthan", True)]


def test_criterion_result_is_frozen() -> None:
    result = CriterionResult(key="k", operator="equals", pattern=1, value=1, passed=True)
    with pytest.raises(ValueError):
        result.passed = False


# --- compile-time errors ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ([1, 2], "criteria must be a mapping of payload keys to {type, pattern}, got list [1, 2]"),
        ("trigger.a", "criteria must be a mapping of payload keys to {type, pattern}, got str 'trigger.a'"),
        (
            {"body.x": crit("equals", 1)},
            "criteria 'body.x': keys must start with 'trigger.' (trigger is the trigger payload); "
            "did you mean 'trigger.body.x'?",
        ),
        ({1: crit("equals", 1)}, "criteria key 1 must be a string such as 'trigger.body.status'"),
        (
            {"trigger.body.x": "equals"},
            "criteria 'trigger.body.x': must be a mapping with 'type' and 'pattern', got str 'equals'",
        ),
        (
            {"trigger.body.x": crit("equalz", 1)},
            f"criteria 'trigger.body.x': unknown operator 'equalz' (did you mean 'equals'?); use one of: {KNOWN}",
        ),
        (
            {"trigger.body.x": crit("bogus", 1)},
            f"criteria 'trigger.body.x': unknown operator 'bogus'; use one of: {KNOWN}",
        ),
        ({"trigger.body.x": {"pattern": 1}}, f"criteria 'trigger.body.x': missing 'type'; use one of: {KNOWN}"),
        (
            {"trigger.body.x": {"type": 3, "pattern": 1}},
            "criteria 'trigger.body.x': 'type' must be an operator name, got int 3",
        ),
        (
            {"trigger.body.x": {"type": "equals"}},
            "criteria 'trigger.body.x': operator 'equals' needs a 'pattern' "
            "(only 'exists' and 'nexists' work without one)",
        ),
        (
            {"trigger.body.x": {"type": "eq", "pattern": None}},
            "criteria 'trigger.body.x': operator 'equals' needs a 'pattern' "
            "(only 'exists' and 'nexists' work without one)",
        ),
        (
            {"trigger.body.x": {"type": "exists", "patern": 1}},
            "criteria 'trigger.body.x': unknown field 'patern'; "
            "a criterion has 'type', 'pattern' and, for 'search', 'condition'",
        ),
        (
            {"trigger.body.x": crit("equals", "{{ trigger.x ")},
            "criteria 'trigger.body.x': template '{{ trigger.x ' is not valid Jinja: "
            "unexpected end of template, expected 'end of print statement'. (line 1)",
        ),
        (
            {"trigger.body.x": {"type": "search", "pattern": ["item.a"]}},
            "criteria 'trigger.body.x': 'search' needs a 'pattern' mapping of child criteria keyed "
            "'item.<path>', got list ['item.a']",
        ),
        (
            {"trigger.body.x": {"type": "search", "pattern": {}}},
            "criteria 'trigger.body.x': 'search' needs a 'pattern' mapping of child criteria keyed "
            "'item.<path>', got dict {}",
        ),
        (
            {"trigger.body.x": {"type": "search", "condition": 1, "pattern": STATUS_APPROVED}},
            "criteria 'trigger.body.x': search condition 1 is not one of: all, all2any, any, any2any",
        ),
        (
            {"trigger.body.x": {"type": "search", "pattern": {"field": crit("equals", 1)}}},
            "criteria 'trigger.body.x': criteria 'field': keys must start with 'item.' "
            "(item is each element of the searched list); did you mean 'item.field'?",
        ),
        (
            {"trigger.body.x": {"type": "search", "pattern": {"item.a": crit("nope", 1)}}},
            f"criteria 'trigger.body.x': criteria 'item.a': unknown operator 'nope'; use one of: {KNOWN}",
        ),
    ],
)
def test_bad_criteria_are_rejected_with_a_clear_message(raw: Any, message: str) -> None:
    with pytest.raises(ContentError) as caught:
        compile_criteria(raw)
    assert str(caught.value) == message


def test_exists_and_nexists_need_no_pattern() -> None:
    compiled = compile_criteria({"trigger.a": {"type": "exists"}, "trigger.b": {"type": "NEXISTS"}})
    assert compiled.evaluate({"a": 1})
