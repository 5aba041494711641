"""infra.run_instance: launch one EC2 instance with a Name tag and wait until it is running."""

from __future__ import annotations

import os
from typing import Any

from infra_aws import InfraAction, aws_errors, waiter_config
from infra_logic import StepFailed

#: States of an instance that still holds its name.
_ALIVE = ("pending", "running", "stopping", "stopped")


class RunInstance(InfraAction):
    def perform(
        self,
        name: str,
        image_id: str = "",
        instance_type: str = "",
        subnet_id: str = "",
        security_group_ids: list[str] | None = None,
        key_name: str = "",
        wait: bool = True,
    ) -> dict[str, Any]:
        image = self.setting(image_id, "image_id")
        if not image:
            raise StepFailed("no image id: pass image_id or set image_id in configs/infra.yaml (an AMI id, ami-...)")
        kind = self.setting(instance_type, "instance_type", "t3.micro")
        tags = [{"Key": str(k), "Value": str(v)} for k, v in (self.config.get("tags") or {}).items()]
        tags.append({"Key": "Name", "Value": name})
        execution = os.environ.get("ST2_ACTION_EXECUTION_ID", "")
        if execution:
            tags.append({"Key": "st2lite:execution", "Value": execution})
        request: dict[str, Any] = {
            "ImageId": image,
            "InstanceType": kind,
            "MinCount": 1,
            "MaxCount": 1,
            "TagSpecifications": [{"ResourceType": "instance", "Tags": tags}],
        }
        subnet = self.setting(subnet_id, "subnet_id")
        if subnet:
            request["SubnetId"] = subnet
        groups = self.setting(security_group_ids, "security_group_ids")
        if groups:
            request["SecurityGroupIds"] = list(groups)
        key = self.setting(key_name, "key_name")
        if key:
            request["KeyName"] = key
        ec2 = self.client("ec2")
        if self.config.get("unique_names", True):
            self._refuse_taken_name(ec2, name)
        with aws_errors("RunInstances", f"image {image}, type {kind}", self.config):
            launched = ec2.run_instances(**request)["Instances"][0]
        instance_id = str(launched["InstanceId"])
        self.logger.info("launched %s (%s) for %s", instance_id, kind, name)
        if wait:
            self._wait_running(ec2, instance_id)
        with aws_errors("DescribeInstances", instance_id, self.config):
            found = ec2.describe_instances(InstanceIds=[instance_id])["Reservations"][0]["Instances"][0]
        return {
            "instance_id": instance_id,
            "name": name,
            "state": found["State"]["Name"],
            "private_ip": found.get("PrivateIpAddress") or "",
            "public_ip": found.get("PublicIpAddress") or "",
            "image_id": image,
            "instance_type": kind,
            "subnet_id": found.get("SubnetId") or "",
        }

    def _refuse_taken_name(self, ec2: Any, name: str) -> None:
        """Fail when an instance that is not terminated already has the Name tag ``name`` (a repeated request)."""
        filters = [
            {"Name": "tag:Name", "Values": [name]},
            {"Name": "instance-state-name", "Values": list(_ALIVE)},
        ]
        with aws_errors("DescribeInstances", f"instances named {name}", self.config):
            reservations = ec2.describe_instances(Filters=filters)["Reservations"]
        taken = [f"{i['InstanceId']} ({i['State']['Name']})" for r in reservations for i in r["Instances"]]
        if taken:
            raise StepFailed(
                f"an instance named {name} already exists: {', '.join(taken)}; nothing was launched. Pick another "
                "name, terminate that instance first (infra.terminate_instance), or set unique_names: false in "
                "configs/infra.yaml to allow several instances with one name",
                "NameInUse",
            )

    def _wait_running(self, ec2: Any, instance_id: str) -> None:
        """Wait until ``instance_id`` runs; if it does not, terminate it (nothing of ours is left) and fail."""
        from botocore.exceptions import WaiterError

        settings = waiter_config(self.config)
        try:
            with aws_errors("DescribeInstances", f"waiting for {instance_id} to run", self.config):
                try:
                    ec2.get_waiter("instance_running").wait(InstanceIds=[instance_id], WaiterConfig=settings)
                except WaiterError as exc:
                    raise StepFailed(
                        f"instance {instance_id} did not reach 'running' after {settings['MaxAttempts']} checks "
                        f"{settings['Delay']} s apart (last state: {_last_state(exc)}): {exc}. Raise "
                        "waiter_max_attempts in configs/infra.yaml if instances of this type start slowly, or read "
                        "the instance's state reason in the EC2 console",
                        "WaiterError",
                    ) from exc
        except StepFailed as exc:
            raise StepFailed(f"{exc}; {_terminate_quietly(ec2, instance_id)}", exc.code) from exc


def _last_state(exc: Exception) -> str:
    response = getattr(exc, "last_response", None) or {}
    try:
        return str(response["Reservations"][0]["Instances"][0]["State"]["Name"])
    except (KeyError, IndexError, TypeError):
        return "unknown"


def _terminate_quietly(ec2: Any, instance_id: str) -> str:
    try:
        ec2.terminate_instances(InstanceIds=[instance_id])
    except Exception as exc:  # the message says it: the caller fails either way
        return f"terminating it failed too ({exc}): terminate {instance_id} by hand"
    return "it was terminated"
