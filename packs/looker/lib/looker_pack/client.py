"""The Looker API 4.0 through the official ``looker-sdk``, configured from the pack config instead of looker.ini.

``connect(config)`` gives a logged-in ``Looker40SDK``; every failure becomes a :class:`LookerError` whose
message says what to fix. The SDK keeps the access token and logs in again when it expires.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from typing import Any

import looker_sdk
from looker_sdk import error as sdk_error
from looker_sdk.rtl import api_settings
from looker_sdk.sdk import constants as sdk_constants
from looker_sdk.sdk.api40 import methods as methods40
from looker_sdk.sdk.api40 import models as models40

__all__ = [
    "LookerAuthError",
    "LookerError",
    "LookerNotFound",
    "PackConfigSettings",
    "connect",
    "describe",
    "is_not_found",
    "run_inline_query",
    "run_look",
    "run_plan_once",
    "scheduled_plan",
]


def _no_error_doc_lookup(self: Any, error_url: str, url: str = "") -> tuple[str, str]:
    return ("", "")


# On every API error the SDK downloads an error guide from Looker's CDN (requests.get without a timeout): a
# poll would hang on a host whose egress is firewalled, and each error would cost two extra requests. The
# message and documentation_url of the error are enough to tell the user what to fix.
sdk_error.ErrorDocHelper.parse_and_lookup = _no_error_doc_lookup  # type: ignore[method-assign]


# The SDK logs every request at INFO: one line per poll in the sensor's log says nothing the status does not.
logging.getLogger("looker_sdk").setLevel(logging.WARNING)


class LookerError(Exception):
    """A Looker call failed; the message says what happened and what to check."""


class LookerAuthError(LookerError):
    """Looker refused the API credentials (or base_url is not a Looker API)."""


class LookerNotFound(LookerError):
    """Looker answered 404 for the object."""


class PackConfigSettings(api_settings.ApiSettings):
    """``ApiSettings`` read from the pack config (``self.config``) rather than looker.ini or the environment."""

    def __init__(self, config: Mapping[str, Any]) -> None:
        self._values: api_settings.SettingsConfig = {
            "client_id": str(config.get("client_id") or ""),
            "client_secret": str(config.get("client_secret") or ""),
            "base_url": str(config.get("base_url") or "").rstrip("/"),
            "verify_ssl": "true" if config.get("verify_ssl", True) else "false",
            "timeout": str(int(config.get("timeout") or 60)),
        }
        # filename "" reads no file; env_prefix None reads no LOOKERSDK_* variables: the config is the one source.
        super().__init__(filename="", section=None, sdk_version=sdk_constants.sdk_version, env_prefix=None)

    def read_config(self) -> api_settings.SettingsConfig:
        return dict(self._values)  # type: ignore[return-value]


def describe(exc: BaseException) -> str:
    """A one-line text of an SDK error: Looker's message (and its documentation_url), not the SDK's banner."""
    if isinstance(exc, sdk_error.SDKError):
        message = str(exc.message)
        try:  # login errors carry Looker's raw JSON body as their message
            body = json.loads(message)
        except ValueError:
            body = None
        if isinstance(body, dict):
            message = str(body.get("message") or message)
            doc = str(body.get("documentation_url") or "")
        else:
            doc = exc.documentation_url
        details = "; ".join(f"{d.field}: {d.message}" for d in exc.errors if d.message)
        return message + (f" ({details})" if details else "") + (f" [{doc}]" if doc else "")
    return f"{type(exc).__name__}: {exc}"


def is_not_found(exc: BaseException) -> bool:
    """True when the SDK error is Looker's 404."""
    if not isinstance(exc, sdk_error.SDKError):
        return False
    text = describe(exc)
    return "/404/" in text or text.lower().startswith("not found")


def _auth_refused(exc: BaseException) -> LookerAuthError | None:
    """The error to raise when Looker answered 401 (the session's token is no longer accepted)."""
    text = describe(exc)
    if "requires authentication" not in text.lower() and "/401/" not in text:
        return None
    return LookerAuthError(f"Looker no longer accepts the API session: {text}; check the API3 key in the config")


def _unreachable(text: str) -> bool:
    return any(part in text for part in ("Max retries exceeded", "Connection refused", "NameResolutionError"))


def connect(config: Mapping[str, Any]) -> methods40.Looker40SDK:
    """A ``Looker40SDK`` for the pack config, logged in (so bad credentials show here).

    Raises:
        LookerAuthError: Looker refused the client id/secret, or base_url is not a Looker API.
        LookerError: Looker cannot be reached, or the config lacks a value.
    """
    base_url = str(config.get("base_url") or "")
    try:
        sdk = looker_sdk.init40(config_settings=PackConfigSettings(config))
        sdk.auth.authenticate({})
    except sdk_error.SDKError as exc:
        text = describe(exc)
        if _unreachable(text):
            raise LookerError(
                f"cannot reach Looker at {base_url}: {text}; check base_url in configs/looker.yaml "
                "(the host URL without /api/4.0) and that this host can reach it"
            ) from None
        if "credentials not found" in text:
            raise LookerAuthError(
                "no Looker client_id/client_secret in the looker pack config; set client_id in configs/looker.yaml "
                "and the secret with 'st2lite key set looker_client_secret SECRET --encrypt'"
            ) from None
        raise LookerAuthError(
            f"Looker at {base_url} refused the login of client_id '{config.get('client_id')}': {text}; check "
            "client_id in configs/looker.yaml and the datastore key it reads the secret from "
            "('st2lite key set looker_client_secret SECRET --encrypt'): they must be an API3 key pair of an "
            "enabled Looker user (Admin > Users > Edit Keys), and base_url must be the instance's API host"
        ) from None
    return sdk


def _rows(raw: str | bytes, what: str) -> list[dict[str, Any]]:
    try:
        rows = json.loads(raw)
    except ValueError:
        raise LookerError(f"{what} did not return JSON: {str(raw)[:200]!r}") from None
    if not isinstance(rows, list):
        looker_error = rows.get("looker_error") if isinstance(rows, dict) else None
        raise LookerError(f"{what} failed in Looker: {looker_error or str(rows)[:200]}")
    return [row for row in rows if isinstance(row, dict)]


def run_look(sdk: methods40.Looker40SDK, look_id: str, limit: int) -> list[dict[str, Any]]:
    """The rows of the Look (``GET /api/4.0/looks/{id}/run/json``)."""
    try:
        raw = sdk.run_look(look_id=look_id, result_format="json", limit=limit)
    except sdk_error.SDKError as exc:
        if refused := _auth_refused(exc):
            raise refused from None
        if is_not_found(exc):
            raise LookerNotFound(
                f"Look {look_id} not found (or not visible to the API user): {describe(exc)}; fix look_id in "
                "configs/looker.yaml or share the Look's folder with the API user"
            ) from None
        raise LookerError(f"running Look {look_id} failed: {describe(exc)}") from None
    return _rows(raw, f"Look {look_id}")


def run_inline_query(sdk: methods40.Looker40SDK, body: dict[str, Any]) -> list[dict[str, Any]]:
    """The rows of an inline query (``POST /api/4.0/queries/run/json``)."""
    try:
        raw = sdk.run_inline_query(result_format="json", body=models40.WriteQuery(**body))
    except sdk_error.SDKError as exc:
        if refused := _auth_refused(exc):
            raise refused from None
        raise LookerError(
            f"the System Activity query failed: {describe(exc)}; the API user needs the see_system_activity "
            "permission (or set look_id to a Look it can run)"
        ) from None
    return _rows(raw, "the System Activity query")


def scheduled_plan(sdk: methods40.Looker40SDK, plan_id: str) -> models40.ScheduledPlan:
    """The scheduled plan (``GET /api/4.0/scheduled_plans/{id}``).

    Raises:
        LookerNotFound: It no longer exists.
        LookerError: Any other failure.
    """
    try:
        return sdk.scheduled_plan(plan_id)
    except sdk_error.SDKError as exc:
        if is_not_found(exc):
            raise LookerNotFound(f"scheduled plan {plan_id} not found in Looker: {describe(exc)}") from None
        raise LookerError(f"reading scheduled plan {plan_id} failed: {describe(exc)}") from None


def run_plan_once(sdk: methods40.Looker40SDK, plan_id: str) -> models40.ScheduledPlan:
    """Run the plan once now (``POST /api/4.0/scheduled_plans/{id}/run_once``); the one-off plan Looker made."""
    try:
        return sdk.scheduled_plan_run_once_by_id(plan_id)
    except sdk_error.SDKError as exc:
        if is_not_found(exc):
            raise LookerNotFound(f"scheduled plan {plan_id} not found in Looker: {describe(exc)}") from None
        raise LookerError(f"Looker refused to run scheduled plan {plan_id} once: {describe(exc)}") from None
