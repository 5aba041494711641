"""infra.terminate_instance: terminate one EC2 instance and wait until it is terminated.

An instance that is already terminated, or that EC2 no longer knows, counts as done (``already_gone``), so the
action can undo a provisioning as often as needed.
"""

from __future__ import annotations

from typing import Any

from infra_aws import InfraAction, aws_errors, client_error, waiter_config
from infra_logic import StepFailed

_GONE_CODES = frozenset({"InvalidInstanceID.NotFound"})


class TerminateInstance(InfraAction):
    def perform(self, instance_id: str, wait: bool = True) -> dict[str, Any]:
        from botocore.exceptions import ClientError, WaiterError

        ec2 = self.client("ec2")
        with aws_errors("TerminateInstances", instance_id, self.config):
            try:
                changes = ec2.terminate_instances(InstanceIds=[instance_id])["TerminatingInstances"]
            except ClientError as exc:
                if exc.response.get("Error", {}).get("Code") in _GONE_CODES:
                    return {"instance_id": instance_id, "state": "terminated", "already_gone": True}
                raise client_error(exc, "TerminateInstances", instance_id) from exc
        before = changes[0]["PreviousState"]["Name"] if changes else ""
        if wait:
            settings = waiter_config(self.config)
            with aws_errors("DescribeInstances", f"waiting for {instance_id} to terminate", self.config):
                try:
                    ec2.get_waiter("instance_terminated").wait(InstanceIds=[instance_id], WaiterConfig=settings)
                except WaiterError as exc:
                    raise StepFailed(
                        f"instance {instance_id} was asked to terminate but is not 'terminated' after "
                        f"{settings['MaxAttempts']} checks {settings['Delay']} s apart: {exc}; check it in the EC2 "
                        "console (termination protection, an instance stuck in shutting-down)",
                        "WaiterError",
                    ) from exc
        return {
            "instance_id": instance_id,
            "state": "terminated" if wait else (changes[0]["CurrentState"]["Name"] if changes else "unknown"),
            "previous_state": before,
            "already_gone": before == "terminated",
        }
