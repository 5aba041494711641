"""infra.deregister_target: take an instance out of an ELBv2 target group, optionally waiting until it is out.

A target the group does not list counts as done (``already_gone``).
"""

from __future__ import annotations

from typing import Any

from infra_aws import InfraAction, aws_errors, client_error, waiter_config
from infra_logic import StepFailed
from infra_targets import target_states


class DeregisterTarget(InfraAction):
    def perform(self, target_group_arn: str, instance_id: str, port: int = 0, wait: bool = False) -> dict[str, Any]:
        from botocore.exceptions import ClientError, WaiterError

        target: dict[str, Any] = {"Id": instance_id}
        if port:
            target["Port"] = int(port)
        elbv2 = self.client("elbv2")
        if not target_states(elbv2, target_group_arn, target, self.config):
            return {"target_group_arn": target_group_arn, "instance_id": instance_id, "already_gone": True}
        subject = f"{instance_id} from {target_group_arn}"
        with aws_errors("DeregisterTargets", subject, self.config):
            try:
                elbv2.deregister_targets(TargetGroupArn=target_group_arn, Targets=[target])
            except ClientError as exc:
                if exc.response.get("Error", {}).get("Code") == "InvalidTarget":
                    return {"target_group_arn": target_group_arn, "instance_id": instance_id, "already_gone": True}
                raise client_error(exc, "DeregisterTargets", subject) from exc
        if wait:
            settings = waiter_config(self.config)
            with aws_errors("DescribeTargetHealth", f"waiting for {instance_id} to leave", self.config):
                try:
                    elbv2.get_waiter("target_deregistered").wait(
                        TargetGroupArn=target_group_arn, Targets=[target], WaiterConfig=settings
                    )
                except WaiterError as exc:
                    raise StepFailed(
                        f"target {instance_id} is still in {target_group_arn} after {settings['MaxAttempts']} checks "
                        f"{settings['Delay']} s apart: {exc}; connection draining may take longer (the group's "
                        "deregistration delay); raise waiter_max_attempts or run without wait",
                        "WaiterError",
                    ) from exc
        return {"target_group_arn": target_group_arn, "instance_id": instance_id, "already_gone": False}
