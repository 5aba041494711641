"""The pure parts of the pipeline and notify packs (packs/*/actions/lib): splitting records, chunk sizes, merging,
finding the reason of a failure, refusing a notification that has nowhere to go."""

from __future__ import annotations

import importlib.util
import io
import json
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

PACKS = Path(__file__).resolve().parents[2] / "packs"


def _package(name: str, folder: Path) -> ModuleType:
    """Import the pack library ``folder`` as package ``name`` (as the python runner puts actions/lib on sys.path)."""
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(
        name, folder / "__init__.py", submodule_search_locations=[str(folder)]
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


_package("pipeline_csv", PACKS / "pipeline" / "actions" / "lib" / "pipeline_csv")
_package("notify_lib", PACKS / "notify" / "actions" / "lib" / "notify_lib")

from notify_lib.delivery import DeliveryError, Targets, deliver  # noqa: E402
from notify_lib.message import Notification, failure_reason, slack_text  # noqa: E402
from pipeline_csv.errors import PipelineError  # noqa: E402
from pipeline_csv.merge import concat_results, merge_aggregates  # noqa: E402
from pipeline_csv.process import aggregate_chunk  # noqa: E402
from pipeline_csv.reasons import failure_reason as run_failure  # noqa: E402
from pipeline_csv.split import chunk_rows_for, numeric_columns_for, records, split_file  # noqa: E402


def test_records_keep_quoted_line_breaks_in_one_record_with_its_first_line_number() -> None:
    data = b'id,note\n1,"two\nlines, ""quoted"""\n2,plain\n3,last-without-newline'
    assert list(records(io.BytesIO(data))) == [
        (1, b"id,note\n"),
        (2, b'1,"two\nlines, ""quoted"""\n'),
        (4, b"2,plain\n"),
        (5, b"3,last-without-newline\n"),
    ]


def test_records_refuse_a_quote_left_open() -> None:
    with pytest.raises(PipelineError, match=r"line 3: a quoted field opened on this line is not closed"):
        list(records(io.BytesIO(b'a,b\n1,2\n3,"open\n4,5\n')))


@pytest.mark.parametrize(
    ("size", "sample_rows", "sample_bytes", "asked", "cap", "rows"),
    [
        (2 * 1024**3, 20_000, 1024**2, 10_000, 200, 204_800),  # 2 GB of ~52-byte rows: 200 chunks, not 4,096
        (10 * 1024**2, 20_000, 1024**2, 200_000, 200, 200_000),  # small file: as asked
        (100, 0, 0, 5, 200, 5),  # no data rows
    ],
)
def test_chunk_rows_are_raised_so_a_big_file_stays_under_max_chunks(
    size: int, sample_rows: int, sample_bytes: int, asked: int, cap: int, rows: int
) -> None:
    assert chunk_rows_for(size, sample_rows, sample_bytes, asked, cap) == rows


def test_numeric_columns_are_the_configured_ones_or_those_numeric_in_the_first_row() -> None:
    header = ["id", "region", "amount"]
    assert numeric_columns_for(header, ["7", "eu", "1.5"], []) == ["id", "amount"]
    assert numeric_columns_for(header, ["7", "eu", "1.5"], ["amount"]) == ["amount"]
    with pytest.raises(PipelineError, match=r"numeric_columns \['amout'\] are not in the header"):
        numeric_columns_for(header, None, ["amout"])


def _split(tmp_path: Path, text: str, rows: int) -> Any:
    source = tmp_path / "in.csv"
    source.write_text(text)
    return split_file(source, tmp_path / "job", chunk_rows=rows, max_chunks=100, numeric_columns=[])


def test_split_aggregate_merge_give_the_totals_of_the_whole_file(tmp_path: Path) -> None:
    lines = ["id,amount,note"] + [f'{i},{i / 4},"n {i}\nmore"' for i in range(1, 24)]
    result = _split(tmp_path, "\n".join(lines) + "\n", 5)
    assert [c.rows for c in result.chunks] == [5, 5, 5, 5, 3]
    assert [c.first_line for c in result.chunks] == [2, 12, 22, 32, 42]  # each record spans two lines
    assert Path(result.chunks[1].path).read_text().startswith("id,amount,note\n6,1.5,")
    chunks = [{"path": c.path, "first_line": c.first_line, "rows": c.rows} for c in result.chunks]
    for chunk in result.chunks:
        aggregate_chunk(Path(chunk.path), chunk.first_line, result.numeric_columns, "in.csv")
    summary = merge_aggregates(chunks, tmp_path / "out.json", source="in.csv", numeric_columns=result.numeric_columns)
    assert summary["rows"] == 23
    assert summary["columns"]["amount"] == {"count": 23, "empty": 0, "sum": 69.0, "min": 0.25, "max": 5.75, "mean": 3.0}
    assert json.loads((tmp_path / "out.json").read_text()) == summary


def test_aggregate_names_the_input_line_of_a_bad_record(tmp_path: Path) -> None:
    result = _split(tmp_path, "id,amount\n1,2\n2,3\n3,x\n4,5\n", 2)
    second = result.chunks[1]
    with pytest.raises(PipelineError, match=r"^in.csv line 4: column 'amount' holds 'x', not a number$"):
        aggregate_chunk(Path(second.path), second.first_line, ["id", "amount"], "in.csv")
    (tmp_path / "short.csv").write_text("id,amount\n1\n")
    with pytest.raises(PipelineError, match=r"line 2: 1 fields where the header has 2"):
        aggregate_chunk(tmp_path / "short.csv", 2, ["amount"], "in.csv")


def test_concat_keeps_one_header(tmp_path: Path) -> None:
    chunks = []
    for index, body in enumerate(["h\n1\n", "h\n2\n"]):
        Path(f"{tmp_path}/c{index}.csv.result.csv").write_text(body)
        chunks.append({"path": f"{tmp_path}/c{index}.csv"})
    concat_results(chunks, tmp_path / "all.csv", has_header=True)
    assert (tmp_path / "all.csv").read_text() == "h\n1\n2\n"
    with pytest.raises(PipelineError, match=r"1 chunk result\(s\) missing \(c9.csv.result.csv\)"):
        concat_results([{"path": f"{tmp_path}/c9.csv"}], tmp_path / "none.csv", has_header=True)
    assert not (tmp_path / "none.csv").exists()  # nothing half-written


def test_the_run_failure_is_the_first_failed_steps_error() -> None:
    ok = {"result": {"rows": 3}, "stdout": "", "stderr": "", "exit_code": 0}
    bad = {"result": {"error": "in.csv line 9: column 'x' holds 'y', not a number"}, "exit_code": 0}
    assert (
        run_failure({"split": ok, "process": [ok, bad, ok]})
        == "process: in.csv line 9: column 'x' holds 'y', not a number"
    )
    crashed = {"result": None, "stderr": "Traceback...\nKeyError: 'path'\n", "exit_code": 1}
    assert run_failure({"split": crashed}) == "split: KeyError: 'path'"
    assert run_failure({"split": {"error": "Action failed to complete in 600 seconds"}}) == (
        "split: Action failed to complete in 600 seconds"
    )


def test_an_executions_failure_reason_is_found_whatever_its_runner() -> None:
    assert (
        failure_reason({"return_code": 2, "stderr": "x\ncp: cannot stat 'a'\n", "stdout": ""}) == "cp: cannot stat 'a'"
    )
    assert failure_reason({"status_code": 502, "body": "bad gateway"}) == "HTTP status 502"
    chain = {
        "tasks": [
            {"name": "a", "state": "succeeded", "result": {}},
            {"name": "b", "state": "timeout", "result": {"error": "late"}},
        ]
    }
    assert failure_reason(chain) == "task 'b' timeout: late"
    assert (
        failure_reason({"tasks": [], "error": "task 'split' could not start: x"}) == "task 'split' could not start: x"
    )
    assert failure_reason({}).startswith("no error message")


def test_a_notification_needs_somewhere_to_go_and_a_known_severity() -> None:
    with pytest.raises(DeliveryError, match="nowhere to send the notification: set webhook_url and/or slack_channel"):
        deliver(Targets(), Notification(message="hi"), None)
    with pytest.raises(ValueError, match="severity must be one of info, warning, error, not 'fatal'"):
        Notification(message="hi", severity="fatal")
    delivered, errors = deliver(Targets(slack_channel="#ops"), Notification(message="hi"), None)
    assert delivered == [] and errors[0].startswith(
        "Slack: no bot token; store it with `st2lite key set slack_bot_token"
    )
    assert slack_text(Notification(message="m", title="T", severity="error")) == ":rotating_light: *T*\nm"
