"""The datastore on a real Redis: values, scopes, TTLs, secrets, triggers, audit events, templates, load files."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest
from conftest import wait_for

from st2lite import keys
from st2lite.audit import AuditLog
from st2lite.config import Settings
from st2lite.datastore import MASK, KeyValueStore, install_decrypt_kv, kv_lookup
from st2lite.datastore_load import load_file
from st2lite.encryption import DatastoreKey, generate_key_file
from st2lite.exceptions import DatastoreError, EncryptionKeyError, KeyValueNotFoundError
from st2lite.redisdb import Redis
from st2lite.template_filters import set_decryptor
from st2lite.templating import kv_context, render_template

pytestmark = pytest.mark.redis

SECRET = "hunter2-plaintext"


@pytest.fixture
def store(settings: Settings, redis_client: Redis) -> KeyValueStore:
    return KeyValueStore.for_settings(redis_client, settings, actor="test")


@pytest.fixture
def key_file(settings: Settings) -> Path:
    return generate_key_file(settings.datastore_key_path)


def triggers(client: Redis) -> list[tuple[str, dict[str, Any]]]:
    """(trigger, payload) of every instance on the trigger stream, oldest first."""
    out = []
    for _id, fields in client.xrange(keys.TRIGGER_STREAM):
        instance = orjson.loads(fields["t"])
        out.append((instance["trigger"], instance["payload"]))
    return out


def audit(client: Redis) -> list[tuple[str, str, dict[str, Any]]]:
    """(kind, actor, data) of the datastore's audit events, oldest first."""
    return [
        (str(e.kind), e.actor, e.data)
        for e in AuditLog(client, maxlen=10_000).read()
        if str(e.kind).startswith("key_value_pair.")
    ]


def everything_stored(client: Redis) -> str:
    """Every Redis value (strings, hashes, sorted sets, streams) as one text, to search for plaintext."""
    parts = []
    for key in client.scan_iter("*"):
        kind = client.type(key)
        if kind == "string":
            parts.append(client.get(key))
        elif kind == "hash":
            parts.append(json.dumps(client.hgetall(key)))
        elif kind == "zset":
            parts.append(json.dumps(client.zrange(key, 0, -1)))
        elif kind == "stream":
            parts.append(json.dumps(client.xrange(key)))
    return "\n".join(parts)


# -- values and scopes ------------------------------------------------------------------------------


def test_set_get_update_delete_round_trip(store: KeyValueStore) -> None:
    created = store.set("region", "eu-west-1")
    assert created.public() == {
        "id": "key_value_pair:st2kv.system:region",
        "uid": "key_value_pair:st2kv.system:region",
        "name": "region",
        "value": "eu-west-1",
        "secret": False,
        "encrypted": False,
        "scope": "st2kv.system",
    }
    assert store.get("region") == created
    store.set("region", "us-east-2")
    assert store.get("region", scope="st2kv.system").value == "us-east-2"

    deleted = store.delete("region", scope="system")

    assert deleted.value == "us-east-2"
    with pytest.raises(KeyValueNotFoundError) as info:
        store.get("region")
    assert str(info.value) == (
        'Key Value Pair "region" is not found (st2kv.system); '
        "check the name and scope, or list the stored names with 'st2lite key list'"
    )
    with pytest.raises(KeyValueNotFoundError):
        store.delete("region")


def test_user_scope_is_per_user_and_apart_from_system(store: KeyValueStore, redis_client: Redis) -> None:
    store.set("token", "system-one")
    store.set("token", "ann-one", scope="user", user="ann")
    store.set("token", "bob-one", scope="st2kv.user", user="bob")

    assert store.get("token").value == "system-one"
    assert store.get("token", scope="user", user="ann").public()["user"] == "ann"
    assert store.get("token", scope="user", user="bob").value == "bob-one"
    with pytest.raises(KeyValueNotFoundError) as info:
        store.get("token", scope="user", user="carol")
    assert "(st2kv.user of user 'carol')" in str(info.value)
    # Templates see the same values: st2kv.user is the execution's user.
    lookup = kv_lookup(redis_client)
    context = {"st2kv": kv_context(lookup, user="bob")}
    assert render_template("{{ st2kv.system.token }}/{{ st2kv.user.token }}", context) == "system-one/bob-one"


def test_list_filters_by_prefix_and_scope_and_pages_with_a_total(store: KeyValueStore) -> None:
    for name in ("app.b", "app.a", "db.host", "app.c"):
        store.set(name, name.upper())
    store.set("app.mine", "M", scope="user", user="ann")

    items, total = store.query(prefix="app.", scope="system")
    assert [i.name for i in items] == ["app.a", "app.b", "app.c"]
    assert total == 3

    page, total = store.query(prefix="app.", scope="system", limit=2, offset=1)
    assert ([i.name for i in page], total) == (["app.b", "app.c"], 3)

    everything, total = store.query(scope="all", user="ann")
    assert [(i.scope, i.name) for i in everything] == [
        ("st2kv.system", "app.a"),
        ("st2kv.system", "app.b"),
        ("st2kv.system", "app.c"),
        ("st2kv.system", "db.host"),
        ("st2kv.user", "app.mine"),
    ]
    assert total == 5
    # A page that starts in the system scope and ends in the user scope.
    page, _ = store.query(scope="all", user="ann", limit=2, offset=3)
    assert [i.name for i in page] == ["db.host", "app.mine"]
    assert store.query(scope="user", user="bob") == ([], 0)


def test_prefixes_beyond_ascii_match_exactly(store: KeyValueStore) -> None:
    # "☕" encodes as e2 98 95: above any byte of U+00FF's encoding, so a range ending in "ÿ" would miss it.
    for name in ("café", "café.menu", "cafés", "cafe", "café☕", "cafê"):
        store.set(name, "x")

    assert [i.name for i in store.query(prefix="café")[0]] == ["café", "café.menu", "cafés", "café☕"]


def test_ttl_expires_the_value_and_listing_drops_its_name(store: KeyValueStore, redis_client: Redis) -> None:
    store.set("kept", "1")
    short = store.set("short", "2", ttl=1)
    assert short.ttl == 1
    assert short.expire_timestamp is not None and short.expire_timestamp.endswith("Z")
    # The expiry is an absolute time from this process's clock (PEXPIREAT), read back against Redis's own
    # cached clock: a millisecond or two either way is not an error.
    assert 0 < redis_client.pttl(keys.kv("system", "short")) <= 1000 + 20

    def gone() -> bool:
        try:
            store.get("short")
        except KeyValueNotFoundError:
            return True
        return False

    wait_for(gone, "the value with ttl=1 to expire", deadline=5.0)
    items, total = store.query()
    assert ([i.name for i in items], total) == (["kept"], 1)
    assert redis_client.zrange(keys.kv_index("system"), 0, -1) == ["kept"]
    assert redis_client.zcard(keys.kv_expiry("system")) == 0


def test_setting_again_without_ttl_keeps_the_value_for_ever(store: KeyValueStore, redis_client: Redis) -> None:
    store.set("k", "1", ttl=100)
    again = store.set("k", "2")

    assert again.ttl is None and again.expire_timestamp is None
    assert redis_client.ttl(keys.kv("system", "k")) == -1
    assert redis_client.zcard(keys.kv_expiry("system")) == 0


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (
            {"scope": "global"},
            "scope 'global' is not a datastore scope; use system or user (st2kv.system and st2kv.user also work)",
        ),
        (
            {"ttl": 0},
            "ttl must be a whole number of seconds above 0, got 0; leave it out for a value that never expires",
        ),
        (
            {"ttl": -5},
            "ttl must be a whole number of seconds above 0, got -5; leave it out for a value that never expires",
        ),
        (
            {"ttl": "60"},
            "ttl must be a whole number of seconds above 0, got '60'; leave it out for a value that never expires",
        ),
        (
            {"value": {"a": 1}},
            "the value of 'k' must be a string, not dict; "
            "serialise structures to JSON first (the datastore stores strings, as StackStorm's)",
        ),
        (
            {"value": "x" * 1025},
            "the value of 'k' is 1025 bytes, over the limit of 1024 bytes (setting max_payload_bytes); "
            "store large data elsewhere and keep a reference here",
        ),
        ({"name": ""}, "a datastore name must be a non-empty string"),
        (
            {"name": "a\nb"},
            "the datastore name 'a\\nb' contains a control character; use printable characters",
        ),
        (
            {"scope": "user", "user": "a:b"},
            "user 'a:b' is not a valid user name; it may not contain ':' or control characters",
        ),
        (
            {"value": "plain", "encrypted": True},
            "the value of 'k' is marked encrypted but is not a token of this datastore; "
            "send the clear text with secret=true (st2lite key set --encrypt) instead",
        ),
    ],
)
def test_bad_input_says_why_and_changes_nothing(
    redis_client: Redis, settings: Settings, call: dict[str, Any], message: str
) -> None:
    store = KeyValueStore.for_settings(redis_client, settings.model_copy(update={"max_payload_bytes": 1024}), actor="t")
    store.set("k", "original")
    before_triggers = triggers(redis_client)

    args = {"name": "k", "value": "new", **call}
    with pytest.raises(DatastoreError) as info:
        store.set(args.pop("name"), args.pop("value"), **args)

    assert str(info.value) == message
    assert store.get("k").value == "original"
    assert triggers(redis_client) == before_triggers


# -- secrets ----------------------------------------------------------------------------------------


@pytest.mark.usefixtures("key_file")
def test_secret_is_encrypted_in_redis_and_masked_unless_decrypted(
    store: KeyValueStore, redis_client: Redis, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    stored = store.set("pw", SECRET, secret=True)

    assert (stored.value, stored.secret, stored.encrypted) == (MASK, True, True)
    assert store.get("pw").value == MASK
    assert [i.value for i in store.query()[0]] == [MASK]
    decrypted = store.get("pw", decrypt=True)
    assert (decrypted.value, decrypted.secret, decrypted.encrypted) == (SECRET, True, False)
    assert [i.value for i in store.query(decrypt=True)[0]] == [SECRET]
    # Nowhere in Redis, not in the value's hash, the trigger stream nor the audit stream.
    assert store.key.decrypt(redis_client.hget(keys.kv("system", "pw"), "v"), what="pw") == SECRET
    assert SECRET not in everything_stored(redis_client)
    assert "pw" in caplog.text and SECRET not in caplog.text


def test_secret_without_key_file_fails_saying_to_generate_one_and_keeps_the_old_value(
    store: KeyValueStore, settings: Settings, redis_client: Redis
) -> None:
    store.set("pw", "old")

    with pytest.raises(EncryptionKeyError) as info:
        store.set("pw", SECRET, secret=True)

    assert str(info.value) == (
        f"no datastore key file at {settings.datastore_key_path}, so secrets cannot be encrypted or decrypted; "
        "run 'st2lite key generate-key' (or set datastore_key_file / ST2LITE_DATASTORE_KEY_FILE to the key file)"
    )
    assert store.get("pw").value == "old"
    assert SECRET not in everything_stored(redis_client)


def test_decrypting_with_another_key_says_to_restore_the_key(
    store: KeyValueStore, key_file: Path, redis_client: Redis
) -> None:
    store.set("pw", SECRET, secret=True)
    generate_key_file(key_file, force=True)

    assert store.get("pw").value == MASK  # masking needs no key
    with pytest.raises(EncryptionKeyError) as info:
        store.get("pw", decrypt=True)
    assert str(info.value) == (
        f"the value of 'pw' cannot be decrypted with the key in {key_file}: it was encrypted with another key or "
        "is damaged; restore the key file it was encrypted with, or set the value again"
    )


def test_an_encrypted_token_of_this_key_is_stored_as_it_is(store: KeyValueStore, key_file: Path) -> None:
    token = DatastoreKey(key_file).encrypt(SECRET)

    assert store.set("pw", token, encrypted=True).secret
    assert store.stored_value("pw") == token
    assert store.get("pw", decrypt=True).value == SECRET


@pytest.fixture
def decrypt_kv_installed(store: KeyValueStore) -> Iterator[None]:
    install_decrypt_kv(store.key)
    yield
    set_decryptor(None)


@pytest.mark.usefixtures("key_file", "decrypt_kv_installed")
def test_templates_read_secrets_as_tokens_and_decrypt_kv_gives_the_text(
    store: KeyValueStore, redis_client: Redis
) -> None:
    store.set("pw", SECRET, secret=True)
    store.set("plain", "visible")
    context = {"st2kv": kv_context(kv_lookup(redis_client))}

    token = render_template("{{ st2kv.system.pw }}", context)
    assert token != SECRET and store.key.decrypt(token, what="pw") == SECRET
    assert render_template("{{ st2kv.system.pw | decrypt_kv }}", context) == SECRET
    assert render_template("{{ st2kv.system.plain | decrypt_kv }}", context) == "visible"
    assert render_template("[{{ st2kv.system.missing }}]", context) == "[]"


# -- triggers and audit -----------------------------------------------------------------------------


def test_changes_emit_create_update_value_change_and_delete(store: KeyValueStore, redis_client: Redis) -> None:
    created = store.set("k", "1")
    store.set("k", "1")  # the same value: update, no value_change
    changed = store.set("k", "2")
    deleted = store.delete("k")

    emitted = triggers(redis_client)
    assert [t for t, _ in emitted] == [
        "core.st2.key_value_pair.create",
        "core.st2.key_value_pair.update",
        "core.st2.key_value_pair.update",
        "core.st2.key_value_pair.value_change",
        "core.st2.key_value_pair.delete",
    ]
    assert emitted[0][1] == {"object": created.public()}
    assert emitted[2][1] == {"object": changed.public()}
    assert emitted[3][1] == {"old_object": created.public(), "new_object": changed.public()}
    assert emitted[4][1] == {"object": deleted.public()}
    assert deleted.value == "2"
    assert [(kind, actor, data["value"]) for kind, actor, data in audit(redis_client)][:4] == [
        ("key_value_pair.created", "test", "1"),
        ("key_value_pair.updated", "test", "1"),
        ("key_value_pair.updated", "test", "2"),
        ("key_value_pair.deleted", "test", "2"),
    ]


@pytest.mark.usefixtures("key_file")
def test_secret_changes_are_masked_in_triggers_and_audit(store: KeyValueStore, redis_client: Redis) -> None:
    store.set("pw", SECRET, secret=True)
    store.set("pw", SECRET, secret=True)  # same clear text, new token: no value_change
    store.set("pw", SECRET + "-rotated", secret=True)
    store.delete("pw")

    emitted = triggers(redis_client)
    assert [t.rpartition(".")[2] for t, _ in emitted] == ["create", "update", "update", "value_change", "delete"]
    change = emitted[3][1]
    assert (change["old_object"]["value"], change["new_object"]["value"]) == (MASK, MASK)
    assert {data["value"] for _kind, _actor, data in audit(redis_client)} == {MASK}
    assert SECRET not in everything_stored(redis_client)


# -- load files -------------------------------------------------------------------------------------


@pytest.mark.usefixtures("key_file")
def test_load_sets_every_entry_of_a_yaml_or_json_file(store: KeyValueStore, tmp_path: Path) -> None:
    path = tmp_path / "keys.yaml"
    path.write_text(
        "- {name: a, value: '1'}\n"
        "- {name: pw, value: s3cret, secret: true}\n"
        "- {name: mine, value: x, scope: user, user: ann, ttl: 600}\n"
        "- {name: n, value: {deep: [1, 2]}}\n"
    )

    loaded = load_file(store, path, convert=True)

    assert [(i.name, i.value, i.scope) for i in loaded] == [
        ("a", "1", "st2kv.system"),
        ("pw", MASK, "st2kv.system"),
        ("mine", "x", "st2kv.user"),
        ("n", '{"deep": [1, 2]}', "st2kv.system"),
    ]
    assert store.get("pw", decrypt=True).value == "s3cret"
    assert store.get("mine", scope="user", user="ann").ttl == 600


def test_load_with_a_bad_entry_in_the_middle_loads_nothing_and_names_it(
    store: KeyValueStore, tmp_path: Path, redis_client: Redis
) -> None:
    store.set("a", "before")
    path = tmp_path / "keys.json"
    path.write_text(
        json.dumps(
            [{"name": "a", "value": "after"}, {"name": "b", "value": 7}, {"name": "c", "value": "3", "ttl": 0}],
            indent=1,
        )
    )
    before = triggers(redis_client)

    with pytest.raises(DatastoreError) as info:
        load_file(store, path)

    assert str(info.value).splitlines() == [
        f"{path}[1] (line 6): the value of 'b' must be a string, not int; "
        "quote it, or pass --convert to store it as JSON",
        f"{path}[2] (line 10): ttl must be a whole number of seconds above 0, got 0; "
        "leave it out for a value that never expires",
        f"nothing was loaded from {path}; fix the entries and load it again",
    ]
    assert store.get("a").value == "before"
    assert store.query() == ([store.get("a")], 1)
    assert triggers(redis_client) == before
