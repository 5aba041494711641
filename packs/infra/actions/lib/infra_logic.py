"""Pure logic of the infra pack: names, choices and messages, no AWS calls.

Kept apart from :mod:`infra_aws` (which talks to AWS) so that every decision
here can be checked without a network: how a record name is built, which
hosted zone a name means, what an AWS error code tells the user to fix, and
how a failed provisioning chain is summed up from its tasks' results.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

__all__ = [
    "FORWARD_STEPS",
    "IAM_ACTIONS",
    "ROLLBACK_STEPS",
    "StepFailed",
    "error_message",
    "failure_report",
    "find_record",
    "pick_hosted_zone",
    "record_name",
    "task_outcome",
    "zone_id",
]


class StepFailed(Exception):
    """One step could not do its work; ``str()`` says why and what to fix, ``code`` is AWS's error code (if any)."""

    def __init__(self, message: str, code: str = "") -> None:
        super().__init__(message)
        self.code = code


#: The chain's forward steps, in order, with what each one does (for messages).
FORWARD_STEPS: dict[str, str] = {
    "run_instance": "instance (EC2 RunInstances)",
    "upsert_dns": "DNS (Route 53 A record)",
    "register_target": "load balancer (ELBv2 RegisterTargets)",
}
#: The chain's rollback steps, in the order they run, with what each one undoes.
ROLLBACK_STEPS: dict[str, str] = {
    "delete_dns": "delete the A record",
    "terminate_instance": "terminate the instance",
}

#: The IAM action each AWS operation the pack calls needs (the README lists the same).
IAM_ACTIONS: dict[str, str] = {
    "RunInstances": "ec2:RunInstances",
    "CreateTags": "ec2:CreateTags",
    "DescribeInstances": "ec2:DescribeInstances",
    "TerminateInstances": "ec2:TerminateInstances",
    "ChangeResourceRecordSets": "route53:ChangeResourceRecordSets",
    "ListResourceRecordSets": "route53:ListResourceRecordSets",
    "ListHostedZonesByName": "route53:ListHostedZonesByName",
    "GetChange": "route53:GetChange",
    "RegisterTargets": "elasticloadbalancing:RegisterTargets",
    "DeregisterTargets": "elasticloadbalancing:DeregisterTargets",
    "DescribeTargetHealth": "elasticloadbalancing:DescribeTargetHealth",
}

_CREDENTIALS = (
    "AWS refused the credentials; set aws_access_key_id and aws_secret_access_key in the datastore "
    "('st2lite key set aws_access_key_id ...', 'st2lite key set aws_secret_access_key ... --encrypt') "
    "or fix the default AWS credential chain of the worker hosts"
)
_THROTTLED = "AWS is throttling these calls; run the action again in a minute"

#: What to fix, by AWS error code.
_HINTS: dict[str, str] = {
    "TargetGroupNotFound": (
        "no target group has this ARN in the pack's region; check target_group_arn "
        "('aws elbv2 describe-target-groups') and the region in configs/infra.yaml"
    ),
    "InvalidTarget": (
        "the instance cannot be a target of this group: it must be running and in the target group's VPC "
        "(subnet_id in configs/infra.yaml must be a subnet of that VPC)"
    ),
    "NoSuchHostedZone": (
        "no hosted zone has this id; check hosted_zone_id ('aws route53 list-hosted-zones'), "
        "or leave it empty to find the zone by its name"
    ),
    "InvalidChangeBatch": "Route 53 refused the change; check the record name, the zone and the address",
    "InvalidInput": "Route 53 refused the request; check the record name, the zone and the address",
    "InvalidAMIID.NotFound": "no image has this id in the pack's region; set image_id in configs/infra.yaml or pass it",
    "InvalidAMIID.Malformed": "image_id is not an AMI id (ami-...); set image_id in configs/infra.yaml or pass it",
    "InvalidSubnetID.NotFound": "the subnet does not exist in the pack's region; fix subnet_id in configs/infra.yaml",
    "InvalidGroup.NotFound": "a security group does not exist; fix security_group_ids in configs/infra.yaml",
    "InvalidKeyPair.NotFound": "the key pair does not exist in this region; fix key_name in configs/infra.yaml",
    "InvalidParameterValue": "a parameter has a value AWS does not accept; see the message",
    "InvalidParameterCombination": "these parameters cannot be used together; see the message",
    "InsufficientInstanceCapacity": "AWS has no capacity for this instance type here; try another instance_type",
    "InstanceLimitExceeded": "the account's instance quota is reached; terminate instances or ask AWS for more",
    "VcpuLimitExceeded": "the account's vCPU quota is reached; terminate instances or ask AWS for more",
    "AuthFailure": _CREDENTIALS,
    "InvalidClientTokenId": _CREDENTIALS,
    "SignatureDoesNotMatch": _CREDENTIALS,
    "UnrecognizedClientException": _CREDENTIALS,
    "ExpiredToken": _CREDENTIALS,
    "RequestExpired": _CREDENTIALS + " (or the worker's clock is wrong)",
    "Throttling": _THROTTLED,
    "ThrottlingException": _THROTTLED,
    "RequestLimitExceeded": _THROTTLED,
    "PriorRequestNotComplete": _THROTTLED,
}
_DENIED = frozenset({"UnauthorizedOperation", "AccessDenied", "AccessDeniedException"})


def error_message(operation: str, code: str, aws_message: str, *, subject: str = "") -> str:
    """What the user reads when ``operation`` failed with AWS error ``code``: the code, AWS's words, what to fix."""
    about = f" ({subject})" if subject else ""
    text = f"{operation}{about} failed with {code or 'an error'}: {aws_message.strip() or 'no message'}"
    if code in _DENIED:
        needed = IAM_ACTIONS.get(operation, f"the IAM action for {operation}")
        return f"{text}; allow {needed} in the IAM policy of these credentials (packs/infra/README.md lists them)"
    hint = _HINTS.get(code)
    return f"{text}; {hint}" if hint else text


def record_name(name: str, zone: str) -> str:
    """The record's full name as Route 53 writes it: ``<name>.<zone>.`` in lower case."""
    host = name.strip().strip(".").lower()
    domain = zone.strip().strip(".").lower()
    if not host:
        raise StepFailed("the record name is empty; give name, the host part (web-1 for web-1.example.com)")
    if not domain:
        raise StepFailed("the zone is empty; give zone, the domain of a Route 53 hosted zone (example.com)")
    return f"{host}.{domain}."


def zone_id(hosted_zone_id: str) -> str:
    """A hosted zone id as the API wants it, whether given as ``Z123`` or ``/hostedzone/Z123``."""
    return hosted_zone_id.strip().rsplit("/", 1)[-1]


def pick_hosted_zone(zones: Iterable[Mapping[str, Any]], zone: str, *, private: bool | None = None) -> str:
    """The id of the one hosted zone named ``zone`` among ``zones`` (ListHostedZonesByName's answer).

    ``private`` narrows to private (True) or public (False) zones when a name has both.

    Raises:
        StepFailed: No zone has the name, or several do and nothing says which.
    """
    wanted = zone.strip().strip(".").lower() + "."
    found = [z for z in zones if str(z.get("Name", "")).lower() == wanted]
    if private is not None:
        found = [z for z in found if bool(z.get("Config", {}).get("PrivateZone")) is private]
    if not found:
        raise StepFailed(
            f"no hosted zone named {wanted} in this account (NoSuchHostedZone); create it in Route 53, "
            "fix zone, or pass hosted_zone_id",
            "NoSuchHostedZone",
        )
    if len(found) > 1:
        ids = ", ".join(zone_id(str(z["Id"])) for z in found)
        raise StepFailed(f"{len(found)} hosted zones are named {wanted} ({ids}); pass hosted_zone_id to choose one")
    return zone_id(str(found[0]["Id"]))


def find_record(record_sets: Iterable[Mapping[str, Any]], name: str, kind: str = "A") -> dict[str, Any] | None:
    """The record set ``name``/``kind`` among ``record_sets`` (ListResourceRecordSets' answer), if there."""
    for record in record_sets:
        if str(record.get("Name", "")).lower() == name.lower() and record.get("Type") == kind:
            return dict(record)
    return None


# -- the provisioning chain's failure report ------------------------------------------------------


def task_outcome(result: Any) -> tuple[bool, str]:
    """(succeeded, why not) of one chain task from its result as chain templates see it.

    A Python action's result is ``{"result": <what run() returned>, "stdout", "stderr", "exit_code"}``;
    the pack's actions return ``{"ok": false, "error": ...}`` when they fail. A task that timed out or could
    not start has ``error`` at the top; one that raised has a non-zero ``exit_code`` and the traceback.
    """
    if not isinstance(result, Mapping):
        return False, f"no result ({result!r:.80})"
    if result.get("error"):
        return False, str(result["error"])
    returned = result.get("result")
    if isinstance(returned, Mapping) and returned.get("ok") is False:
        return False, str(returned.get("error") or "failed without a reason")
    code = result.get("exit_code", 0)
    if code not in (0, None):
        lines = [line for line in str(result.get("stderr", "")).splitlines() if line.strip()]
        return False, f"the action exited with {code}: {lines[-1] if lines else 'no output'}"
    return True, ""


def _done(name: str, result: Mapping[str, Any]) -> str:
    returned = result.get("result")
    if not isinstance(returned, Mapping):
        return "done"
    if name == "delete_dns":
        record = returned.get("record_name", "the record")
        return f"{record} was already gone" if returned.get("already_gone") else f"deleted {record}"
    if name == "terminate_instance":
        instance = returned.get("instance_id", "the instance")
        return f"{instance} was already gone" if returned.get("already_gone") else f"terminated {instance}"
    return "done"


def failure_report(name: str, results: Mapping[str, Any]) -> dict[str, Any]:
    """Why provisioning ``name`` failed and what was rolled back, from the chain's ``__results``.

    The first forward step (in chain order) that did not succeed is the one that failed; the rollback steps
    that ran are listed in the order the chain runs them, each as done or failed.
    """
    failed_step, failed_reason = "", ""
    for step in FORWARD_STEPS:
        if step in results:
            ok, why = task_outcome(results[step])
            if not ok:
                failed_step, failed_reason = step, why
                break
    ran = [step for step in ROLLBACK_STEPS if step in results]
    rolled_back, rollback_failed = [], []
    for step in ran:
        ok, why = task_outcome(results[step])
        if ok:
            rolled_back.append({"step": step, "done": _done(step, results[step])})
        else:
            rollback_failed.append({"step": step, "error": why})
    where = f"{failed_step} ({FORWARD_STEPS[failed_step]})" if failed_step else "an unknown step"
    reason = f"provisioning '{name}' failed at step {where}: {failed_reason or 'no reason recorded'}"
    if rolled_back:
        reason += "; rolled back: " + ", ".join(f"{r['step']} ({r['done']})" for r in rolled_back)
    elif not rollback_failed:
        reason += "; nothing to roll back"
    if rollback_failed:
        reason += "; ROLLBACK INCOMPLETE, clean up by hand: " + "; ".join(
            f"{r['step']} ({ROLLBACK_STEPS[r['step']]}) failed: {r['error']}" for r in rollback_failed
        )
    return {
        "ok": False,
        "name": name,
        "failed_step": failed_step,
        "error": reason,
        "step_error": failed_reason,
        "rolled_back": rolled_back,
        "rollback_failed": rollback_failed,
    }
