"""The built-in HTTP sensor (``core.HttpPollSensor``): poll a URL, emit when the response changes or a condition holds.

Each ``core.st2.http_poll`` trigger that rules ask for gets its own poller
thread with its own schedule (one slow server cannot delay another
trigger's polls). A poll:

1. reads the secrets it needs from the datastore (``bearer_token_key``,
   ``basic_auth.password_key``/``username_key``, ``header_keys``) with
   ``sensor_service.get_value(key, local=False, decrypt=True)``, on every poll,
   so a rotated token is used at once; secrets never appear in payloads or
   error messages;
2. sends the request with httpx and reads the body, hashing all of it and
   keeping the first ``max_body_bytes``;
3. without ``when``: emits when the status code + body differ from the last
   response (the first response is emitted too). With ``when`` (criteria
   written like a rule's, keys ``trigger.<payload field>``): emits when the
   criteria become true, i.e. on the first poll where they hold after one where
   they did not (edge-triggered; the first poll counts as "did not").

The last answer (its hash, status and whether the condition held) is kept in
the datastore under the sensor's local name ``last_answer.<trigger id>``,
written when it changes and deleted by ``remove_trigger``, so a sensor that
restarts (or moves to another host) does not report an unchanged answer again.

A connection error, a timeout, a 5xx or 429 answer, or a missing datastore
key is a failure: it is reported with ``sensor_service.report_error`` and the
next poll waits twice as long as the last (``interval`` doubled per failure,
up to ``max_backoff``); the first success returns to ``interval``.
"""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final, Literal

import httpx
import orjson
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from st2lite.criteria import Criteria, compile_criteria
from st2lite.exceptions import ContentError, MatchError
from st2lite.sensors.backoff import backoff_delay
from st2lite.sensors.base import Sensor
from st2lite.sensors.parameters import describe_invalid

__all__ = ["HTTP_POLL_TRIGGER", "BasicAuthParameters", "HttpPollParameters", "HttpPollSensor", "response_payload"]

HTTP_POLL_TRIGGER: Final = "core.st2.http_poll"

#: Statuses that count as a failure (back off) rather than a response to report.
_RETRY_STATUSES: Final = frozenset({429})


class BasicAuthParameters(BaseModel):
    """HTTP basic auth; the password (and optionally the user name) come from the datastore."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    username: str | None = None
    username_key: str | None = None
    password_key: str = Field(min_length=1)

    @model_validator(mode="after")
    def _one_username(self) -> BasicAuthParameters:
        if (self.username is None) == (self.username_key is None):
            raise ValueError("basic_auth needs exactly one of 'username' and 'username_key'")
        return self


class HttpPollParameters(BaseModel):
    """The parameters of a ``core.st2.http_poll`` trigger (the trigger type's schema says the same)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    url: str
    #: Seconds between two polls while the server answers.
    interval: float = Field(default=60, ge=0.01)
    method: Literal["GET", "HEAD"] = "GET"
    #: Plain request headers.
    headers: dict[str, str] = Field(default_factory=dict)
    #: Request headers whose values are datastore keys (decrypted): ``{X-Api-Key: my_api_key}``.
    header_keys: dict[str, str] = Field(default_factory=dict)
    #: Datastore key of a bearer token (``Authorization: Bearer <token>``).
    bearer_token_key: str | None = Field(default=None, min_length=1)
    basic_auth: BasicAuthParameters | None = None
    #: Seconds to wait for the server (connect, and between bytes of the answer).
    timeout: float = Field(default=10, gt=0, le=300)
    #: The longest wait between polls after consecutive failures.
    max_backoff: float = Field(default=300, gt=0)
    #: Body bytes kept in the payload (the change check hashes the whole body).
    max_body_bytes: int = Field(default=65_536, ge=0, le=524_288)
    #: Verify the server's TLS certificate.
    verify_tls: bool = True
    #: Criteria (as in a rule, keys ``trigger.<field>``): emit when they become true, instead of on every change.
    when: dict[str, Any] | None = None

    @field_validator("url")
    @classmethod
    def _url(cls, value: str) -> str:
        try:
            url = httpx.URL(value)
        except (httpx.InvalidURL, TypeError) as exc:
            raise ValueError(f"'{value}' is not a valid URL: {exc}") from exc
        if url.scheme not in ("http", "https") or not url.host:
            raise ValueError(f"'{value}' is not an http:// or https:// URL with a host")
        return value

    @field_validator("when")
    @classmethod
    def _when(cls, value: dict[str, Any] | None) -> dict[str, Any] | None:
        if value is not None:
            try:
                compile_criteria(value)
            except ContentError as exc:
                raise ValueError(f"when: {exc}") from exc
        return value

    def secret_keys(self) -> dict[str, str]:
        """Datastore keys this trigger reads, by the parameter that names them."""
        found = {f"header_keys.{name}": key for name, key in self.header_keys.items()}
        if self.bearer_token_key:
            found["bearer_token_key"] = self.bearer_token_key
        if self.basic_auth is not None:
            found["basic_auth.password_key"] = self.basic_auth.password_key
            if self.basic_auth.username_key:
                found["basic_auth.username_key"] = self.basic_auth.username_key
        return found


class _PollFailure(Exception):
    """A poll that did not get a usable answer (the message says why, without secrets)."""


@dataclass
class _Answer:
    status_code: int
    headers: dict[str, str]
    kept: bytes
    truncated: bool
    fingerprint: str
    content_type: str
    encoding: str
    elapsed: float


def response_payload(
    url: str,
    answer_status: int,
    headers: Mapping[str, str],
    body: bytes,
    *,
    truncated: bool,
    content_type: str,
    encoding: str,
    previous_status: int | None,
    elapsed: float,
) -> dict[str, Any]:
    """Pure: the trigger payload for one response (JSON bodies parsed, others as text)."""
    parsed: Any
    if not truncated and "json" in content_type.lower() and body:
        try:
            parsed = orjson.loads(body)
        except orjson.JSONDecodeError:
            parsed = body.decode(encoding or "utf-8", errors="replace")
    else:
        parsed = body.decode(encoding or "utf-8", errors="replace")
    return {
        "url": url,
        "status_code": answer_status,
        "previous_status_code": previous_status,
        "headers": dict(headers),
        "body": parsed,
        "body_truncated": truncated,
        "elapsed": round(elapsed, 6),
    }


class _Poller:
    """Polls one trigger's URL on its own thread until stopped."""

    def __init__(self, sensor: HttpPollSensor, trigger: dict[str, Any], params: HttpPollParameters) -> None:
        self.sensor = sensor
        self.trigger = trigger
        self.params = params
        self.criteria: Criteria | None = compile_criteria(params.when) if params.when is not None else None
        self.failures = 0
        self.last_fingerprint: str | None = None
        self.last_status: int | None = None
        self.condition_held = False
        #: Datastore name (local to the sensor) of the last answer, so a restart is not a change.
        self.state_name = f"last_answer.{trigger.get('id')}"
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"http-poll-{trigger.get('id')}", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self, wait: float = 5) -> None:
        self._stop.set()
        if self._thread.is_alive() and self._thread is not threading.current_thread():
            self._thread.join(timeout=wait)

    def _run(self) -> None:
        self._load_state()
        with httpx.Client(timeout=self.params.timeout, verify=self.params.verify_tls, follow_redirects=True) as client:
            while not self._stop.is_set():
                try:
                    delay = self.poll(client)
                except Exception as exc:  # e.g. Redis unreachable while dispatching: report, back off, carry on
                    self.failures += 1
                    delay = backoff_delay(self.params.interval, self.failures, self.params.max_backoff)
                    self.sensor.report(self.trigger, f"poll raised {type(exc).__name__}: {exc}", exc)
                self._stop.wait(delay)

    def poll(self, client: httpx.Client) -> float:
        """Poll once; emit what the answer calls for; return the seconds until the next poll."""
        try:
            answer = self._fetch(client)
        except _PollFailure as exc:
            self.failures += 1
            delay = backoff_delay(self.params.interval, self.failures, self.params.max_backoff)
            # An expected failure: the message says it all (no traceback in the log for every failed poll).
            message = self.sensor.report(self.trigger, f"{exc} (failure {self.failures}; polling again in {delay:g}s)")
            self.sensor.log.warning("%s", message)
            return delay
        self.failures = 0
        self._emit_if_due(answer)
        return self.params.interval

    def _emit_if_due(self, answer: _Answer) -> None:
        payload = response_payload(
            self.params.url,
            answer.status_code,
            answer.headers,
            answer.kept,
            truncated=answer.truncated,
            content_type=answer.content_type,
            encoding=answer.encoding,
            previous_status=self.last_status,
            elapsed=answer.elapsed,
        )
        changed = answer.fingerprint != self.last_fingerprint
        holds = self.condition_held
        if self.criteria is None:
            due = changed
        else:
            try:
                holds = self.criteria.evaluate(payload)
            except MatchError as exc:
                self.sensor.report(self.trigger, f"condition 'when' could not be evaluated: {exc}", exc)
                holds = False
            due = holds and not self.condition_held
        if due:  # raises when the instance cannot be published: the state stays, the next poll tries again
            self.sensor.sensor_service.dispatch(self.trigger, payload)
        if changed or holds != self.condition_held:
            self.last_fingerprint = answer.fingerprint
            self.last_status = answer.status_code
            self.condition_held = holds
            self._save_state()

    # -- the last answer, remembered in the datastore across restarts ------------------------------

    def _load_state(self) -> None:
        try:
            raw = self.sensor.sensor_service.get_value(self.state_name, local=True)
            state = orjson.loads(raw) if raw else {}
        except Exception as exc:  # no datastore, or a value that is not ours: start afresh
            self.sensor.report(self.trigger, f"cannot read the last answer from the datastore: {exc}", exc)
            return
        if isinstance(state, dict) and state.get("url") == self.params.url:
            self.last_fingerprint = state.get("fingerprint")
            self.last_status = state.get("status_code")
            self.condition_held = bool(state.get("condition_held"))

    def _save_state(self) -> None:
        state = {
            "url": self.params.url,
            "fingerprint": self.last_fingerprint,
            "status_code": self.last_status,
            "condition_held": self.condition_held,
        }
        try:
            self.sensor.sensor_service.set_value(self.state_name, orjson.dumps(state).decode(), local=True)
        except Exception as exc:
            self.sensor.report(self.trigger, f"cannot remember the last answer in the datastore: {exc}", exc)

    def forget(self) -> None:
        """Delete the remembered answer (the trigger is gone: a new one starts afresh)."""
        try:
            self.sensor.sensor_service.delete_value(self.state_name, local=True)
        except Exception as exc:
            self.sensor.report(self.trigger, f"cannot delete the last answer from the datastore: {exc}", exc)

    def _fetch(self, client: httpx.Client) -> _Answer:
        headers, auth = self._credentials()
        url = self.params.url
        try:
            with client.stream(self.params.method, url, headers=headers, auth=auth) as response:
                digest = hashlib.sha256(str(response.status_code).encode() + b"\n")
                kept = bytearray()
                truncated = False
                cap = self.params.max_body_bytes
                for chunk in response.iter_bytes():
                    digest.update(chunk)
                    room = cap - len(kept)
                    if len(chunk) > room:
                        truncated = True
                    kept += chunk[: max(room, 0)]
                status = response.status_code
                if status >= 500 or status in _RETRY_STATUSES:
                    raise _PollFailure(f"{self.params.method} {url} answered {status} {response.reason_phrase}".strip())
                return _Answer(
                    status_code=status,
                    headers=dict(response.headers.items()),
                    kept=bytes(kept),
                    truncated=truncated,
                    fingerprint=digest.hexdigest(),
                    content_type=response.headers.get("content-type", ""),
                    encoding=response.encoding or "utf-8",
                    elapsed=response.elapsed.total_seconds(),
                )
        except httpx.TimeoutException as exc:
            raise _PollFailure(f"{url} did not answer within {self.params.timeout:g}s ({type(exc).__name__})") from exc
        except httpx.ConnectError as exc:
            raise _PollFailure(f"cannot connect to {url}: {exc}") from exc
        except httpx.HTTPError as exc:
            raise _PollFailure(f"request to {url} failed: {type(exc).__name__}: {exc}") from exc

    def _credentials(self) -> tuple[dict[str, str], tuple[str, str] | None]:
        """Request headers and basic auth, with the secrets read from the datastore now."""
        secrets = {param: self._secret(param, key) for param, key in self.params.secret_keys().items()}
        headers = dict(self.params.headers)
        headers.update({name: secrets[f"header_keys.{name}"] for name in self.params.header_keys})
        if self.params.bearer_token_key:
            headers["Authorization"] = f"Bearer {secrets['bearer_token_key']}"
        auth = None
        basic = self.params.basic_auth
        if basic is not None:
            username = basic.username if basic.username is not None else secrets["basic_auth.username_key"]
            auth = (username, secrets["basic_auth.password_key"])
        return headers, auth

    def _secret(self, param: str, key: str) -> str:
        try:
            value = self.sensor.sensor_service.get_value(key, local=False, decrypt=True)
        except Exception as exc:  # the datastore is unavailable or the secret cannot be decrypted
            raise _PollFailure(f"cannot read datastore key '{key}' ({param}): {type(exc).__name__}: {exc}") from exc
        if value is None:
            raise _PollFailure(
                f"datastore key '{key}' ({param}) is not set; set it with: st2lite key set {key} VALUE --encrypt"
            )
        return str(value)


class HttpPollSensor(Sensor):
    """Emits ``core.st2.http_poll`` trigger instances, one poller thread per trigger (see the module doc)."""

    def __init__(self, sensor_service: Any, config: dict[str, Any] | None = None) -> None:
        super().__init__(sensor_service=sensor_service, config=config)
        self._lock = threading.Lock()
        self._pollers: dict[str, _Poller] = {}
        self.log = sensor_service.get_logger()

    def setup(self) -> None:
        """Nothing to prepare: pollers start as triggers are added."""

    def run(self) -> None:
        """The pollers do the work; wait for :meth:`stop`."""
        self._stopped.wait()

    def cleanup(self) -> None:
        """Stop every poller."""
        with self._lock:
            pollers = list(self._pollers.values())
            self._pollers.clear()
        for poller in pollers:
            poller.stop()

    def add_trigger(self, trigger: dict[str, Any]) -> None:
        """Start polling for ``trigger`` (a bad one is reported and skipped)."""
        if trigger.get("type") != HTTP_POLL_TRIGGER:
            self.report(trigger, f"this sensor emits {HTTP_POLL_TRIGGER}, not '{trigger.get('type')}'")
            return
        try:
            params = HttpPollParameters.model_validate(trigger.get("parameters") or {})
        except ValidationError as exc:
            self.report(trigger, describe_invalid(exc), exc)
            return
        poller = _Poller(self, trigger, params)
        with self._lock:
            if str(trigger.get("id")) in self._pollers:
                return
            self._pollers[str(trigger.get("id"))] = poller
        poller.start()

    def update_trigger(self, trigger: dict[str, Any]) -> None:
        """Same id, same parameters: keep polling, with the new trigger dict."""
        with self._lock:
            poller = self._pollers.get(str(trigger.get("id")))
            if poller is not None:
                poller.trigger = trigger
                return
        self.add_trigger(trigger)

    def remove_trigger(self, trigger: dict[str, Any]) -> None:
        """Stop polling for ``trigger``."""
        with self._lock:
            poller = self._pollers.pop(str(trigger.get("id")), None)
        if poller is not None:
            poller.stop()
            poller.forget()

    def report(self, trigger: dict[str, Any], problem: str, exc: BaseException | None = None) -> str:
        """Report a problem of one trigger (the sensor and its other triggers carry on); return the message."""
        ref = trigger.get("ref") or trigger.get("type") or "?"
        message = f"trigger '{ref}' ({trigger.get('type')}): {problem}"
        self.sensor_service.report_error(message, exc)
        return message
