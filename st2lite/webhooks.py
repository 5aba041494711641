"""Declared webhooks (``webhooks/<name>.yaml`` in a pack): the model and the checks of a request, pure.

A declared webhook hardens one ``core.st2.webhook`` url: an optional JSON
schema for the body, an optional HMAC signature check (GitHub's
``X-Hub-Signature-256`` or Slack's ``X-Slack-Signature`` with its timestamp,
the secret read from the datastore by the API) and an optional rate limit.
The route (:mod:`st2lite.api.routes.webhooks`) does the I/O; everything here
is a function of its arguments. A url without a declaration works as before.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping
from enum import StrEnum
from functools import lru_cache
from typing import Any, Final

import jsonschema
import orjson
from pydantic import BaseModel, ConfigDict, Field, field_validator

from st2lite.exceptions import WebhookError, WebhookSignatureError

__all__ = [
    "MAX_WAIT",
    "RateLimit",
    "SignatureSpec",
    "SignatureType",
    "Webhook",
    "check_body",
    "check_signature",
    "schema_problem",
    "github_signature",
    "slack_challenge",
    "slack_signed",
    "slack_signature",
]

#: The longest ``?wait=SECONDS`` honoured (a longer wait is cut to this).
MAX_WAIT: Final = 30.0
GITHUB_HEADER: Final = "x-hub-signature-256"
SLACK_HEADER: Final = "x-slack-signature"
SLACK_TIMESTAMP: Final = "x-slack-request-timestamp"


class SignatureType(StrEnum):
    GITHUB = "github"
    SLACK = "slack"


class SignatureSpec(BaseModel):
    """``signature:`` of a webhook file: the scheme and the datastore key (system scope) of the secret."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    type: SignatureType
    secret_key: str = Field(min_length=1)
    #: Slack only: the oldest ``X-Slack-Request-Timestamp`` accepted, in seconds.
    max_age: int = Field(default=300, gt=0)


class RateLimit(BaseModel):
    """``rate_limit:`` of a webhook file: at most ``requests`` per window of ``per`` seconds, across API processes."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    requests: int = Field(gt=0)
    per: int = Field(gt=0)


class Webhook(BaseModel):
    """A webhook file of a pack. ``name`` defaults to the file name (set by the loader)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str = Field(min_length=1)
    pack: str = "default"
    url: str
    description: str = ""
    body_schema: dict[str, Any] = Field(default_factory=dict)
    signature: SignatureSpec | None = None
    rate_limit: RateLimit | None = None
    metadata_file: str = ""

    @field_validator("url")
    @classmethod
    def _url(cls, url: str) -> str:
        url = url.strip("/")
        if not url:
            raise ValueError("must be the path under /api/v1/webhooks/, e.g. 'github/push'")
        if url == "st2":
            raise ValueError("'st2' is the generic webhook and cannot be declared; choose another url")
        return url

    @property
    def full_ref(self) -> str:
        return f"{self.pack}.{self.name}"


# -- signatures -------------------------------------------------------------------------------------


def github_signature(secret: str, raw: bytes) -> str:
    """The ``X-Hub-Signature-256`` value GitHub sends for ``raw``."""
    return "sha256=" + hmac.new(secret.encode(), raw, hashlib.sha256).hexdigest()


def slack_signature(secret: str, timestamp: str, raw: bytes) -> str:
    """The ``X-Slack-Signature`` value Slack sends for ``raw`` at ``timestamp``."""
    base = b"v0:" + timestamp.encode() + b":" + raw
    return "v0=" + hmac.new(secret.encode(), base, hashlib.sha256).hexdigest()


def check_signature(spec: SignatureSpec, secret: str, raw: bytes, headers: Mapping[str, str], now: float) -> None:
    """Raise :class:`WebhookSignatureError` unless ``headers`` sign ``raw`` with ``secret``.

    ``headers`` are keyed in lower case. The messages never contain the expected value.
    """
    if spec.type is SignatureType.GITHUB:
        given = _header(headers, GITHUB_HEADER, "X-Hub-Signature-256", "sha256=<hex HMAC-SHA256 of the body>")
        expected = github_signature(secret, raw)
        name = "X-Hub-Signature-256"
    else:
        given = _header(headers, SLACK_HEADER, "X-Slack-Signature", "v0=<hex HMAC-SHA256 of v0:timestamp:body>")
        timestamp = _header(headers, SLACK_TIMESTAMP, "X-Slack-Request-Timestamp", "the Unix time of the request")
        try:
            sent = int(timestamp)
        except ValueError:
            raise WebhookSignatureError(
                f"X-Slack-Request-Timestamp '{timestamp[:40]}' is not a Unix time in seconds"
            ) from None
        age = now - sent
        if abs(age) > spec.max_age:
            raise WebhookSignatureError(
                f"X-Slack-Request-Timestamp is {int(abs(age))} s {'old' if age > 0 else 'in the future'}, "
                f"over the limit of {spec.max_age} s; the request may be a replay: send it again signed with "
                "the current time (and check the sender's clock)"
            )
        expected = slack_signature(secret, timestamp, raw)
        name = "X-Slack-Signature"
    if not hmac.compare_digest(given.encode(), expected.encode()):
        raise WebhookSignatureError(
            f"{name} does not match the request body; sign the exact body with the webhook's shared secret"
        )


def _header(headers: Mapping[str, str], key: str, name: str, shape: str) -> str:
    value = headers.get(key, "")
    if not value:
        raise WebhookSignatureError(f"the {name} header is missing; this webhook needs it: {shape}")
    return value


def slack_signed(webhook: Webhook | None) -> bool:
    """Whether ``webhook`` is declared with Slack's signature: Slack's own rules for the answer then apply."""
    return webhook is not None and webhook.signature is not None and webhook.signature.type is SignatureType.SLACK


def slack_challenge(webhook: Webhook, body: Any) -> str | None:
    """The ``challenge`` to echo when ``body`` is Slack's ``url_verification`` to a Slack-signed webhook.

    Slack sends it once when an app's Events API request URL is set, signed like any event, and expects the
    challenge back with a 200. Only asked after the signature passed; the request dispatches nothing.
    """
    if not slack_signed(webhook) or not isinstance(body, dict):
        return None
    challenge = body.get("challenge")
    if body.get("type") != "url_verification" or not isinstance(challenge, str):
        return None
    return challenge


# -- body -------------------------------------------------------------------------------------------


def check_body(webhook: Webhook, body: Any) -> None:
    """Raise :class:`WebhookError` unless ``body`` matches the webhook's ``body_schema`` (if it has one)."""
    if not webhook.body_schema:
        return
    validator = _validator(orjson.dumps(webhook.body_schema, option=orjson.OPT_SORT_KEYS))
    error = jsonschema.exceptions.best_match(validator.iter_errors(body))
    if error is not None:
        where = "/".join(str(p) for p in error.absolute_path) or "(root)"
        raise WebhookError(f"body does not match the schema of webhook '{webhook.url}' at {where}: {error.message}")


@lru_cache(maxsize=256)
def _validator(schema_json: bytes) -> Any:
    """Draft 4 unless the schema's ``$schema`` names another draft (built once per schema)."""
    schema = orjson.loads(schema_json)
    cls = jsonschema.validators.validator_for(schema, default=jsonschema.Draft4Validator)
    return cls(schema)


def schema_problem(schema: dict[str, Any]) -> tuple[str, str] | None:
    """Where (dotted, in the schema) and why ``schema`` is not a valid JSON schema (``$schema``'s draft, else 4)."""
    cls = jsonschema.validators.validator_for(schema, default=jsonschema.Draft4Validator)
    try:
        cls.check_schema(schema)
    except jsonschema.SchemaError as exc:
        return ".".join(str(p) for p in exc.relative_path), f"not a valid JSON schema: {exc.message}"
    return None
