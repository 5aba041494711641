"""Follow a file by name like ``tail -F``: complete lines appended to it, through truncation and rotation.

:class:`LineTail` is polled (:meth:`LineTail.read`); it keeps the file open
between reads, so lines written just before the file is renamed away
(log rotation) are still read from the old file before it switches to the
new file of the same name, which it reads from its start. A line is
returned once its newline is written; a partial last line is held until
then (or until rotation ends the old file). When the file shrinks below
what was read (``truncate``, ``> file``), reading starts again at its
start. A file that does not exist yet is waited for.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import BinaryIO, Final

__all__ = ["LineTail"]

#: Bytes read per call at most, so one huge append cannot starve the other triggers of a sensor.
READ_CHUNK: Final = 1 << 20
#: A line longer than this is returned in pieces of this size (a file with no newlines still makes progress).
MAX_LINE_BYTES: Final = 256 * 1024


class LineTail:
    """The complete lines appended to ``path`` since the last :meth:`read`.

    Args:
        path: The file to follow (it may not exist yet).
        from_start: Read a file that exists now from its start; by default only lines appended
            from now on are returned (as ``tail -F -n 0``).
    """

    def __init__(self, path: Path, *, from_start: bool = False) -> None:
        self.path = path
        self._file: BinaryIO | None = None
        self._identity: tuple[int, int] | None = None
        self._offset = 0
        self._partial = b""
        self._open(at_end=not from_start)

    def close(self) -> None:
        """Stop following (closes the file)."""
        if self._file is not None:
            self._file.close()
            self._file = None
            self._identity = None

    def read(self) -> list[str]:
        """The complete lines appended since the last call (without their line endings)."""
        lines: list[str] = []
        if self._file is None:
            self._open(at_end=False)
            if self._file is None:
                return lines
        current = _identity(self.path)
        if current is not None and current == self._identity and os.fstat(self._file.fileno()).st_size < self._offset:
            self._restart()  # truncated: the writer started the file again
        lines += self._drain()
        if current != self._identity:  # renamed away or deleted (rotation): the old file is finished
            lines += self._drain(everything=True)
            if self._partial:
                lines.append(_decode(self._partial))
                self._partial = b""
            self.close()
            self._open(at_end=False)
            if self._file is not None:
                lines += self._drain()
        return lines

    def _open(self, *, at_end: bool) -> None:
        try:
            handle = self.path.open("rb")
        except (FileNotFoundError, IsADirectoryError, NotADirectoryError, PermissionError):
            return
        stat = os.fstat(handle.fileno())
        self._file = handle
        self._identity = (stat.st_dev, stat.st_ino)
        self._offset = stat.st_size if at_end else 0
        self._partial = b""
        handle.seek(self._offset)

    def _restart(self) -> None:
        assert self._file is not None
        self._offset = 0
        self._partial = b""
        self._file.seek(0)

    def _drain(self, *, everything: bool = False) -> list[str]:
        """Lines from the next chunk of the file (every chunk up to its end with ``everything``)."""
        assert self._file is not None
        lines: list[str] = []
        while data := self._file.read(READ_CHUNK):
            self._offset += len(data)
            chunks = (self._partial + data).split(b"\n")
            self._partial = chunks.pop()
            lines += [_decode(chunk) for chunk in chunks]
            while len(self._partial) > MAX_LINE_BYTES:
                lines.append(_decode(self._partial[:MAX_LINE_BYTES]))
                self._partial = self._partial[MAX_LINE_BYTES:]
            if not everything:
                break
        return lines


def _identity(path: Path) -> tuple[int, int] | None:
    try:
        stat = path.stat()
    except OSError:
        return None
    return (stat.st_dev, stat.st_ino)


def _decode(raw: bytes) -> str:
    return raw.removesuffix(b"\r").decode("utf-8", errors="replace")
