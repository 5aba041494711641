"""The action-chain file: parsing, StackStorm's start-task rule, static checks with file, line and field."""

from __future__ import annotations

from pathlib import Path

import pytest

from st2lite.chains.flow import (
    ChainState,
    ItemsProgress,
    TaskRecord,
    chain_result,
    chain_status,
    items_outcome,
    next_task,
    retry_delay,
    template_context,
)
from st2lite.chains.spec import ChainSpec, ChainTask, chain_problems, load_chain
from st2lite.exceptions import PackLoadError, TemplateError
from st2lite.statuses import ExecutionStatus


def spec(data: dict[str, object]) -> ChainSpec:
    return ChainSpec.model_validate(data)


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "chain.yaml"
    path.write_text(text)
    return path


@pytest.mark.parametrize(
    ("data", "start"),
    [
        ({"chain": [{"name": "a", "ref": "x.y"}, {"name": "b", "ref": "x.y"}], "default": "b"}, "b"),
        ({"chain": [{"name": "a", "ref": "x.y"}, {"name": "b", "ref": "x.y", "on-success": "a"}]}, "b"),
        (
            {"chain": [{"name": "a", "ref": "x.y", "on-success": "b"}, {"name": "b", "ref": "x.y", "on-success": "a"}]},
            "a",
        ),
        ({"chain": []}, None),
    ],
)
def test_start_task_follows_stackstorms_rule(data: dict[str, object], start: str | None) -> None:
    assert spec(data).start_task() == start


def test_legacy_params_are_read_and_both_keys_are_refused() -> None:
    assert spec({"chain": [{"name": "a", "ref": "x.y", "params": {"k": 1}}]}).chain[0].values == {"k": 1}
    with pytest.raises(ValueError, match="both 'parameters' and 'params'"):
        spec({"chain": [{"name": "a", "ref": "x.y", "params": {}, "parameters": {}}]})


def test_a_missing_target_is_reported_at_its_line_with_the_task(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "chain:\n  - name: a\n    ref: core.noop\n    on-success: c\n"
        "  - name: c\n    ref: core.noop\n    on-failure: gone\n",
    )
    with pytest.raises(PackLoadError) as caught:
        load_chain(path)
    assert caught.value.line == 7
    assert caught.value.field == "chain.1.on-failure"
    assert "task 'c': on-failure target 'gone' is not a task of this chain; tasks: a, c" in str(caught.value)
    assert str(caught.value).startswith(f"{path}:7: ")


@pytest.mark.parametrize(
    ("text", "field", "message"),
    [
        ("chain:\n  - name: a\n    ref: core.noop\n    colour: red\n", "chain.0.colour", "unknown key 'colour'"),
        ("chain:\n  - name: a\n", "chain.0.ref", "this key is required"),
        ("default: z\nchain:\n  - name: a\n    ref: core.noop\n", "default", "default task 'z' is not a task"),
        ("chain:\n  - {name: a, ref: x.y}\n  - {name: a, ref: x.y}\n", "chain.1.name", "task name 'a' is used twice"),
        ("vars:\n  bad-name: 1\nchain: []\n", "vars.bad-name", "may only use letters, digits and _"),
        ("- just\n- a list\n", "", "a chain file must be a mapping"),
    ],
)
def test_each_bad_chain_file_gets_a_message_naming_the_field(
    tmp_path: Path, text: str, field: str, message: str
) -> None:
    with pytest.raises(PackLoadError, match=message) as caught:
        load_chain(write(tmp_path, text))
    assert caught.value.field == field


def test_a_loop_with_no_exit_is_refused_but_a_loop_with_one_is_not() -> None:
    endless = spec(
        {
            "chain": [
                {"name": "a", "ref": "x.y", "on-success": "b", "on-failure": "b"},
                {"name": "b", "ref": "x.y", "on-success": "a", "on-failure": "a"},
            ]
        }
    )
    [(field, message)] = chain_problems(endless)
    assert field == "chain.0"
    assert "loop with no exit" in message
    with_exit = spec(
        {
            "chain": [
                {"name": "a", "ref": "x.y", "on-success": "b", "on-failure": "b"},
                {"name": "b", "ref": "x.y", "on-success": "a"},
            ]
        }
    )
    assert chain_problems(with_exit) == []
    templated = spec({"chain": [{"name": "a", "ref": "x.y", "on-success": "{{ nxt }}", "on-failure": "a"}]})
    assert chain_problems(templated) == []


BRANCHING = spec(
    {
        "chain": [
            {"name": "a", "ref": "x.y", "on-success": "b", "on-failure": "c"},
            {"name": "b", "ref": "x.y", "on-success": "{{ 'c' if go else '' }}"},
            {"name": "c", "ref": "x.y"},
        ]
    }
)


@pytest.mark.parametrize(
    ("status", "following"),
    [
        (ExecutionStatus.SUCCEEDED, "b"),
        (ExecutionStatus.FAILED, "c"),
        (ExecutionStatus.TIMEOUT, "c"),
        (ExecutionStatus.ABANDONED, "c"),
        (ExecutionStatus.CANCELED, None),
    ],
)
def test_transitions_follow_stackstorms_table(status: ExecutionStatus, following: str | None) -> None:
    assert next_task(BRANCHING, "a", status, {}) == following


def test_a_templated_target_is_rendered_and_an_empty_one_ends_the_chain() -> None:
    assert next_task(BRANCHING, "b", ExecutionStatus.SUCCEEDED, {"go": True}) == "c"
    assert next_task(BRANCHING, "b", ExecutionStatus.SUCCEEDED, {"go": False}) is None
    with pytest.raises(TemplateError, match="go"):
        next_task(BRANCHING, "b", ExecutionStatus.SUCCEEDED, {})


@pytest.mark.parametrize(
    ("last", "status"),
    [
        (None, ExecutionStatus.SUCCEEDED),
        (ExecutionStatus.SUCCEEDED, ExecutionStatus.SUCCEEDED),
        (ExecutionStatus.FAILED, ExecutionStatus.FAILED),
        (ExecutionStatus.ABANDONED, ExecutionStatus.FAILED),
        (ExecutionStatus.TIMEOUT, ExecutionStatus.TIMEOUT),
        (ExecutionStatus.CANCELED, ExecutionStatus.CANCELED),
    ],
)
def test_the_chain_ends_with_its_last_tasks_status(last: ExecutionStatus | None, status: ExecutionStatus) -> None:
    assert chain_status(last) == status


def test_templates_see_parameters_then_results_then_vars_and_the_result_lists_tasks() -> None:
    record = TaskRecord(
        id="a",
        name="a",
        execution_id="e1",
        liveaction_id="e1",
        state="succeeded",
        created_at="t",
        updated_at="t",
        result={"stdout": "x"},
    )
    state = ChainState(spec=spec({"chain": []}), vars={"a": "var wins", "v": 1}, results={"a": {"stdout": "x"}})
    context = template_context(state, {"a": "param", "p": 2}, task_result=("b", {"rc": 0}))
    assert context["a"] == "var wins"
    assert context["p"] == 2 and context["v"] == 1
    assert context["b"] == {"rc": 0}
    assert context["__results"] == {"a": {"stdout": "x"}, "b": {"rc": 0}}
    result = chain_result([record], state.vars, display_published=False, error="boom")
    assert result == {"tasks": [record.model_dump()], "error": "boom"}
    assert chain_result([], state.vars, display_published=True)["published"] == {"a": "var wins", "v": 1}


def test_retry_delays_grow_with_backoff_and_stop_after_count() -> None:
    task = spec(
        {"chain": [{"name": "a", "ref": "x.y", "retry": {"count": 2, "delay": 1.5, "backoff": 3, "when": ["failed"]}}]}
    ).chain[0]
    assert retry_delay(task, ExecutionStatus.FAILED, 1) == 1.5
    assert retry_delay(task, ExecutionStatus.FAILED, 2) == 4.5
    assert retry_delay(task, ExecutionStatus.FAILED, 3) is None  # two retries done
    assert retry_delay(task, ExecutionStatus.TIMEOUT, 1) is None  # not in 'when'
    assert retry_delay(task, ExecutionStatus.SUCCEEDED, 1) is None
    no_retry = spec({"chain": [{"name": "a", "ref": "x.y"}]}).chain[0]
    assert retry_delay(no_retry, ExecutionStatus.FAILED, 1) is None


@pytest.mark.parametrize(
    ("task", "message"),
    [
        ({"retry": {"count": 0}}, "greater than or equal to 1"),
        ({"retry": {"count": 1, "when": ["succeeded"]}}, "'failed', 'timeout' or 'abandoned'"),
        ({"concurrency": 2}, "'concurrency' without 'with-items'"),
        ({"with-items": [1], "concurrency": 0}, "from 1 to 10000 .or a template giving one., not 0"),
        ({"with-items": [1], "concurrency": "many"}, "from 1 to 10000 .or a template giving one., not 'many'"),
        ({"with-items": [1], "concurrency": True}, "not True"),
        ({"timeout": 0}, "greater than 0"),
    ],
)
def test_bad_extension_keys_are_refused_with_a_reason(task: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        spec({"chain": [{"name": "a", "ref": "x.y", **task}]})


def test_a_with_items_task_ends_with_its_first_unsuccessful_item() -> None:
    progress = ItemsProgress(total=3, next=3)
    for index, status in ((2, ExecutionStatus.TIMEOUT), (0, ExecutionStatus.SUCCEEDED)):
        progress = progress.record(index, status)
    assert not progress.done
    progress = progress.record(1, ExecutionStatus.FAILED)  # ends last, but comes first in item order
    assert progress.done
    assert items_outcome(progress, {2: 3, 0: 1, 1: 2}) == (ExecutionStatus.FAILED, [1, 2, 3])
    ok = ItemsProgress(total=2, next=2).record(1, ExecutionStatus.SUCCEEDED).record(0, ExecutionStatus.SUCCEEDED)
    assert items_outcome(ok, {0: "a", 1: "b"}) == (ExecutionStatus.SUCCEEDED, ["a", "b"])


def test_concurrency_is_a_number_or_a_template_checked_when_the_task_starts() -> None:
    def task(concurrency: object) -> ChainTask:
        return spec({"chain": [{"name": "a", "ref": "x.y", "with-items": [1], "concurrency": concurrency}]}).chain[0]

    assert task("5").concurrency == 5
    assert task(7).concurrency == 7
    assert task("{{ limit }}").concurrency == "{{ limit }}"
