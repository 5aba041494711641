"""The pure parts of the HTTP poll sensor: backoff, the payload of a response, the parameters."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from st2lite.sensors.backoff import backoff_delay
from st2lite.sensors.http_poll import HttpPollParameters, response_payload
from st2lite.sensors.parameters import describe_invalid


def test_backoff_doubles_per_failure_up_to_the_cap_and_never_below_the_interval() -> None:
    assert [backoff_delay(1, n, 10) for n in range(6)] == [1, 2, 4, 8, 10, 10]
    assert backoff_delay(60, 3, 30) == 60  # a cap below the interval does not shorten it
    assert backoff_delay(1, 10_000, 300) == 300  # no overflow


def _payload(body: bytes, content_type: str, *, truncated: bool = False) -> dict[str, object]:
    return response_payload(
        "http://x/y",
        200,
        {"content-type": content_type},
        body,
        truncated=truncated,
        content_type=content_type,
        encoding="utf-8",
        previous_status=None,
        elapsed=0.0123456789,
    )


def test_payload_parses_json_and_keeps_text_as_text() -> None:
    assert _payload(b'{"a": [1]}', "application/json; charset=utf-8")["body"] == {"a": [1]}
    assert _payload(b"{not json", "application/json")["body"] == "{not json"
    assert _payload(b'{"a": 1}', "text/plain")["body"] == '{"a": 1}'
    assert _payload(b'{"a": 1', "application/json", truncated=True)["body"] == '{"a": 1'
    payload = _payload(b"", "application/json")
    assert payload["body"] == "" and payload["elapsed"] == 0.012346 and payload["previous_status_code"] is None


def test_secret_keys_name_the_parameter_they_come_from() -> None:
    params = HttpPollParameters(
        url="https://example.com",
        header_keys={"X-Key": "k1"},
        bearer_token_key="tok",
        basic_auth={"username_key": "u", "password_key": "p"},  # type: ignore[arg-type]
    )
    assert params.secret_keys() == {
        "header_keys.X-Key": "k1",
        "bearer_token_key": "tok",
        "basic_auth.password_key": "p",
        "basic_auth.username_key": "u",
    }


def test_invalid_parameters_are_described_by_name() -> None:
    with pytest.raises(ValidationError) as info:
        HttpPollParameters.model_validate({"url": "mailto:me@example.com", "intervall": 5})
    assert describe_invalid(info.value) == (
        "invalid parameters: parameter 'url': 'mailto:me@example.com' is not an http:// or https:// URL with a host; "
        "parameter 'intervall': unknown parameter"
    )
