"""The ``http-request`` runner: one HTTP request, StackStorm's result shape.

The result is ``{status_code, body, parsed, headers}``; ``body`` is the
decoded JSON document when the response's content type is JSON (``parsed``
is then true), else the text. Only status codes 200-206 succeed. A request
that runs past its timeout ends ``timeout``; one that cannot be sent (bad
URL, connection refused, TLS error) ends ``failed`` with ``{error}``.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, ClassVar

from st2lite.actions import ParameterSpec
from st2lite.exceptions import RunnerError
from st2lite.runners.base import OutputCallback, RunContext, Runner, RunResult, timeout_message
from st2lite.statuses import ExecutionStatus

if TYPE_CHECKING:
    import httpx

__all__ = ["METHODS", "HttpRequestRunner", "response_result"]

logger = logging.getLogger(__name__)

#: Methods the ``method`` parameter accepts.
METHODS = ["HEAD", "GET", "POST", "PUT", "DELETE", "OPTIONS", "TRACE", "PATCH", "PURGE"]
#: Status codes that count as success.
SUCCESS_CODES = range(200, 207)


def _spec(**fields: Any) -> ParameterSpec:
    return ParameterSpec.model_validate(fields)


def response_result(response: httpx.Response) -> RunResult:
    """Map a response to the runner result; JSON bodies are decoded when the content type says JSON."""
    mimetype = response.headers.get("content-type", "").split(";", 1)[0].strip().lower()
    body: Any = response.text
    parsed = False
    if mimetype == "application/json" or mimetype.endswith("+json"):
        try:
            body = response.json()
            parsed = True
        except ValueError:
            logger.debug("response of %s says JSON but is not; keeping the text", response.request.url)
    result = {
        "status_code": response.status_code,
        "body": body,
        "parsed": parsed,
        "headers": dict(response.headers),
    }
    succeeded = response.status_code in SUCCESS_CODES
    status = ExecutionStatus.SUCCEEDED if succeeded else ExecutionStatus.FAILED
    error = None if succeeded else f"HTTP {response.status_code} {response.reason_phrase}".rstrip()
    return RunResult(status=status, result=result, error=error)


def _strings(value: Mapping[str, Any] | None) -> dict[str, str]:
    return {str(k): str(v) for k, v in (value or {}).items()}


class HttpRequestRunner(Runner):
    """``http-request``: sends one request built from the runner parameters."""

    name: ClassVar[str] = "http-request"
    parameters: ClassVar[dict[str, ParameterSpec]] = {
        "url": _spec(type="string", required=True, description="URL to call."),
        "method": _spec(type="string", default="GET", enum=METHODS, description="HTTP method."),
        "headers": _spec(type="object", description="Request headers."),
        "cookies": _spec(type="object", description="Cookies to send."),
        "body": _spec(
            type=["string", "object", "array"],
            description="Request body; objects and arrays are sent as JSON.",
        ),
        "params": _spec(type="object", description="Query-string parameters."),
        "username": _spec(type="string", description="User name for basic authentication."),
        "password": _spec(type="string", secret=True, description="Password for basic authentication."),
        "allow_redirects": _spec(type="boolean", default=False, description="Follow redirects."),
        "verify_ssl_cert": _spec(type="boolean", default=True, description="Verify the server's TLS certificate."),
        "timeout": _spec(type="number", default=60, description="Seconds the whole request may take."),
    }

    def run(self, ctx: RunContext, *, on_output: OutputCallback | None = None) -> RunResult:
        import httpx  # imported when an HTTP action runs: most workers never load it

        values = self.runner_values(ctx)
        url = values.get("url")
        if not isinstance(url, str) or not url:
            raise RunnerError(
                f"action '{ctx.action_ref}' (http-request) has no 'url'; "
                "set url in the action metadata or pass it when running the action"
            )
        method = str(values.get("method") or "GET").upper()
        timeout = self.effective_timeout(ctx)
        body = values.get("body")
        content = body if isinstance(body, str | bytes) else None
        json_body = body if body is not None and content is None else None
        username = values.get("username")
        auth = httpx.BasicAuth(str(username), str(values.get("password") or "")) if username else None
        logger.info("running %s (http-request %s) for execution %s", ctx.action_ref, method, ctx.execution_id)
        try:
            with httpx.Client(
                cookies=_strings(values.get("cookies")),
                follow_redirects=bool(values.get("allow_redirects")),
                verify=bool(values.get("verify_ssl_cert", True)),
                timeout=httpx.Timeout(timeout),
            ) as client:
                response = client.request(
                    method,
                    url,
                    headers=_strings(values.get("headers")),
                    params=_strings(values.get("params")) or None,
                    content=content,
                    json=json_body,
                    auth=auth,
                )
        except httpx.TimeoutException:
            message = timeout_message(timeout or 0)
            return RunResult(status=ExecutionStatus.TIMEOUT, result={"error": message}, error=message)
        except (httpx.HTTPError, httpx.InvalidURL) as exc:
            message = f"{method} {url} failed: {str(exc) or type(exc).__name__}"
            return RunResult(status=ExecutionStatus.FAILED, result={"error": message}, error=message)
        return response_result(response)
