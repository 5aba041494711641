"""The infra pack end to end: a ticketing system's webhook provisions a server on "AWS".

AWS is moto in server mode (``moto_server``, a real subprocess on 127.0.0.1) and the pack's actions talk to it
with boto3 through the pack config's ``endpoint_url``; the access keys come from the encrypted datastore. One
``st2lite up`` (the bundled packs, the config in a temporary configs folder) serves every test of the module,
driven only from outside: signed webhooks and the API over HTTP, and boto3 against moto to set up the VPC,
hosted zone and target group and to check what the chains left behind.
"""

from __future__ import annotations

import hashlib
import hmac
import importlib
import re
import subprocess
import sys
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from types import ModuleType
from typing import Any

import boto3
import httpx
import orjson
import pytest
import yaml

from st2lite import keys
from st2lite.embedded_redis import free_port
from st2lite.encryption import generate_key_file
from st2lite.redisdb import connect

from ..conftest import FINAL, Procs, Up, wait_for
from .standin_aws import FaultyAws, Refusal, faulty_aws

pytestmark = [pytest.mark.e2e, pytest.mark.redis]

REPO = Path(__file__).resolve().parents[3]
PACKS = REPO / "packs"
REGION = "us-east-1"
ZONE = "infra.test"
WEBHOOK_SECRET = "ticketing-shared-secret"
ACCESS_KEY = "AKIAINFRATEST0000001"
SECRET_KEY = "infra-test-secret-access-key"
MISSING_TG = "arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/missing/0123456789abcdef"
#: Seconds a provisioning may take here (six Python actions of about a second each, on a busy machine).
CHAIN_DEADLINE = 60.0


def _pack_lib(name: str) -> ModuleType:
    """A module of the pack's ``actions/lib`` (on ``sys.path`` as the Python runner puts it there)."""
    lib = str(PACKS / "infra" / "actions" / "lib")
    if lib not in sys.path:
        sys.path.append(lib)
    return importlib.import_module(name)


logic = _pack_lib("infra_logic")
aws_lib = _pack_lib("infra_aws")


# -- the stand-in AWS and the st2lite under test ----------------------------------------------------


class Aws:
    """boto3 clients on the moto server, and what the tests set up in it."""

    def __init__(self, endpoint: str) -> None:
        options: dict[str, Any] = {
            "region_name": REGION,
            "endpoint_url": endpoint,
            "aws_access_key_id": "test-setup",
            "aws_secret_access_key": "test-setup",
        }
        self.endpoint = endpoint
        self.ec2 = boto3.client("ec2", **options)
        self.route53 = boto3.client("route53", **options)
        self.elbv2 = boto3.client("elbv2", **options)
        vpc = self.ec2.create_vpc(CidrBlock="10.20.0.0/16")["Vpc"]["VpcId"]
        self.subnet = self.ec2.create_subnet(VpcId=vpc, CidrBlock="10.20.1.0/24")["Subnet"]["SubnetId"]
        self.image = self.ec2.register_image(Name="web-base", Architecture="x86_64", RootDeviceName="/dev/xvda")[
            "ImageId"
        ]
        zone = self.route53.create_hosted_zone(Name=ZONE, CallerReference="infra-e2e")["HostedZone"]
        self.zone_id = zone["Id"].rsplit("/", 1)[-1]
        self.target_group = self.elbv2.create_target_group(
            Name="web", Protocol="HTTP", Port=80, VpcId=vpc, TargetType="instance"
        )["TargetGroups"][0]["TargetGroupArn"]

    def instance(self, instance_id: str) -> dict[str, Any]:
        reservations = self.ec2.describe_instances(InstanceIds=[instance_id])["Reservations"]
        found: dict[str, Any] = reservations[0]["Instances"][0]
        return found

    def instances_named(self, name: str) -> list[dict[str, Any]]:
        reservations = self.ec2.describe_instances(Filters=[{"Name": "tag:Name", "Values": [name]}])["Reservations"]
        return [i for r in reservations for i in r["Instances"]]

    def instance_count(self) -> int:
        return sum(len(r["Instances"]) for r in self.ec2.describe_instances()["Reservations"])

    def a_record(self, name: str) -> dict[str, Any] | None:
        listed = self.route53.list_resource_record_sets(HostedZoneId=self.zone_id)["ResourceRecordSets"]
        record: dict[str, Any] | None = logic.find_record(listed, f"{name}.{ZONE}.", "A")
        return record

    def targets(self) -> dict[str, str]:
        described = self.elbv2.describe_target_health(TargetGroupArn=self.target_group)["TargetHealthDescriptions"]
        return {d["Target"]["Id"]: d["TargetHealth"]["State"] for d in described}


@pytest.fixture(scope="module")
def procs(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Procs]:
    harness = Procs(tmp_path_factory.mktemp("infra"))
    yield harness
    harness.cleanup()


def _moto_ready(procs: Procs, server: subprocess.Popen[bytes], endpoint: str) -> Aws:
    """Wait until ``moto_server`` answers, then set up the VPC, subnet, image, hosted zone and target group."""

    def answering() -> bool:
        assert server.poll() is None, f"moto_server exited:\n{procs.output(server)}"
        try:
            return httpx.get(f"{endpoint}/moto-api/", timeout=1).status_code == 200
        except httpx.TransportError:
            return False

    wait_for(answering, what="moto_server to answer", timeout=30, interval=0.1)
    return Aws(endpoint)


@dataclass
class Stack:
    up: Up
    aws: Aws
    proxy: FaultyAws


@pytest.fixture(scope="module")
def stack(procs: Procs) -> Iterator[Stack]:
    """``moto_server`` on a free port of 127.0.0.1 behind the fault-injecting proxy, and ``st2lite up`` with the
    bundled packs, the infra config (pointing at the proxy) in a temporary configs folder and the keys in the
    datastore. AWS is set up while st2lite starts; the config reads the subnet and image ids from the datastore."""
    port = free_port()
    endpoint = f"http://127.0.0.1:{port}"
    moto = procs.start(
        [str(Path(sys.executable).with_name("moto_server")), "-H", "127.0.0.1", "-p", str(port)],
        env={"PATH": str(Path(sys.executable).parent), "MOTO_EC2_LOAD_DEFAULT_AMIS": "false"},
        name="moto",
    )
    root = procs.cwd.parent
    home, site, configs = root / "home", root / "site", root / "configs"
    site.mkdir()
    configs.mkdir()
    key_file = generate_key_file(home / "keys" / "datastore.key")
    with faulty_aws(endpoint) as proxy, ThreadPoolExecutor(max_workers=1) as pool:
        config = {
            "region": REGION,
            "endpoint_url": proxy.url,
            "aws_access_key_id": "{{ st2kv.system.aws_access_key_id }}",
            "aws_secret_access_key": "{{ st2kv.system.aws_secret_access_key }}",
            "image_id": "{{ st2kv.system.infra_test_image }}",
            "instance_type": "t3.micro",
            "subnet_id": "{{ st2kv.system.infra_test_subnet }}",
            "tags": {"team": "web"},
            "waiter_delay": 0.2,
            "waiter_max_attempts": 25,
            "max_attempts": 2,
        }
        (configs / "infra.yaml").write_text(yaml.safe_dump(config))
        setting_up = pool.submit(_moto_ready, procs, moto, endpoint)
        up = Up.start(
            procs,
            home,
            site,
            workers=2,
            ST2LITE_PACKS_PATH=PACKS,
            ST2LITE_CONFIGS_DIR=configs,
            ST2LITE_DATASTORE_KEY_FILE=key_file,
        )
        aws = setting_up.result(timeout=60)
        for name, value, secret in (
            ("aws_access_key_id", ACCESS_KEY, False),
            ("aws_secret_access_key", SECRET_KEY, True),
            ("infra_webhook_secret", WEBHOOK_SECRET, True),
            ("infra_test_image", aws.image, False),
            ("infra_test_subnet", aws.subnet, False),
        ):
            body = {"name": name, "scope": "system", "value": value, "secret": secret}
            response = up._http.put(f"{up.api_url}/api/v1/keys/{name}", json=body)
            assert response.status_code == 200, response.text
        yield Stack(up, aws, proxy)
        up.stop()


@pytest.fixture(scope="module")
def up(stack: Stack) -> Up:
    return stack.up


@pytest.fixture(scope="module")
def aws(stack: Stack) -> Aws:
    return stack.aws


@pytest.fixture(scope="module")
def proxy(stack: Stack) -> FaultyAws:
    return stack.proxy


# -- helpers --------------------------------------------------------------------------------------


def sign(body: bytes, secret: str = WEBHOOK_SECRET) -> dict[str, str]:
    digest = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    return {"X-Hub-Signature-256": f"sha256={digest}", "Content-Type": "application/json"}


def request_server(up: Up, body: dict[str, Any], *, wait: float = 0) -> httpx.Response:
    """POST ``body`` to the infra/provision webhook, signed as the ticketing system signs it."""
    raw = orjson.dumps(body)
    query = f"?wait={wait:g}" if wait else ""
    return up.post(f"/api/v1/webhooks/infra/provision{query}", content=raw, headers=sign(raw))


def chain_of(up: Up, trigger_instance: str) -> dict[str, Any]:
    """The provisioning chain the webhook's trigger instance started, once it has ended."""

    def started() -> str | None:
        found = [e.id for e in up.executions_of(trigger_instance) if e.action == "infra.provision_server"]
        return found[0] if found else None

    chain_id = wait_for(started, what=f"the chain of trigger instance {trigger_instance}")
    return up.wait_status(chain_id, set(FINAL), timeout=CHAIN_DEADLINE)


def provision(up: Up, body: dict[str, Any]) -> dict[str, Any]:
    response = request_server(up, body)
    assert response.status_code == 202, response.text
    return chain_of(up, response.json()["id"])


def task_names(chain: dict[str, Any]) -> list[str]:
    return [task["name"] for task in chain["result"]["tasks"]]


def when(stamp: str) -> datetime:
    return datetime.fromisoformat(stamp.replace("Z", "+00:00"))


def logged(execution: dict[str, Any], status: str) -> datetime | None:
    """When ``execution`` entered ``status`` (its status log), if it did."""
    stamps = [when(entry["timestamp"]) for entry in execution["log"] if entry["status"] == status]
    return stamps[0] if stamps else None


def assert_ran_in_order(up: Up, chain: dict[str, Any], expected: list[str]) -> None:
    """The chain's tasks are ``expected``, each one ended before the next one started (the executions' times)."""
    assert task_names(chain) == expected
    executions = [up.execution(task["execution_id"]) for task in chain["result"]["tasks"]]
    for earlier, later in zip(executions, executions[1:], strict=False):
        assert when(earlier["end_timestamp"]) <= when(later["start_timestamp"]), (earlier["action"], later["action"])


def failure_of(chain: dict[str, Any]) -> dict[str, Any]:
    """What infra.provision_failed, the chain's last task, returned."""
    last = chain["result"]["tasks"][-1]
    assert last["name"] == "provision_failed" and last["state"] == "failed", last
    report: dict[str, Any] = last["result"]["result"]
    return report


# -- the scenarios --------------------------------------------------------------------------------


def test_webhook_provisions_instance_dns_and_target(up: Up, aws: Aws, proxy: FaultyAws) -> None:
    response = request_server(
        up, {"name": "web-a", "zone": ZONE, "target_group_arn": aws.target_group, "ticket": "OPS-1"}, wait=30
    )
    assert response.status_code == 200, response.text
    chain = chain_of(up, response.json()["trigger_instance"])  # ?wait=30 has usually seen it end already
    assert chain["status"] == "succeeded", chain["result"]
    assert chain["rule"]["ref"] == "infra.provision_on_webhook"
    published = chain["result"]["published"]
    instance = aws.instance(published["vm_id"])
    assert instance["State"]["Name"] == "running"
    assert {"Key": "Name", "Value": "web-a"} in instance["Tags"]
    assert {"Key": "team", "Value": "web"} in instance["Tags"]
    assert instance["SubnetId"] == aws.subnet and instance["ImageId"] == aws.image
    record = aws.a_record("web-a")
    assert record is not None, "no A record web-a.infra.test"
    assert record["ResourceRecords"] == [{"Value": instance["PrivateIpAddress"]}]
    assert published["vm_address"] == instance["PrivateIpAddress"] and published["fqdn"] == "web-a.infra.test."
    assert aws.targets().get(published["vm_id"]) == "healthy"
    assert_ran_in_order(up, up.execution(chain["id"]), ["run_instance", "upsert_dns", "register_target"])
    run = up.execution(chain["result"]["tasks"][0]["execution_id"])["result"]["result"]
    assert run["instance_id"] == published["vm_id"] and run["private_ip"] == instance["PrivateIpAddress"]
    assert proxy.access_keys == {ACCESS_KEY}  # every call was signed with the key id from the datastore


def test_load_balancer_failure_rolls_back_dns_then_instance(up: Up, aws: Aws) -> None:
    chain = provision(up, {"name": "web-b", "zone": ZONE, "target_group_arn": MISSING_TG})

    assert chain["status"] == "failed"
    assert_ran_in_order(
        up,
        chain,
        ["run_instance", "upsert_dns", "register_target", "delete_dns", "terminate_instance", "provision_failed"],
    )
    instance_id = chain["result"]["published"]["vm_id"]
    report = failure_of(chain)
    assert report["failed_step"] == "register_target"
    assert "TargetGroupNotFound" in report["step_error"] and "check target_group_arn" in report["step_error"]
    assert report["error"].startswith(
        "provisioning 'web-b' failed at step register_target (load balancer (ELBv2 RegisterTargets)): RegisterTargets"
    )
    assert (
        f"rolled back: delete_dns (deleted web-b.{ZONE}.), terminate_instance (terminated {instance_id})"
        in (report["error"])
    )
    assert report["rollback_failed"] == []
    assert aws.instance(instance_id)["State"]["Name"] == "terminated"
    assert aws.a_record("web-b") is None
    assert instance_id not in aws.targets()


def test_a_failed_rollback_step_is_reported_and_the_others_still_run(up: Up, aws: Aws, proxy: FaultyAws) -> None:
    """The credentials may not delete records: the DNS rollback fails, the instance is still terminated, and the
    reason says the rollback is incomplete and what to clean up."""
    denied = "User: arn:aws:iam::123456789012:user/st2 is not authorized to perform: route53:ChangeResourceRecordSets"
    refusal = Refusal("/rrset", (b"<Action>DELETE</Action>", b"web-f.infra.test."), 403, "AccessDenied", denied)
    proxy.refusals.append(refusal)
    try:
        chain = provision(up, {"name": "web-f", "zone": ZONE, "target_group_arn": MISSING_TG})
    finally:
        proxy.refusals.remove(refusal)

    assert chain["status"] == "failed"
    assert [(task["name"], task["state"]) for task in chain["result"]["tasks"]] == [
        ("run_instance", "succeeded"),
        ("upsert_dns", "succeeded"),
        ("register_target", "failed"),
        ("delete_dns", "failed"),
        ("terminate_instance", "succeeded"),
        ("provision_failed", "failed"),
    ]
    assert len(proxy.refused) >= 1 and all("/rrset" in call for call in proxy.refused)
    instance_id = chain["result"]["published"]["vm_id"]
    report = failure_of(chain)
    assert report["failed_step"] == "register_target"
    assert report["rolled_back"] == [{"step": "terminate_instance", "done": f"terminated {instance_id}"}]
    assert [r["step"] for r in report["rollback_failed"]] == ["delete_dns"]
    assert "ROLLBACK INCOMPLETE, clean up by hand: delete_dns (delete the A record) failed: " in report["error"]
    assert f"failed with AccessDenied: {denied}; allow route53:ChangeResourceRecordSets" in report["error"]
    assert aws.instance(instance_id)["State"]["Name"] == "terminated"
    assert aws.a_record("web-f") is not None  # left behind, as the reason says


def test_dns_failure_terminates_the_instance(up: Up, aws: Aws) -> None:
    chain = provision(up, {"name": "web-c", "zone": "nozone.test", "target_group_arn": aws.target_group})

    assert chain["status"] == "failed"
    assert_ran_in_order(up, chain, ["run_instance", "upsert_dns", "terminate_instance", "provision_failed"])
    instance_id = chain["result"]["published"]["vm_id"]
    report = failure_of(chain)
    assert report["failed_step"] == "upsert_dns"
    assert "no hosted zone named nozone.test." in report["step_error"]
    assert f"rolled back: terminate_instance (terminated {instance_id})" in report["error"]
    assert [i["State"]["Name"] for i in aws.instances_named("web-c")] == ["terminated"]
    assert instance_id not in aws.targets()


def test_same_name_waits_while_another_name_runs_at_once(up: Up, aws: Aws) -> None:
    """A ticket sent twice: the second provisioning of web-d waits for the first (the policy), then finds the
    name taken and launches nothing; web-e, another name, runs alongside the first."""
    bodies = [
        {"name": "web-d", "zone": ZONE, "target_group_arn": aws.target_group},
        {"name": "web-d", "zone": ZONE, "target_group_arn": aws.target_group},
        {"name": "web-e", "zone": ZONE, "target_group_arn": aws.target_group},
    ]
    accepted = [request_server(up, body) for body in bodies]
    assert [r.status_code for r in accepted] == [202, 202, 202], [r.text for r in accepted]
    first, second, other = (chain_of(up, r.json()["id"]) for r in accepted)

    early, late = sorted([first, second], key=lambda e: logged(e, "running") or when(e["end_timestamp"]))
    assert early["status"] == "succeeded" and other["status"] == "succeeded"
    assert logged(early, "delayed") is None
    assert logged(late, "delayed") is not None, late["log"]  # the policy held the second web-d back...
    assert logged(late, "running") >= when(early["end_timestamp"])  # ...until the first one had ended,
    report = failure_of(late)  # ...so it saw the first one's instance and launched nothing
    assert late["status"] == "failed" and report["failed_step"] == "run_instance"
    web_d = early["result"]["published"]["vm_id"]
    assert f"an instance named web-d already exists: {web_d} (running); nothing was launched" in report["error"]
    assert report["error"].endswith("; nothing to roll back")
    assert task_names(late) == ["run_instance", "provision_failed"]
    # web-e was not held back: it ran while the first web-d ran.
    assert logged(other, "delayed") is None
    assert logged(other, "running") < when(early["end_timestamp"])
    assert when(other["end_timestamp"]) > logged(early, "running")
    assert [i["InstanceId"] for i in aws.instances_named("web-d")] == [web_d]
    assert len(aws.instances_named("web-e")) == 1
    assert aws.a_record("web-d")["ResourceRecords"] == [{"Value": aws.instance(web_d)["PrivateIpAddress"]}]


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (
            {"zone": ZONE, "target_group_arn": "arn:aws:elasticloadbalancing:us-east-1:1:targetgroup/x/1"},
            "at (root): 'name' is a required property",
        ),
        (
            {"name": "Web_1", "zone": ZONE, "target_group_arn": "arn:aws:elasticloadbalancing:us-east-1:1:tg/x"},
            "at name: 'Web_1' does not match",
        ),
        ({"name": "web-x", "zone": ZONE, "target_group_arn": "tg-123"}, "at target_group_arn: 'tg-123' does not match"),
        (
            {"name": "web-x", "zone": 7, "target_group_arn": "arn:aws:elasticloadbalancing:us-east-1:1:tg/x"},
            "at zone: 7 is not of type 'string'",
        ),
        ({"name": "web-x", "target_group_arn": "arn:aws:elasticloadbalancing:x"}, "'zone' is a required property"),
    ],
)
def test_bad_bodies_are_refused_and_start_nothing(up: Up, aws: Aws, body: dict[str, Any], expected: str) -> None:
    before = (_trigger_count(up), len(up.executions()), aws.instance_count())

    response = request_server(up, body)

    assert response.status_code == 400, response.text
    assert "body does not match the schema of webhook 'infra/provision'" in response.json()["faultstring"]
    assert expected in response.json()["faultstring"]
    assert (_trigger_count(up), len(up.executions()), aws.instance_count()) == before


def test_unsigned_or_badly_signed_requests_are_refused(up: Up, aws: Aws) -> None:
    before = (_trigger_count(up), len(up.executions()), aws.instance_count())
    raw = orjson.dumps({"name": "web-x", "zone": ZONE, "target_group_arn": aws.target_group})

    unsigned = up.post("/api/v1/webhooks/infra/provision", content=raw, headers={"Content-Type": "application/json"})
    forged = up.post("/api/v1/webhooks/infra/provision", content=raw, headers=sign(raw, "not-the-secret"))

    assert unsigned.status_code == 401 and "X-Hub-Signature-256 header is missing" in unsigned.text
    assert forged.status_code == 401 and "does not match the request body" in forged.text
    assert (_trigger_count(up), len(up.executions()), aws.instance_count()) == before


def test_bad_parameters_through_the_api_are_refused(up: Up, aws: Aws) -> None:
    """`st2lite run` / POST /api/v1/executions check the chain's parameters too: nothing is created."""
    before = (len(up.executions()), aws.instance_count())
    parameters = {"name": "web-x", "zone": ZONE, "target_group_arn": "not-an-arn"}

    response = up.post("/api/v1/executions", json={"action": "infra.provision_server", "parameters": parameters})

    assert response.status_code == 400, response.text
    assert "target_group_arn" in response.json()["faultstring"]
    assert "does not match '^arn:aws[a-z-]*:elasticloadbalancing:'" in response.json()["faultstring"]
    assert (len(up.executions()), aws.instance_count()) == before


def _trigger_count(up: Up) -> int:
    """Webhook trigger instances on the stream (action triggers of earlier tests' executions may still arrive)."""
    client = connect(up.redis_url)
    try:
        entries = client.xrange(keys.TRIGGER_STREAM)
    finally:
        client.close()
    return sum(orjson.loads(fields["t"])["trigger"] == "core.st2.webhook" for _id, fields in entries)


# -- the failure report, without AWS ----------------------------------------------------------------


def _ok(value: dict[str, Any]) -> dict[str, Any]:
    return {"result": {"ok": True, **value}, "stdout": "", "stderr": "", "exit_code": 0}


def _failed(error: str) -> dict[str, Any]:
    return {"result": {"ok": False, "error": error, "code": "X"}, "stdout": "", "stderr": "", "exit_code": 0}


def test_report_names_rollback_steps_that_failed() -> None:
    results = {
        "run_instance": _ok({"instance_id": "i-1"}),
        "upsert_dns": _ok({"record_name": "web.example.com."}),
        "register_target": _failed("RegisterTargets failed with TargetGroupNotFound: gone"),
        "delete_dns": _failed("ChangeResourceRecordSets failed with AccessDenied: no"),
        "terminate_instance": {"result": None, "stdout": "", "stderr": "Traceback\nKeyError: 'x'\n", "exit_code": 1},
    }

    report = logic.failure_report("web", results)

    assert report["failed_step"] == "register_target"
    assert report["rolled_back"] == []
    assert [r["step"] for r in report["rollback_failed"]] == ["delete_dns", "terminate_instance"]
    assert "ROLLBACK INCOMPLETE, clean up by hand: delete_dns (delete the A record) failed: " in report["error"]
    assert (
        "terminate_instance (terminate the instance) failed: the action exited with 1: KeyError: 'x'"
        in (report["error"])
    )


def test_report_when_the_first_step_failed() -> None:
    report = logic.failure_report("web", {"run_instance": {"error": "Action failed to complete in 600 seconds"}})

    assert report["error"] == (
        "provisioning 'web' failed at step run_instance (instance (EC2 RunInstances)): "
        "Action failed to complete in 600 seconds; nothing to roll back"
    )


@pytest.mark.parametrize(
    ("config", "message"),
    [
        ({}, "the pack config has no region; set region in configs/infra.yaml"),
        (
            {"region": REGION, "aws_access_key_id": "AKIA1", "aws_secret_access_key": ""},
            "only one of aws_access_key_id and aws_secret_access_key is set; set aws_secret_access_key",
        ),
    ],
)
def test_config_mistakes_are_explained(config: dict[str, Any], message: str) -> None:
    with pytest.raises(aws_lib.StepFailed, match=re.escape(message)):
        aws_lib.make_client("ec2", config)


def test_unreachable_endpoint_is_explained() -> None:
    config = {"region": REGION, "endpoint_url": f"http://127.0.0.1:{free_port()}", "max_attempts": 1}
    client = aws_lib.make_client("ec2", {**config, "aws_access_key_id": "a", "aws_secret_access_key": "b"})

    with pytest.raises(aws_lib.StepFailed) as caught, aws_lib.aws_errors("DescribeInstances", "", config):
        client.describe_instances()

    assert f"DescribeInstances: cannot reach {config['endpoint_url']}" in str(caught.value)
    assert "check endpoint_url and region in configs/infra.yaml" in str(caught.value)


@pytest.mark.parametrize(
    ("operation", "code", "hint"),
    [
        ("RegisterTargets", "TargetGroupNotFound", "check target_group_arn"),
        ("RunInstances", "UnauthorizedOperation", "allow ec2:RunInstances in the IAM policy"),
        ("ChangeResourceRecordSets", "AccessDenied", "allow route53:ChangeResourceRecordSets"),
        ("RunInstances", "AuthFailure", "st2lite key set aws_access_key_id"),
        ("RunInstances", "InvalidAMIID.NotFound", "set image_id in configs/infra.yaml"),
    ],
)
def test_error_messages_name_the_code_and_the_fix(operation: str, code: str, hint: str) -> None:
    message = logic.error_message(operation, code, "AWS says no")

    assert message.startswith(f"{operation} failed with {code}: AWS says no; ")
    assert hint in message


def test_hosted_zone_choice() -> None:
    public = {"Id": "/hostedzone/ZPUB", "Name": "example.com.", "Config": {"PrivateZone": False}}
    private = {"Id": "/hostedzone/ZPRIV", "Name": "example.com.", "Config": {"PrivateZone": True}}

    assert logic.pick_hosted_zone([public], "Example.com") == "ZPUB"
    assert logic.pick_hosted_zone([public, private], "example.com.", private=True) == "ZPRIV"
    with pytest.raises(logic.StepFailed, match=r"2 hosted zones are named example.com. \(ZPUB, ZPRIV\)"):
        logic.pick_hosted_zone([public, private], "example.com")
    with pytest.raises(logic.StepFailed, match="no hosted zone named other.com."):
        logic.pick_hosted_zone([public], "other.com")
