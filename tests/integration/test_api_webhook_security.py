"""Declared webhooks (``webhooks/*.yaml``): signatures, body schema, rate limit and ``?wait``, real API and Redis."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from typing import Any

import httpx
import orjson
import pytest
from conftest import ApiServer, fault, running_api, wait_for

from st2lite import keys
from st2lite.bus.redis import FIELD
from st2lite.datastore import KeyValueStore
from st2lite.encryption import generate_key_file
from st2lite.webhooks import github_signature, slack_signature

pytestmark = [pytest.mark.redis, pytest.mark.e2e]

GITHUB_SECRET = "gh-s3cret"
SLACK_SECRET = "slack-s3cret"

#: Added to the site folder of this module's API (pack ``default``).
HOOK_FILES: dict[str, str] = {
    "rules/push.yaml": """\
name: push
enabled: true
trigger:
  type: core.st2.webhook
  parameters:
    url: github/push
action:
  ref: core.local
  parameters:
    cmd: 'echo "pushed $REF"'
    env:
      REF: "{{ trigger.body.ref }}"
""",
    "webhooks/github.yaml": """\
url: github/push
description: Pushes from GitHub, signed.
body_schema:
  type: object
  required: [ref]
  properties:
    ref: {type: string}
signature:
  type: github
  secret_key: github_secret
""",
    "rules/slash.yaml": """\
name: slash
enabled: true
trigger:
  type: core.st2.webhook
  parameters:
    url: slack/command
action:
  ref: core.noop
""",
    "webhooks/slack.yaml": """\
url: slack/command
signature:
  type: slack
  secret_key: slack_secret
  max_age: 60
""",
    "rules/limited.yaml": """\
name: limited
enabled: true
trigger:
  type: core.st2.webhook
  parameters:
    url: limited
action:
  ref: core.noop
""",
    "webhooks/limited.yaml": """\
url: limited
rate_limit:
  requests: 2
  per: 1
""",
    "rules/unset.yaml": """\
name: unset
enabled: true
trigger:
  type: core.st2.webhook
  parameters:
    url: unset-secret
action:
  ref: core.noop
""",
    "webhooks/unset.yaml": """\
url: unset-secret
signature:
  type: github
  secret_key: never_set
""",
    # Declared, but no rule listens to it (yet).
    "webhooks/orders.yaml": """\
url: shop/orders
description: Orders from the shop
body_schema:
  type: object
""",
}


@pytest.fixture(scope="module")
def hooks_module(tmp_path_factory: pytest.TempPathFactory, redis_server: str) -> Iterator[ApiServer]:
    """An API whose site also holds :data:`HOOK_FILES` (written before the first registration)."""
    root = tmp_path_factory.mktemp("hooks")
    for name, text in HOOK_FILES.items():
        (root / "site" / name).parent.mkdir(parents=True, exist_ok=True)
        (root / "site" / name).write_text(text)
    with running_api(root, redis_server) as server:
        generate_key_file(server.settings.datastore_key_path)
        yield server


@pytest.fixture
def api(hooks_module: ApiServer, redis_url: str) -> ApiServer:
    """The module's API on a flushed Redis, registered again (same content, same version) and the secrets set."""
    assert hooks_module.settings.redis_url == redis_url
    hooks_module.register()
    store = KeyValueStore.for_settings(hooks_module.redis, hooks_module.settings, actor="test")
    store.set("github_secret", GITHUB_SECRET, scope="system", secret=True)
    store.set("slack_secret", SLACK_SECRET, scope="system")
    return hooks_module


def hooks(api: ApiServer) -> list[str]:
    """Ids of the ``core.st2.webhook`` instances on the trigger stream (setting the secrets emits others)."""
    stored = [orjson.loads(fields[FIELD]) for _id, fields in api.redis.xrange(keys.TRIGGER_STREAM)]
    return [i["id"] for i in stored if i["trigger"] == "core.st2.webhook"]


def github(api: ApiServer, body: bytes, signature: str | None, **params: Any) -> httpx.Response:
    headers = {"Content-Type": "application/json", "X-GitHub-Event": "push"}
    if signature is not None:
        headers["X-Hub-Signature-256"] = signature
    return api.http.post("/api/v1/webhooks/github/push", content=body, headers=headers, params=params)


def slack(api: ApiServer, body: bytes, timestamp: str, signature: str) -> httpx.Response:
    headers = {
        "Content-Type": "application/x-www-form-urlencoded",
        "X-Slack-Request-Timestamp": timestamp,
        "X-Slack-Signature": signature,
    }
    return api.http.post("/api/v1/webhooks/slack/command", content=body, headers=headers)


# -- signatures -------------------------------------------------------------------------------------

PUSH = b'{"ref": "refs/heads/main"}'


def test_a_correct_github_signature_is_accepted(api: ApiServer) -> None:
    response = github(api, PUSH, github_signature(GITHUB_SECRET, PUSH))

    assert response.status_code == 202, response.text
    accepted = response.json()
    assert accepted["payload"]["body"] == {"ref": "refs/heads/main"}
    assert accepted["payload"]["headers_lower"]["x-github-event"] == "push"
    assert hooks(api) == [accepted["id"]]


def test_a_signed_webhook_needs_no_api_credentials_but_its_signature_still_decides(api: ApiServer) -> None:
    """GitHub and Slack cannot send our API keys: their signature is their credential (and only theirs)."""
    outsider = httpx.Client(base_url=api.url, timeout=10.0)
    headers = {"Content-Type": "application/json", "X-Hub-Signature-256": github_signature(GITHUB_SECRET, PUSH)}
    signed = outsider.post("/api/v1/webhooks/github/push", content=PUSH, headers=headers)
    assert signed.status_code == 202, signed.text
    forged = {**headers, "X-Hub-Signature-256": github_signature("guess", PUSH)}
    assert outsider.post("/api/v1/webhooks/github/push", content=PUSH, headers=forged).status_code == 401
    # Not signed (declared or not): an API key or a token is needed.
    for url in ("limited", "shop/orders", "st2"):
        refused = outsider.post(f"/api/v1/webhooks/{url}", json={"trigger": "core.st2.webhook", "payload": {}})
        assert fault(refused, 401).startswith("authentication required"), url
    assert hooks(api) == [signed.json()["id"]]


def test_a_correct_slack_signature_is_accepted(api: ApiServer) -> None:
    body = b"command=%2Fdeploy&text=prod"
    now = str(int(time.time()))

    response = slack(api, body, now, slack_signature(SLACK_SECRET, now, body))

    # Slack's contract: 200 within 3 s, and an empty body (a slash command's answer body is shown in the channel).
    assert (response.status_code, response.content) == (200, b""), response.text
    [instance] = response.headers["St2-Trigger-Instances"].split(",")
    assert hooks(api) == [instance]
    [dispatched] = [orjson.loads(f[FIELD]) for _id, f in api.redis.xrange(keys.TRIGGER_STREAM)][-1:]
    assert (dispatched["id"], dispatched["payload"]["body"]) == (instance, {"command": "/deploy", "text": "prod"})


@pytest.mark.parametrize(
    ("signature", "message"),
    [
        (
            None,
            "the X-Hub-Signature-256 header is missing; this webhook needs it: sha256=<hex HMAC-SHA256 of the body>",
        ),
        (
            github_signature("not-the-secret", PUSH),
            "X-Hub-Signature-256 does not match the request body; sign the exact body with the webhook's shared secret",
        ),
        (
            github_signature(GITHUB_SECRET, PUSH + b" "),
            "X-Hub-Signature-256 does not match the request body; sign the exact body with the webhook's shared secret",
        ),
    ],
    ids=["missing", "wrong-secret", "other-body"],
)
def test_a_bad_github_signature_is_401_and_dispatches_nothing(
    api: ApiServer, signature: str | None, message: str
) -> None:
    response = github(api, PUSH, signature)

    assert fault(response, 401) == message
    assert github_signature(GITHUB_SECRET, PUSH) not in response.text
    assert hooks(api) == []


def test_a_stale_or_badly_signed_slack_request_is_401_and_dispatches_nothing(api: ApiServer) -> None:
    body = b"command=%2Fdeploy"
    old = str(int(time.time()) - 120)
    now = str(int(time.time()))

    stale = slack(api, body, old, slack_signature(SLACK_SECRET, old, body))
    forged = slack(api, body, now, slack_signature("guess", now, body))
    no_timestamp = api.http.post(
        "/api/v1/webhooks/slack/command", content=body, headers={"X-Slack-Signature": "v0=abc"}
    )

    assert fault(stale, 401).startswith("X-Slack-Request-Timestamp is 12")
    assert fault(stale, 401).endswith(
        "s old, over the limit of 60 s; the request may be a replay: "
        "send it again signed with the current time (and check the sender's clock)"
    )
    assert fault(forged, 401) == (
        "X-Slack-Signature does not match the request body; sign the exact body with the webhook's shared secret"
    )
    assert fault(no_timestamp, 401) == (
        "the X-Slack-Request-Timestamp header is missing; this webhook needs it: the Unix time of the request"
    )
    assert hooks(api) == []


def test_slack_url_verification_is_answered_with_its_challenge_after_the_signature_and_dispatches_nothing(
    api: ApiServer,
) -> None:
    challenge = "3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P"
    body = orjson.dumps({"token": "x", "challenge": challenge, "type": "url_verification"})
    now = str(int(time.time()))
    headers = {"Content-Type": "application/json", "X-Slack-Request-Timestamp": now}

    signed = api.http.post(
        "/api/v1/webhooks/slack/command",
        content=body,
        headers={**headers, "X-Slack-Signature": slack_signature(SLACK_SECRET, now, body)},
    )
    forged = api.http.post(
        "/api/v1/webhooks/slack/command",
        content=body,
        headers={**headers, "X-Slack-Signature": slack_signature("guess", now, body)},
    )
    # Only Slack-signed webhooks answer it: elsewhere it is a body like any other.
    plain = api.http.post("/api/v1/webhooks/limited", content=body, headers={"Content-Type": "application/json"})

    assert signed.status_code == 200, signed.text
    assert signed.json() == {"challenge": challenge}
    assert fault(forged, 401).startswith("X-Slack-Signature does not match the request body")
    assert plain.status_code == 202, plain.text
    assert hooks(api) == [plain.json()["id"]]


def test_a_secret_missing_from_the_datastore_is_500_naming_the_key(api: ApiServer) -> None:
    response = api.http.post(
        "/api/v1/webhooks/unset-secret", content=PUSH, headers={"X-Hub-Signature-256": github_signature("x", PUSH)}
    )

    assert fault(response, 500) == (
        "webhook 'unset-secret' is signed but its secret is not in the datastore; "
        "set it with 'st2lite key set never_set <secret> --encrypt' (system scope)"
    )
    assert hooks(api) == []


# -- body -------------------------------------------------------------------------------------------


def test_a_body_failing_the_schema_is_400_with_the_validation_message(api: ApiServer) -> None:
    wrong_type = b'{"ref": 7}'
    missing = b'{"after": "abc"}'

    typed = github(api, wrong_type, github_signature(GITHUB_SECRET, wrong_type))
    absent = github(api, missing, github_signature(GITHUB_SECRET, missing))

    assert fault(typed, 400) == (
        "body does not match the schema of webhook 'github/push' at ref: 7 is not of type 'string'"
    )
    assert fault(absent, 400) == (
        "body does not match the schema of webhook 'github/push' at (root): 'ref' is a required property"
    )
    assert hooks(api) == []


def test_a_body_over_the_limit_is_413_before_the_signature_is_checked(api: ApiServer) -> None:
    raw = orjson.dumps({"ref": "x" * api.settings.max_payload_bytes})

    response = github(api, raw, github_signature(GITHUB_SECRET, raw))

    limit = api.settings.max_payload_bytes
    assert fault(response, 413) == f"request body of {len(raw)} bytes is over the limit of {limit} bytes"
    assert hooks(api) == []


# -- rate limit -------------------------------------------------------------------------------------


def test_over_the_rate_limit_is_429_with_retry_after_then_accepted_in_the_next_window(api: ApiServer) -> None:
    def post() -> httpx.Response:
        return api.http.post("/api/v1/webhooks/limited", json={"n": 1})

    first, second, third = post(), post(), post()

    assert (first.status_code, second.status_code) == (202, 202), (first.text, second.text)
    assert fault(third, 429) == "webhook 'limited' is over its rate limit of 2 requests per 1 s; retry after 1 s"
    assert third.headers["Retry-After"] == "1"
    assert len(hooks(api)) == 2
    wait_for(lambda: post().status_code == 202, "the next rate-limit window to accept a request", deadline=5.0)
    assert len(hooks(api)) == 3
    assert api.redis.ttl(keys.webhook_rate("limited")) <= 1


# -- ?wait ------------------------------------------------------------------------------------------


def test_wait_returns_the_finished_executions_and_their_results(api: ApiServer) -> None:
    answer: dict[str, httpx.Response] = {}

    def call() -> None:
        answer["response"] = github(api, PUSH, github_signature(GITHUB_SECRET, PUSH), wait=20)

    caller = threading.Thread(target=call)
    caller.start()
    wait_for(lambda: len(hooks(api)) == 1, "the webhook to dispatch its trigger instance")
    api.process()
    caller.join(timeout=25)

    response = answer["response"]
    assert response.status_code == 200, response.text
    body = response.json()
    [instance_id] = body["trigger_instances"]
    assert body["trigger_instance"] == instance_id
    assert body["complete"] is True
    [execution] = body["executions"]
    assert (execution["action"], execution["rule"], execution["status"]) == ("core.local", "default.push", "succeeded")
    assert execution["result"]["stdout"] == "pushed refs/heads/main"
    assert api.execution(execution["id"])["trigger_instance"] == {"id": instance_id}


def test_wait_answers_with_what_there_is_when_the_time_runs_out(api: ApiServer) -> None:
    started = time.monotonic()

    response = api.http.post("/api/v1/webhooks/limited", json={}, params={"wait": 0.3})

    assert time.monotonic() - started < 5
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["complete"] is False
    assert body["executions"] == []
    assert body["trigger_instances"] == [body["trigger_instance"]]


def test_a_negative_wait_is_400(api: ApiServer) -> None:
    response = api.http.post("/api/v1/webhooks/limited", json={}, params={"wait": -1})

    assert fault(response, 400).startswith("invalid request: query.wait:")
    assert hooks(api) == []


# -- GET /api/v1/webhooks ---------------------------------------------------------------------------


def test_the_list_has_the_declared_webhooks_too_each_url_once(api: ApiServer) -> None:
    response = api.http.get("/api/v1/webhooks")

    assert response.status_code == 200, response.text
    listed = [w["parameters"]["url"] for w in response.json()]
    assert len(listed) == len(set(listed)), listed
    by_url = {w["parameters"]["url"]: w for w in response.json()}
    assert {"github/push", "slack/command", "limited", "unset-secret", "shop/orders"} <= set(by_url)
    push = by_url["github/push"]  # declared and bound to a rule: one item
    assert (push["type"], push["rule_bound"], push["declared_by"]) == ("core.st2.webhook", True, "default.github")
    assert push["description"] == "Pushes from GitHub, signed."
    assert push["checks"] == {"signature": "github", "rate_limit": None, "body_schema": True}
    assert by_url["limited"]["checks"]["rate_limit"] == {"requests": 2, "per": 1}
    orders = by_url["shop/orders"]  # declared only: listed, but a POST is still refused until a rule listens
    assert (orders["rule_bound"], orders["declared_by"], orders["description"]) == (
        False,
        "default.orders",
        "Orders from the shop",
    )
    assert api.http.get("/api/v1/webhooks/shop/orders").json() == orders
    message = fault(api.http.post("/api/v1/webhooks/shop/orders", json={}), 404)
    assert message.startswith("Webhook shop/orders not registered")
    assert hooks(api) == []
    assert fault(api.http.get("/api/v1/webhooks/nowhere"), 404).endswith("and no pack declares it")
