"""Reading an ELBv2 target group's view of one target (DescribeTargetHealth)."""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

from infra_aws import aws_errors
from infra_logic import StepFailed

#: States of a target that is registered (``draining``: on its way out; absent: not registered).
_REGISTERED = frozenset({"initial", "healthy", "unhealthy", "unused", "unavailable"})


def target_states(elbv2: Any, arn: str, target: Mapping[str, Any], config: Mapping[str, Any]) -> list[str]:
    """The health states the group lists for ``target`` (empty: not registered)."""
    with aws_errors("DescribeTargetHealth", f"{target['Id']} in {arn}", config):
        described = elbv2.describe_target_health(TargetGroupArn=arn)["TargetHealthDescriptions"]
    return [
        str(d.get("TargetHealth", {}).get("State", ""))
        for d in described
        if d.get("Target", {}).get("Id") == target["Id"]
        and (not target.get("Port") or d["Target"].get("Port") == target["Port"])
    ]


def wait_listed(
    elbv2: Any, arn: str, target: Mapping[str, Any], settings: Mapping[str, Any], config: Mapping[str, Any]
) -> None:
    """Poll until the group lists ``target`` as registered (``settings``: boto3's WaiterConfig)."""
    states: list[str] = []
    for attempt in range(int(settings["MaxAttempts"])):
        states = target_states(elbv2, arn, target, config)
        if any(state in _REGISTERED for state in states):
            return
        if attempt + 1 < int(settings["MaxAttempts"]):
            time.sleep(float(settings["Delay"]))
    raise StepFailed(
        f"target {target['Id']} is not listed by {arn} after {settings['MaxAttempts']} checks {settings['Delay']} s "
        f"apart (states: {', '.join(states) or 'none'}); check the target group in the EC2 console",
        "WaiterError",
    )
