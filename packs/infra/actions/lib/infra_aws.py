"""The infra pack's AWS side: boto3 clients from the pack config, AWS errors turned into clear failures.

Every action of the pack extends :class:`InfraAction`: its ``perform()``
returns a dict on success or raises :class:`~infra_logic.StepFailed`; the base
class turns that into the ``(succeeded, result)`` pair st2lite expects, with
``{"ok": false, "error": ..., "code": ...}`` on failure, so a chain (and a
person) can read why without a traceback.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator, Mapping
from typing import Any

from infra_logic import StepFailed, error_message

from st2common.runners.base_action import Action

__all__ = ["InfraAction", "aws_errors", "make_client", "waiter_config"]


def _text(config: Mapping[str, Any], key: str) -> str:
    value = config.get(key)
    return str(value).strip() if value is not None else ""


def make_client(service: str, config: Mapping[str, Any]) -> Any:
    """A boto3 client for ``service`` built from the pack config.

    ``region`` (required), ``endpoint_url`` (optional: moto, LocalStack or a VPC endpoint) and, when both are
    set, ``aws_access_key_id``/``aws_secret_access_key`` (and ``aws_session_token``); when neither key is
    set, boto3's default credential chain decides (environment, shared files, instance profile).
    """
    import boto3  # here: loading boto3 takes a while, and only the action process needs it
    from botocore.config import Config

    region = _text(config, "region")
    if not region:
        raise StepFailed("the pack config has no region; set region in configs/infra.yaml (e.g. eu-west-1)")
    key_id, secret = _text(config, "aws_access_key_id"), _text(config, "aws_secret_access_key")
    if bool(key_id) != bool(secret):
        missing = "aws_secret_access_key" if key_id else "aws_access_key_id"
        raise StepFailed(
            f"only one of aws_access_key_id and aws_secret_access_key is set; set {missing} in the datastore too "
            "(st2lite key set ... --encrypt for the secret), or leave both empty to use the default credential chain"
        )
    kwargs: dict[str, Any] = {
        "region_name": region,
        "config": Config(
            retries={"mode": "standard", "max_attempts": int(config.get("max_attempts") or 3)},
            connect_timeout=float(config.get("connect_timeout") or 10),
            read_timeout=float(config.get("read_timeout") or 30),
        ),
    }
    endpoint = _text(config, "endpoint_url")
    if endpoint:
        kwargs["endpoint_url"] = endpoint
    if key_id:
        kwargs["aws_access_key_id"] = key_id
        kwargs["aws_secret_access_key"] = secret
        token = _text(config, "aws_session_token")
        if token:
            kwargs["aws_session_token"] = token
    return boto3.client(service, **kwargs)


def waiter_config(config: Mapping[str, Any]) -> dict[str, Any]:
    """``WaiterConfig`` for boto3's waiters: ``waiter_delay`` seconds apart, ``waiter_max_attempts`` polls."""
    return {"Delay": float(config.get("waiter_delay", 5)), "MaxAttempts": int(config.get("waiter_max_attempts", 40))}


def client_error(exc: Any, operation: str, subject: str = "") -> StepFailed:
    """A :class:`StepFailed` naming the AWS error code of botocore's ``ClientError`` ``exc`` and what to fix."""
    error = exc.response.get("Error", {})
    code = str(error.get("Code", ""))
    return StepFailed(error_message(operation, code, str(error.get("Message", "")), subject=subject), code)


@contextlib.contextmanager
def aws_errors(operation: str, subject: str = "", config: Mapping[str, Any] | None = None) -> Iterator[None]:
    """Turn what botocore raises while calling ``operation`` into :class:`StepFailed` with a clear message."""
    from botocore import exceptions as bx

    try:
        yield
    except bx.ClientError as exc:
        raise client_error(exc, operation, subject) from exc
    except bx.NoCredentialsError as exc:
        raise StepFailed(
            f"{operation}: no AWS credentials found; set aws_access_key_id and aws_secret_access_key in the "
            "datastore (see packs/infra/README.md) or give the worker hosts a credential chain (instance profile, "
            "AWS_PROFILE)",
            "NoCredentials",
        ) from exc
    except (bx.EndpointConnectionError, bx.ConnectTimeoutError) as exc:
        endpoint = _text(config or {}, "endpoint_url") or "AWS's endpoint for the region"
        raise StepFailed(
            f"{operation}: cannot reach {endpoint}: {exc}; check endpoint_url and region in configs/infra.yaml "
            "and the network of the worker hosts",
            "EndpointConnectionError",
        ) from exc
    except bx.ParamValidationError as exc:
        raise StepFailed(f"{operation}: botocore refused the parameters: {exc}", "ParamValidation") from exc
    except bx.BotoCoreError as exc:
        raise StepFailed(f"{operation} failed: {exc}", type(exc).__name__) from exc


class InfraAction(Action):
    """Base of the pack's actions: ``perform()`` does the work; failures become ``(False, {ok, error, code})``."""

    #: Each action's own work, with its own parameters: returns the result, raises StepFailed.
    perform: Callable[..., dict[str, Any]]

    def run(self, **parameters: Any) -> tuple[bool, dict[str, Any]]:
        try:
            result = self.perform(**parameters)
        except StepFailed as exc:
            self.logger.error("%s", exc)
            return False, {"ok": False, "error": str(exc), "code": exc.code}
        return True, {"ok": True, **result}

    def client(self, service: str) -> Any:
        return make_client(service, self.config)

    def setting(self, value: Any, key: str, default: Any = None) -> Any:
        """``value`` when given (not empty), else the pack config's ``key``, else ``default``."""
        if value not in (None, "", []):
            return value
        configured = self.config.get(key)
        return configured if configured not in (None, "", []) else default
