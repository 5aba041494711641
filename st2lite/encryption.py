"""Encryption of datastore secrets at rest: Fernet (from ``cryptography``) with a key file.

A Fernet token is AES-128-CBC with a random IV, authenticated by HMAC-SHA256,
in URL-safe base64: a Redis string and template text as it is, and tampering or
a wrong key is detected rather than decrypted to garbage. docs/datastore.md
says why Fernet rather than AES-GCM.

The key file holds one Fernet key (44 URL-safe base64 characters), written
0600 by ``st2lite key generate-key``. It is read on first use and read again
when it changes on disk, so processes started before the key was generated
pick it up.
"""

from __future__ import annotations

import threading
from pathlib import Path

from cryptography.fernet import Fernet, InvalidToken

from st2lite.exceptions import EncryptionKeyError
from st2lite.private_files import write_private_file

__all__ = ["DatastoreKey", "generate_key_file", "looks_encrypted"]

#: Every Fernet token starts with these characters (version byte 0x80, then the timestamp's high bytes).
_TOKEN_PREFIX = "gAAAAA"
_GENERATE = "run 'st2lite key generate-key'"


def looks_encrypted(value: str) -> bool:
    """True when ``value`` has the form of a Fernet token (it may still fail to decrypt)."""
    return value.startswith(_TOKEN_PREFIX)


class DatastoreKey:
    """The key in ``path``: encrypts and decrypts datastore values."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()
        self._cached: tuple[tuple[int, int, int], Fernet] | None = None

    def encrypt(self, plaintext: str) -> str:
        """The token of ``plaintext`` (a new random IV each time)."""
        return self._fernet().encrypt(plaintext.encode("utf-8")).decode("ascii")

    def decrypt(self, token: str, *, what: str) -> str:
        """The plaintext of ``token``; ``what`` names the value in the error ("the value of 'pw'").

        Raises:
            EncryptionKeyError: No usable key file, or ``token`` was not made with this key.
        """
        try:
            return self._fernet().decrypt(token.encode("ascii")).decode("utf-8")
        except (InvalidToken, UnicodeError) as exc:
            raise EncryptionKeyError(
                f"{what} cannot be decrypted with the key in {self.path}: it was encrypted with another key "
                "or is damaged; restore the key file it was encrypted with, or set the value again"
            ) from exc

    def check(self) -> None:
        """Raise :class:`EncryptionKeyError` unless the key file holds a usable key."""
        self._fernet()

    def _fernet(self) -> Fernet:
        try:
            stat = self.path.stat()
        except FileNotFoundError:
            raise EncryptionKeyError(
                f"no datastore key file at {self.path}, so secrets cannot be encrypted or decrypted; {_GENERATE} "
                "(or set datastore_key_file / ST2LITE_DATASTORE_KEY_FILE to the key file)"
            ) from None
        except OSError as exc:
            raise EncryptionKeyError(self._unreadable(exc)) from exc
        identity = (stat.st_ino, stat.st_mtime_ns, stat.st_size)
        with self._lock:
            if self._cached is not None and self._cached[0] == identity:
                return self._cached[1]
            try:
                text = self.path.read_text(encoding="ascii").strip()
            except OSError as exc:
                raise EncryptionKeyError(self._unreadable(exc)) from exc
            except UnicodeError:
                text = ""
            try:
                fernet = Fernet(text)
            except ValueError as exc:
                raise EncryptionKeyError(
                    f"the datastore key file {self.path} does not hold a key (expected the 44 characters "
                    "'st2lite key generate-key' writes); restore the right file, or run "
                    "'st2lite key generate-key --force' "
                    "(secrets stored with the old key can then no longer be read)"
                ) from exc
            self._cached = (identity, fernet)
            return fernet

    def _unreadable(self, exc: OSError) -> str:
        return (
            f"cannot read the datastore key file {self.path}: {exc.strerror or exc}; "
            "make it readable by the user running st2lite"
        )


def generate_key_file(path: Path, *, force: bool = False) -> Path:
    """Write a new random key to ``path`` (mode 0600, folder 0700); return ``path``.

    Raises:
        EncryptionKeyError: ``path`` exists and ``force`` is false, or it cannot be written.
    """
    if path.exists() and not force:
        raise EncryptionKeyError(
            f"{path} already exists; replacing it makes every secret stored with it unreadable, "
            "so pass --force only if you mean that"
        )
    key = Fernet.generate_key()
    try:
        write_private_file(path, key + b"\n")
    except OSError as exc:
        raise EncryptionKeyError(
            f"cannot write the datastore key file {path}: {exc.strerror or exc}; "
            "choose a writable place with datastore_key_file / ST2LITE_DATASTORE_KEY_FILE"
        ) from exc
    return path
