"""infra.register_target: register an instance in an ELBv2 target group, optionally waiting for it.

``wait``: ``none`` returns once the registration is accepted, ``registered`` waits until the group lists the
target, ``in_service`` until its health checks pass (boto3's ``target_in_service`` waiter). When the wait
fails, the action deregisters the target again before it fails, so a failed step leaves nothing behind.
"""

from __future__ import annotations

from typing import Any

from infra_aws import InfraAction, aws_errors, waiter_config
from infra_logic import StepFailed
from infra_targets import target_states, wait_listed

_WAITS = ("none", "registered", "in_service")


class RegisterTarget(InfraAction):
    def perform(self, target_group_arn: str, instance_id: str, port: int = 0, wait: str = "") -> dict[str, Any]:
        how = self.setting(wait, "target_wait", "registered")
        if how not in _WAITS:
            raise StepFailed(f"wait must be one of {', '.join(_WAITS)}, not {how!r}; fix the parameter or target_wait")
        target: dict[str, Any] = {"Id": instance_id}
        if port:
            target["Port"] = int(port)
        elbv2 = self.client("elbv2")
        subject = f"{instance_id} into {target_group_arn}"
        with aws_errors("RegisterTargets", subject, self.config):
            elbv2.register_targets(TargetGroupArn=target_group_arn, Targets=[target])
        try:
            if how == "registered":
                wait_listed(elbv2, target_group_arn, target, waiter_config(self.config), self.config)
            elif how == "in_service":
                self._wait_in_service(elbv2, target_group_arn, target)
        except StepFailed as exc:
            raise StepFailed(f"{exc}; {self._undo(elbv2, target_group_arn, target)}", exc.code) from exc
        states = target_states(elbv2, target_group_arn, target, self.config)
        return {
            "target_group_arn": target_group_arn,
            "instance_id": instance_id,
            "port": int(port) if port else None,
            "waited_for": how,
            "state": states[0] if states else "unknown",
        }

    def _wait_in_service(self, elbv2: Any, arn: str, target: dict[str, Any]) -> None:
        from botocore.exceptions import WaiterError

        settings = waiter_config(self.config)
        with aws_errors("DescribeTargetHealth", f"waiting for {target['Id']} to be in service", self.config):
            try:
                elbv2.get_waiter("target_in_service").wait(TargetGroupArn=arn, Targets=[target], WaiterConfig=settings)
            except WaiterError as exc:
                raise StepFailed(
                    f"target {target['Id']} is not healthy in {arn} after {settings['MaxAttempts']} checks "
                    f"{settings['Delay']} s apart: {exc}; check the group's health check (path, port) and that the "
                    "security groups let the load balancer reach the instance",
                    "WaiterError",
                ) from exc

    def _undo(self, elbv2: Any, arn: str, target: dict[str, Any]) -> str:
        try:
            elbv2.deregister_targets(TargetGroupArn=arn, Targets=[target])
        except Exception as exc:  # reported in the failure message, which the caller raises either way
            return f"deregistering it again failed too ({exc}): deregister {target['Id']} by hand"
        return "the target was deregistered again"
