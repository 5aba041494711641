"""Policy files: loading, StackStorm's parameter rules per type, and the pure retry/attribute logic."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from st2lite.content import ContentSet
from st2lite.packs import PackSource, load_all
from st2lite.policies import ActionPolicies, Policy, RetryParameters, attribute_digest, retry_context, retry_matches
from st2lite.statuses import ExecutionStatus

PACK_YAML = "name: ops\ndescription: test pack\nversion: 0.1.0\nauthor: tests\n"
ACTION = """\
name: restart
runner_type: local-shell-cmd
parameters:
  host:
    type: string
"""


@pytest.fixture
def in_tmp(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    monkeypatch.chdir(tmp_path)
    return tmp_path


def pack(policies: dict[str, str]) -> PackSource:
    folder = Path("ops")
    (folder / "actions").mkdir(parents=True)
    (folder / "policies").mkdir()
    (folder / "pack.yaml").write_text(PACK_YAML)
    (folder / "actions" / "restart.yaml").write_text(ACTION)
    for name, text in policies.items():
        (folder / "policies" / name).write_text(textwrap.dedent(text).lstrip("\n"))
    return PackSource(path=folder)


GOOD = """
    name: one_per_host
    resource_ref: ops.restart
    policy_type: action.concurrency.attr
    parameters: {threshold: 1, attributes: [host]}
"""


def test_policies_load_with_their_defaults_and_survive_the_registry(in_tmp: Path) -> None:
    report = load_all(
        [
            pack(
                {
                    "a.yaml": GOOD,
                    "b.yaml": "name: retry\nresource_ref: ops.restart\n"
                    "policy_type: action.retry\nparameters: {retry_on: timeout}\n",
                }
            )
        ]
    )
    assert report.problems == []
    policies = report.content.policies
    assert sorted(policies) == ["ops.one_per_host", "ops.retry"]
    assert policies["ops.one_per_host"].parameters == {"threshold": 1, "action": "delay", "attributes": ["host"]}
    assert policies["ops.retry"].parameters == {"retry_on": "timeout", "max_retry_count": 2, "delay": 0}
    assert ContentSet.from_json(report.content.to_json()).policies == policies


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "name: p\nresource_ref: ops.restart\npolicy_type: action.concurency\nparameters: {threshold: 1}\n",
            "ops/policies/bad.yaml:3: field 'policy_type': unknown policy type 'action.concurency'; "
            "did you mean 'action.concurrency'?",
        ),
        (
            "name: p\nresource_ref: ops.restrat\npolicy_type: action.concurrency\nparameters: {threshold: 1}\n",
            "ops/policies/bad.yaml:2: field 'resource_ref': unknown action 'ops.restrat'; did you mean 'ops.restart'?",
        ),
        (
            "name: p\nresource_ref: ops.restart\npolicy_type: action.concurrency\nparameters: {threshold: 0}\n",
            "ops/policies/bad.yaml:4: field 'parameters.threshold': must be at least 1, not 0",
        ),
        (
            "name: p\nresource_ref: ops.restart\npolicy_type: action.concurrency\nparameters: {threshold: '2'}\n",
            "ops/policies/bad.yaml:4: field 'parameters.threshold': must be a whole number, not a string",
        ),
        (
            "name: p\nresource_ref: ops.restart\npolicy_type: action.concurrency\n"
            "parameters: {threshold: 1, action: wait}\n",
            "ops/policies/bad.yaml:4: field 'parameters.action': must be 'delay' or 'cancel', not 'wait'",
        ),
        (
            "name: p\nresource_ref: ops.restart\npolicy_type: action.concurrency.attr\n"
            "parameters: {threshold: 1, attributes: [hots]}\n",
            "ops/policies/bad.yaml:4: field 'parameters.attributes.0': action 'ops.restart' has no parameter "
            "'hots'; did you mean 'host'?",
        ),
        (
            "name: p\nresource_ref: ops.restart\npolicy_type: action.retry\nparameters: {retry_on: error}\n",
            "ops/policies/bad.yaml:4: field 'parameters.retry_on': must be 'failure' or 'timeout', not 'error'",
        ),
        (
            "name: p\nresource_ref: ops.restart\npolicy_type: action.retry\n"
            "parameters: {retry_on: failure, max_retry_count: 6}\n",
            "ops/policies/bad.yaml:4: field 'parameters.max_retry_count': must be at most 5, not 6",
        ),
        (
            "name: p\nresource_ref: ops.restart\npolicy_type: action.retry\n"
            "parameters: {retry_on: failure, max_retry_count: 0}\n",
            "ops/policies/bad.yaml:4: field 'parameters.max_retry_count': must be at least 1, not 0",
        ),
        (
            "name: p\nresource_ref: ops.restart\npolicy_type: action.sla\nparameters: {duration: 0}\n",
            "ops/policies/bad.yaml:4: field 'parameters.duration': must be more than 0, not 0",
        ),
    ],
)
def test_a_bad_policy_is_reported_and_the_rest_of_the_pack_loads(in_tmp: Path, text: str, expected: str) -> None:
    report = load_all([pack({"bad.yaml": text, "good.yaml": GOOD})])
    assert [str(p) for p in report.problems] == [expected]
    assert sorted(report.content.policies) == ["ops.one_per_host"]
    assert sorted(report.content.actions) == ["ops.restart"]


def test_several_policies_of_one_action_all_apply() -> None:
    def policy(name: str, policy_type: str, parameters: dict[str, object], enabled: bool = True) -> Policy:
        return Policy(
            name=name,
            pack="ops",
            resource_ref="ops.restart",
            policy_type=policy_type,
            parameters=parameters,
            enabled=enabled,
        )

    grouped = ActionPolicies.of(
        [
            policy("a", "action.concurrency", {"threshold": 3}),
            policy("b", "action.concurrency.attr", {"threshold": 1, "attributes": ["host"], "action": "cancel"}),
            policy("c", "action.retry", {"retry_on": "failure"}),
            policy("d", "action.sla", {"duration": 5}, enabled=False),
        ]
    )
    assert [s.ref for s in grouped.concurrency] == ["ops.a", "ops.b"]  # StackStorm/st2#5223: both count
    assert grouped.held_back and grouped.sla is None
    slots = grouped.slots("ops.restart", {"host": "web1"})
    assert [(s["n"], bool(s["c"])) for s in slots] == [(3, False), (1, True)]
    assert slots[0]["k"] == "st2lite:policy:ops.a:all"
    assert slots[1]["k"] == f"st2lite:policy:ops.b:{attribute_digest(['host'], {'host': 'web1'})}"
    assert attribute_digest(["host"], {"host": "web1"}) != attribute_digest(["host"], {"host": "web2"})


def test_retry_counts_like_stackstorm() -> None:
    params = RetryParameters(retry_on="failure", max_retry_count=2)
    first = retry_context({"user": "u"}, policy="ops.retry", retried_id="A")
    assert first == {
        "user": "u",
        "policies": {"retry": {"applied_policy": "ops.retry", "retry_count": 1, "retried_liveaction_id": "A"}},
    }
    second = retry_context(first, policy="ops.retry", retried_id="B")
    assert second["policies"]["retry"]["retry_count"] == 2
    assert retry_matches(params, ExecutionStatus.FAILED, {})
    assert retry_matches(params, ExecutionStatus.FAILED, first)
    assert not retry_matches(params, ExecutionStatus.FAILED, second)  # 2 retries done: stop
    assert not retry_matches(params, ExecutionStatus.TIMEOUT, {})
    assert not retry_matches(params, ExecutionStatus.ABANDONED, {})
