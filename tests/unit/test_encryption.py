"""The datastore key file and the encryption of secrets (no Redis)."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from st2lite.encryption import DatastoreKey, generate_key_file, looks_encrypted
from st2lite.exceptions import EncryptionKeyError


def test_generate_writes_a_key_only_its_owner_can_read(tmp_path: Path) -> None:
    path = generate_key_file(tmp_path / "keys" / "datastore.key")

    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    assert len(path.read_text().strip()) == 44


def test_generate_refuses_to_replace_a_key_without_force(tmp_path: Path) -> None:
    path = generate_key_file(tmp_path / "datastore.key")
    before = path.read_text()

    with pytest.raises(EncryptionKeyError) as info:
        generate_key_file(path)

    assert str(info.value) == (
        f"{path} already exists; replacing it makes every secret stored with it unreadable, "
        "so pass --force only if you mean that"
    )
    assert path.read_text() == before
    generate_key_file(path, force=True)
    assert path.read_text() != before
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_encrypt_then_decrypt_gives_the_text_back_and_each_token_differs(tmp_path: Path) -> None:
    key = DatastoreKey(generate_key_file(tmp_path / "k"))

    first, second = key.encrypt("hunter2 ünïcode"), key.encrypt("hunter2 ünïcode")

    assert first != second
    assert "hunter2" not in first
    assert looks_encrypted(first)
    assert not looks_encrypted("hunter2")
    assert key.decrypt(first, what="x") == key.decrypt(second, what="x") == "hunter2 ünïcode"


def test_a_token_of_another_key_says_which_key_file_to_restore(tmp_path: Path) -> None:
    token = DatastoreKey(generate_key_file(tmp_path / "old")).encrypt("s3cret")
    other = DatastoreKey(generate_key_file(tmp_path / "new"))

    with pytest.raises(EncryptionKeyError) as info:
        other.decrypt(token, what="the value of 'pw'")

    assert str(info.value) == (
        f"the value of 'pw' cannot be decrypted with the key in {tmp_path / 'new'}: it was encrypted with another "
        "key or is damaged; restore the key file it was encrypted with, or set the value again"
    )


def test_missing_and_malformed_key_files_say_what_to_run(tmp_path: Path) -> None:
    path = tmp_path / "datastore.key"
    key = DatastoreKey(path)
    with pytest.raises(EncryptionKeyError) as info:
        key.encrypt("x")
    assert str(info.value) == (
        f"no datastore key file at {path}, so secrets cannot be encrypted or decrypted; run 'st2lite key "
        "generate-key' (or set datastore_key_file / ST2LITE_DATASTORE_KEY_FILE to the key file)"
    )

    path.write_text("not a key\n")
    with pytest.raises(EncryptionKeyError) as info:
        key.encrypt("x")
    assert str(info.value) == (
        f"the datastore key file {path} does not hold a key (expected the 44 characters 'st2lite key generate-key' "
        "writes); restore the right file, or run 'st2lite key generate-key --force' (secrets stored with the old "
        "key can then no longer be read)"
    )


def test_a_key_generated_after_first_use_is_picked_up(tmp_path: Path) -> None:
    path = tmp_path / "datastore.key"
    key = DatastoreKey(path)
    with pytest.raises(EncryptionKeyError):
        key.check()

    generate_key_file(path)

    assert key.decrypt(key.encrypt("later"), what="x") == "later"
