"""LineTail follows a file by name, like tail -F: complete lines, truncation, rotation, late files."""

from __future__ import annotations

from pathlib import Path

from st2lite.sensors.tail import MAX_LINE_BYTES, LineTail


def append(path: Path, text: str | bytes) -> None:
    with path.open("ab") as handle:
        handle.write(text.encode() if isinstance(text, str) else text)


def test_starts_at_the_end_and_holds_a_partial_line(tmp_path: Path) -> None:
    log = tmp_path / "a.log"
    log.write_text("old\n")
    tail = LineTail(log)
    assert tail.read() == []

    append(log, "one\r\ntw")
    assert tail.read() == ["one"]
    append(log, "o\nthree")
    assert tail.read() == ["two"]
    append(log, "\n")
    assert tail.read() == ["three"]


def test_from_start_reads_what_is_there(tmp_path: Path) -> None:
    log = tmp_path / "a.log"
    log.write_text("a\nb\n")
    assert LineTail(log, from_start=True).read() == ["a", "b"]


def test_truncation_starts_again_at_the_start(tmp_path: Path) -> None:
    log = tmp_path / "a.log"
    log.write_text("a long first line\n")
    tail = LineTail(log)
    log.write_text("new\n")
    assert tail.read() == ["new"]


def test_rotation_reads_the_rest_of_the_old_file_then_the_new_one(tmp_path: Path) -> None:
    log = tmp_path / "a.log"
    log.write_text("")
    tail = LineTail(log)
    append(log, "last\nunfinished")
    log.rename(tmp_path / "a.log.1")
    assert tail.read() == ["last", "unfinished"]  # the old file is finished: its partial line counts
    log.write_text("fresh\n")
    assert tail.read() == ["fresh"]


def test_a_missing_file_is_waited_for_and_read_from_its_start(tmp_path: Path) -> None:
    log = tmp_path / "later.log"
    tail = LineTail(log)
    assert tail.read() == []
    log.write_text("hello\n")
    assert tail.read() == ["hello"]
    tail.close()


def test_bad_utf8_is_replaced_and_a_huge_line_comes_in_pieces(tmp_path: Path) -> None:
    log = tmp_path / "a.log"
    log.write_text("")
    tail = LineTail(log)
    append(log, b"caf\xe9\n")
    assert tail.read() == ["caf\ufffd"]
    append(log, b"x" * (MAX_LINE_BYTES + 5))
    assert tail.read() == ["x" * MAX_LINE_BYTES]
    append(log, b"\n")
    assert tail.read() == ["xxxxx"]
