"""``webhooks/<name>.yaml`` in a pack: loading, problems by file, line and field, and the pure request checks."""

from __future__ import annotations

from pathlib import Path

import pytest
from test_packs import in_tmp, messages, write_pack

from st2lite.content import ContentSet
from st2lite.exceptions import WebhookError, WebhookSignatureError
from st2lite.packs import load_all, load_pack
from st2lite.webhooks import (
    SignatureSpec,
    SignatureType,
    Webhook,
    check_body,
    check_signature,
    github_signature,
    slack_challenge,
    slack_signature,
)

__all__ = ["in_tmp"]

GOOD = """
    url: /github/push/
    description: Pushes from GitHub.
    body_schema:
      type: object
      required: [ref]
      properties:
        ref: {type: string}
    signature:
      type: github
      secret_key: github_secret
    rate_limit:
      requests: 10
      per: 60
"""


def test_a_webhook_file_loads_with_its_name_pack_and_stripped_url(in_tmp: Path) -> None:
    load = load_pack(write_pack("p", {"webhooks/push.yaml": GOOD}))

    assert load.problems == []
    [webhook] = load.webhooks
    assert (webhook.full_ref, webhook.url, webhook.metadata_file) == ("p.push", "github/push", "webhooks/push.yaml")
    assert webhook.signature == SignatureSpec(type=SignatureType.GITHUB, secret_key="github_secret", max_age=300)
    assert webhook.rate_limit is not None and (webhook.rate_limit.requests, webhook.rate_limit.per) == (10, 60)


def test_webhooks_survive_the_registry_round_trip_and_pack_replacement(in_tmp: Path) -> None:
    report = load_all([write_pack("p", {"webhooks/push.yaml": GOOD})])
    stored = ContentSet.from_json(report.content.to_json())

    assert stored.webhooks == report.content.webhooks
    assert list(stored.webhooks) == ["p.push"]
    assert stored.without_packs(["p"]).webhooks == {}


def test_bad_webhook_files_are_problems_with_file_line_and_field(in_tmp: Path) -> None:
    source = write_pack(
        "p",
        {
            "webhooks/a_type.yaml": "url: a\nsignature:\n  type: gitlab\n  secret_key: k\n",
            "webhooks/b_schema.yaml": "url: b\nbody_schema:\n  type: nonsense\n",
            "webhooks/c_limit.yaml": "url: c\nrate_limit:\n  requests: 0\n  per: 1\n",
            "webhooks/d_nourl.yaml": "description: no url\n",
            "webhooks/e_st2.yaml": "url: st2\n",
            "webhooks/f_typo.yaml": "url: f\nsignature:\n  type: slack\n  secret_key: k\n  maxage: 5\n",
            "webhooks/g_twice.yaml": "url: a/\n",
            "webhooks/h_nokey.yaml": "url: h\nsignature:\n  type: github\n",
        },
    )

    assert messages(load_pack(source).problems) == [
        "p/webhooks/a_type.yaml:3: field 'signature.type': input should be 'github' or 'slack'",
        "p/webhooks/b_schema.yaml:3: field 'body_schema.type': not a valid JSON schema: "
        "'nonsense' is not valid under any of the given schemas",
        "p/webhooks/c_limit.yaml:3: field 'rate_limit.requests': must be more than 0, not 0",
        "p/webhooks/d_nourl.yaml:1: field 'url': required field is missing; add it",
        "p/webhooks/e_st2.yaml:1: field 'url': 'st2' is the generic webhook and cannot be declared; choose another url",
        "p/webhooks/f_typo.yaml:5: field 'signature.maxage': unknown field",
        "p/webhooks/h_nokey.yaml:2: field 'signature.secret_key': required field is missing; add it",
    ]


def test_a_url_declared_twice_is_a_problem_in_the_pack_and_across_packs(in_tmp: Path) -> None:
    one = write_pack("p", {"webhooks/a.yaml": "url: hook\n", "webhooks/b.yaml": "url: /hook\n"})
    two = write_pack("q", {"webhooks/c.yaml": "url: hook\n"})

    report = load_all([one, two])

    assert [m.split(" in ")[0] for m in messages(report.problems)] == [
        "p/webhooks/b.yaml:1: field 'url': webhook url 'hook' is already defined",
        "q/webhooks/c.yaml:1: field 'url': url 'hook' is already declared by webhook 'p.a'; declare each url once",
    ]
    assert list(report.content.webhooks) == ["p.a"]


# -- signatures and body ----------------------------------------------------------------------------

GITHUB = SignatureSpec(type=SignatureType.GITHUB, secret_key="k")
SLACK = SignatureSpec(type=SignatureType.SLACK, secret_key="k", max_age=300)
RAW = b'{"ref": "main"}'


def test_github_signature_known_value() -> None:
    # The example of GitHub's documentation ("Validating webhook deliveries").
    assert github_signature("It's a Secret to Everybody", b"Hello, World!") == (
        "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17"
    )


def test_slack_url_verification_gives_its_challenge_only_for_slack_signed_webhooks() -> None:
    slack_hook = Webhook(name="events", url="slack/events", signature=SLACK)
    verification = {"type": "url_verification", "challenge": "abc123", "token": "x"}

    assert slack_challenge(slack_hook, verification) == "abc123"
    assert slack_challenge(slack_hook, {"type": "event_callback", "event": {}}) is None
    assert slack_challenge(slack_hook, {"type": "url_verification", "challenge": 7}) is None
    assert slack_challenge(slack_hook, [verification]) is None
    assert slack_challenge(Webhook(name="gh", url="gh", signature=GITHUB), verification) is None
    assert slack_challenge(Webhook(name="plain", url="plain"), verification) is None


def test_good_signatures_pass() -> None:
    check_signature(GITHUB, "s3cret", RAW, {"x-hub-signature-256": github_signature("s3cret", RAW)}, 0.0)
    headers = {"x-slack-signature": slack_signature("s3cret", "1000", RAW), "x-slack-request-timestamp": "1000"}
    check_signature(SLACK, "s3cret", RAW, headers, 1200.0)


@pytest.mark.parametrize(
    ("spec", "headers", "message"),
    [
        (
            GITHUB,
            {},
            "the X-Hub-Signature-256 header is missing; this webhook needs it: sha256=<hex HMAC-SHA256 of the body>",
        ),
        (
            GITHUB,
            {"x-hub-signature-256": "sha256=00"},
            "X-Hub-Signature-256 does not match the request body; sign the exact body with the webhook's shared secret",
        ),
        (
            SLACK,
            {"x-slack-signature": "v0=00"},
            "the X-Slack-Request-Timestamp header is missing; this webhook needs it: the Unix time of the request",
        ),
        (
            SLACK,
            {"x-slack-signature": "v0=00", "x-slack-request-timestamp": "yesterday"},
            "X-Slack-Request-Timestamp 'yesterday' is not a Unix time in seconds",
        ),
        (
            SLACK,
            {"x-slack-signature": slack_signature("s3cret", "600", RAW), "x-slack-request-timestamp": "600"},
            "X-Slack-Request-Timestamp is 400 s old, over the limit of 300 s; the request may be a replay: "
            "send it again signed with the current time (and check the sender's clock)",
        ),
        (
            SLACK,
            {"x-slack-signature": slack_signature("wrong", "1000", RAW), "x-slack-request-timestamp": "1000"},
            "X-Slack-Signature does not match the request body; sign the exact body with the webhook's shared secret",
        ),
    ],
    ids=["github-missing", "github-bad", "slack-no-timestamp", "slack-bad-timestamp", "slack-stale", "slack-bad"],
)
def test_bad_signatures_are_refused_without_the_expected_value(
    spec: SignatureSpec, headers: dict[str, str], message: str
) -> None:
    with pytest.raises(WebhookSignatureError) as caught:
        check_signature(spec, "s3cret", RAW, headers, 1000.0)

    assert str(caught.value) == message
    assert github_signature("s3cret", RAW) not in message and slack_signature("s3cret", "1000", RAW) not in message


def test_the_body_schema_is_checked_with_the_path_of_the_error() -> None:
    webhook = Webhook(name="w", url="w", body_schema={"type": "object", "properties": {"n": {"type": "integer"}}})
    check_body(webhook, {"n": 1})
    check_body(Webhook(name="plain", url="plain"), ["anything"])

    with pytest.raises(WebhookError) as caught:
        check_body(webhook, {"n": "one"})

    assert str(caught.value) == "body does not match the schema of webhook 'w' at n: 'one' is not of type 'integer'"
