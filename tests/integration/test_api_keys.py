"""``/api/v1/keys`` over real HTTP, with the bodies and query strings the real ``st2 key`` commands send."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import orjson
import pytest
from conftest import ApiServer, fault

from st2lite import keys
from st2lite.encryption import generate_key_file

pytestmark = pytest.mark.redis

SECRET = "hunter2-plaintext"


@pytest.fixture
def key_file(api_server: ApiServer) -> Iterator[Path]:
    """A datastore key for the API of this module, removed after the test."""
    path = generate_key_file(api_server.settings.datastore_key_path, force=True)
    yield path
    path.unlink()


def put(api: ApiServer, name: str, **body: object) -> dict[str, object]:
    response = api.http.put(f"/api/v1/keys/{name}", json={"name": name, "scope": "system", "user": None, **body})
    assert response.status_code == 200, response.text
    result: dict[str, object] = response.json()
    return result


def test_set_get_list_delete_as_the_st2_cli_does(api_server: ApiServer) -> None:
    api = api_server
    assert put(api, "foo", value="bar") == {
        "id": "key_value_pair:st2kv.system:foo",
        "uid": "key_value_pair:st2kv.system:foo",
        "name": "foo",
        "value": "bar",
        "secret": False,
        "encrypted": False,
        "scope": "st2kv.system",
    }
    got = api.http.get("/api/v1/keys/foo", params={"decrypt": "false", "scope": "system"})
    assert got.status_code == 200
    assert got.json()["value"] == "bar"

    listed = api.http.get("/api/v1/keys/?decrypt=false&scope=all&limit=50")
    assert listed.status_code == 200
    assert [item["name"] for item in listed.json()] == ["foo"]
    assert listed.headers["X-Total-Count"] == "1"

    deleted = api.http.delete("/api/v1/keys/foo", params={"scope": "system"})
    assert deleted.status_code == 204
    assert fault(api.http.get("/api/v1/keys/foo", params={"scope": "system"}), 404) == (
        'Key Value Pair "foo" is not found (st2kv.system); '
        "check the name and scope, or list the stored names with 'st2lite key list'"
    )
    assert fault(api.http.delete("/api/v1/keys/foo"), 404).startswith('Key Value Pair "foo" is not found')


def test_user_scope_ttl_and_paging(api_server: ApiServer) -> None:
    api = api_server
    item = put(api, "k", value="v", scope="user", ttl=60)
    assert (item["scope"], item["user"], item["ttl"]) == ("st2kv.user", "st2admin", 60)  # the caller's own
    assert str(item["expire_timestamp"]).endswith("Z")
    put(api, "k", value="bob's", scope="st2kv.user", user="bob")
    for name in ("a1", "a2", "a3", "b1"):
        put(api, name, value=name)

    bob = api.http.get("/api/v1/keys/k", params={"scope": "user", "user": "bob"}).json()
    assert (bob["value"], bob["user"]) == ("bob's", "bob")
    page = api.http.get("/api/v1/keys", params={"prefix": "a", "scope": "system", "limit": 2, "offset": 1})
    assert [i["name"] for i in page.json()] == ["a2", "a3"]
    assert page.headers["X-Total-Count"] == "3"
    everything = api.http.get("/api/v1/keys", params={"scope": "all", "limit": -1}).json()
    assert [(i["scope"], i["name"]) for i in everything] == [
        ("st2kv.system", "a1"),
        ("st2kv.system", "a2"),
        ("st2kv.system", "a3"),
        ("st2kv.system", "b1"),
        ("st2kv.user", "k"),
    ]


@pytest.mark.usefixtures("key_file")
def test_secrets_are_masked_unless_decrypt_is_asked(api_server: ApiServer) -> None:
    api = api_server
    stored = put(api, "pw", value=SECRET, secret=True)
    assert (stored["value"], stored["secret"], stored["encrypted"]) == ("********", True, True)

    masked = api.http.get("/api/v1/keys/pw", params={"decrypt": "false", "scope": "system"}).json()
    assert (masked["value"], masked["encrypted"]) == ("********", True)
    clear = api.http.get("/api/v1/keys/pw", params={"decrypt": "true", "scope": "system"}).json()
    assert (clear["value"], clear["secret"], clear["encrypted"]) == (SECRET, True, False)
    assert [i["value"] for i in api.http.get("/api/v1/keys/", params={"scope": "all"}).json()] == ["********"]
    assert [i["value"] for i in api.http.get("/api/v1/keys/", params={"decrypt": "True"}).json()] == [SECRET]
    assert SECRET not in str(api.redis.hgetall(keys.kv("system", "pw")))
    # The trigger the change emitted carries the mask too.
    payloads = [orjson.loads(f["t"])["payload"] for _id, f in api.redis.xrange(keys.TRIGGER_STREAM)]
    assert [p["object"]["value"] for p in payloads] == ["********"]


def test_a_secret_without_key_file_is_refused_with_what_to_run(api_server: ApiServer) -> None:
    api = api_server
    put(api, "pw", value="old")

    response = api.http.put("/api/v1/keys/pw", json={"name": "pw", "value": SECRET, "secret": True})

    assert fault(response, 500) == (
        f"no datastore key file at {api.settings.datastore_key_path}, so secrets cannot be encrypted or "
        "decrypted; run 'st2lite key generate-key' (or set datastore_key_file / ST2LITE_DATASTORE_KEY_FILE "
        "to the key file)"
    )
    assert api.http.get("/api/v1/keys/pw").json()["value"] == "old"


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (
            {"value": "v", "scope": "everywhere"},
            "scope 'everywhere' is not a datastore scope; use system or user (st2kv.system and st2kv.user also work)",
        ),
        (
            {"value": "v", "ttl": 0},
            "ttl must be a whole number of seconds above 0, got 0; leave it out for a value that never expires",
        ),
        (
            {"value": ["a"]},
            "the value of 'k' must be a string, not list; "
            "serialise structures to JSON first (the datastore stores strings, as StackStorm's)",
        ),
        ({"scope": "system"}, "invalid request: value: Field required"),
        (
            {"name": "other", "value": "v"},
            "the body names 'other' but the URL names 'k'; send the same name in both",
        ),
    ],
)
def test_bad_puts_are_refused_and_keep_the_stored_value(
    api_server: ApiServer, body: dict[str, object], message: str
) -> None:
    api = api_server
    put(api, "k", value="original")

    status = 422 if message.startswith("invalid request:") else 400  # a missing field, or a value the store refuses
    assert fault(api.http.put("/api/v1/keys/k", json=body), status) == message
    assert api.http.get("/api/v1/keys/k").json()["value"] == "original"


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ({"scope": "nowhere"}, "scope 'nowhere' is not a datastore scope; use system, user or all"),
        ({"limit": "0"}, "limit must be a positive number, or -1 for all"),
        ({"decrypt": "maybe"}, "decrypt must be true or false, got 'maybe'"),
    ],
)
def test_bad_list_queries_are_400(api_server: ApiServer, query: dict[str, str], message: str) -> None:
    assert fault(api_server.http.get("/api/v1/keys", params=query), 400).startswith(message)
