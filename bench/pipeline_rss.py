"""Peak memory of the pipeline pack's steps on a big CSV, against ``wc -l``, ``cp`` and reading the file whole.

Generates a CSV of ``BENCH_PIPELINE_MB`` MB (default 2048 at scale 1; ``--scale`` multiplies it), then runs
``pipeline.split_csv``, ``pipeline.process_chunk`` (every chunk, two at a time, as two workers would) and
``pipeline.merge_results`` the way a worker runs them: ``python -P st2lite/runners/python_wrapper.py`` with the
action's request on stdin, the pack's ``actions/lib`` on ``sys.path``, the pack config as ``config``. Each
process's peak RSS is the kernel's ``ru_maxrss`` of that process alone, taken by a small launcher (see
:func:`measure`), so nothing else the benchmark ran counts. The figures: the peak of each step (for
process, the largest of its chunks), the baselines, and the input size, in MB.
"""

from __future__ import annotations

import json
import os
import secrets
import subprocess
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.common import PYTHON, REPO, Context, Figure

__all__ = ["ActionRun", "generate_csv", "run", "run_action"]

PACK = REPO / "packs" / "pipeline"
WRAPPER = REPO / "st2lite" / "runners" / "python_wrapper.py"
#: Input size at scale 1 (MB); ``BENCH_PIPELINE_MB`` overrides it.
DEFAULT_MB = 2048
REGIONS = ("eu-west", "eu-north", "us-east", "us-west", "ap-south")


@dataclass(frozen=True)
class ActionRun:
    result: Any
    ok: bool
    peak_rss_kb: int
    seconds: float
    stderr: str


#: Runs argv, waits with wait4 and writes that child's ru_maxrss (KB) to the file named by its first argument:
#: the fallback where GNU time is missing. A child's ru_maxrss counts the pages of its parent at fork, so the
#: launcher must be small (an isolated interpreter, ~8 MB) rather than the benchmark's own process.
LAUNCHER = (
    "import os, sys\n"
    "pid = os.fork()\n"
    "if pid == 0:\n"
    "    os.execvp(sys.argv[2], sys.argv[2:])\n"
    "_, status, usage = os.wait4(pid, 0)\n"
    "open(sys.argv[1], 'w').write(str(usage.ru_maxrss))\n"
    "sys.exit(os.waitstatus_to_exitcode(status))\n"
)
GNU_TIME = Path("/usr/bin/time")


def measure(
    argv: list[str], *, stdin: bytes | None = None, env: dict[str, str] | None = None
) -> tuple[int, int, bytes, bytes]:
    """Run ``argv``; ``(exit code, peak RSS in KB, stdout, stderr)``.

    The peak is the process's own ``ru_maxrss``, taken by a small launcher (GNU ``time -f %M``, or an isolated
    Python) so that the pages of the benchmark process, which a forked child starts with, do not count.
    """
    with tempfile.TemporaryDirectory() as tmp:
        report = Path(tmp) / "maxrss"
        if GNU_TIME.is_file():
            wrapped = [str(GNU_TIME), "-q", "-f", "%M", "-o", str(report), *argv]
        else:
            wrapped = [PYTHON, "-I", "-S", "-c", LAUNCHER, str(report), *argv]
        done = subprocess.run(wrapped, input=stdin, capture_output=True, env=env, check=False)
        peak = int(report.read_text().split()[-1]) if report.is_file() else 0
        return done.returncode, peak, done.stdout, done.stderr


def run_action(entry_point: str, parameters: dict[str, Any], config: dict[str, Any]) -> ActionRun:
    """Run one of the pipeline pack's Python actions in a new interpreter, exactly as the python-script runner does."""
    delimiter = f"<<st2lite-result-{secrets.token_hex(16)}>>"
    request = {
        "delimiter": delimiter,
        "entry_point": str(PACK / "actions" / entry_point),
        "pack": "pipeline",
        "pack_path": str(PACK),
        "parameters": parameters,
        "config": config,
        "user": "bench",
        "log_level": "INFO",
    }
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    started = time.monotonic()
    code, peak, stdout, stderr = measure([PYTHON, "-P", str(WRAPPER)], stdin=json.dumps(request).encode(), env=env)
    seconds = time.monotonic() - started
    parts = stdout.decode().split(delimiter)
    payload = json.loads(parts[1]) if len(parts) == 3 else {"error": f"no result (exit {code})"}
    ok = code == 0 and "error" not in payload and payload.get("status") is not False
    return ActionRun(payload.get("result", payload), ok, peak, seconds, stderr.decode(errors="replace")[-2000:])


def generate_csv(path: Path, megabytes: float) -> int:
    """Write a CSV of about ``megabytes`` MB (``id,region,quantity,amount,note``); returns its rows."""
    target = int(megabytes * 1024 * 1024)
    rows = 0
    written = 0
    with path.open("w", buffering=1 << 20) as out:
        header = "id,region,quantity,amount,note\n"
        out.write(header)
        written += len(header)
        while written < target:
            block = "".join(
                f'{i},{REGIONS[i % 5]},{i % 17},{(i * 37) % 10000 / 100:.2f},order {i} for "customer" {i % 991}\n'
                for i in range(rows, rows + 10_000)
            )
            out.write(block)
            written += len(block)
            rows += 10_000
    return rows


def _mb(kb: int) -> float:
    return round(kb / 1024, 1)


def run(ctx: Context) -> list[Figure]:
    megabytes = float(os.environ.get("BENCH_PIPELINE_MB") or ctx.size(DEFAULT_MB))
    with tempfile.TemporaryDirectory(prefix="st2lite-bench-pipeline-", dir=os.environ.get("BENCH_PIPELINE_DIR")) as tmp:
        folder = Path(tmp)
        source = folder / "inbox" / "orders.csv"
        source.parent.mkdir()
        started = time.monotonic()
        rows = generate_csv(source, megabytes)
        size_mb = source.stat().st_size / (1024 * 1024)
        print(f"   generated {size_mb:.0f} MB, {rows} rows in {time.monotonic() - started:.0f}s")
        config = {name: str(folder / name) for name in ("work_dir", "archive_dir", "output_dir", "failed_dir")}
        config.update(chunk_rows=200_000, max_chunks=200, processor="aggregate", numeric_columns=["quantity", "amount"])

        baselines = {}
        for name, argv in {
            "wc_l": ["wc", "-l", str(source)],
            "cp": ["cp", str(source), str(folder / "copy.csv")],
            "read_whole": [PYTHON, "-c", f"data = open({str(source)!r}, 'rb').read(); print(len(data))"],
        }.items():
            code, peak, _out, err = measure(argv)
            if code != 0:
                raise RuntimeError(f"{argv[0]} failed: {err.decode()[-500:]}")
            baselines[name] = peak
            print(f"   baseline {name}: {_mb(peak)} MB")
        (folder / "copy.csv").unlink()

        split = run_action("split_csv.py", {"path": str(source), "run_id": "bench"}, config)
        if not split.ok:
            raise RuntimeError(f"split failed: {split.result} {split.stderr}")
        chunks = split.result["chunks"]
        print(f"   split: {_mb(split.peak_rss_kb)} MB peak, {len(chunks)} chunks, {split.seconds:.0f}s")

        def process(chunk: dict[str, Any]) -> ActionRun:
            params = {"chunk": chunk, "source": str(source), "numeric_columns": split.result["numeric_columns"]}
            return run_action("process_chunk.py", params, config)

        started = time.monotonic()
        with ThreadPoolExecutor(max_workers=2) as pool:  # two workers, as `st2lite up` starts
            processed = list(pool.map(process, chunks))
        process_seconds = time.monotonic() - started
        failed = [p for p in processed if not p.ok]
        if failed:
            raise RuntimeError(f"{len(failed)} chunks failed: {failed[0].result} {failed[0].stderr}")
        process_peak = max(p.peak_rss_kb for p in processed)
        print(f"   process: {_mb(process_peak)} MB peak (largest chunk), {process_seconds:.0f}s for all")

        merge = run_action(
            "merge_results.py",
            {"source": str(source), "chunks": chunks, "numeric_columns": split.result["numeric_columns"]},
            config,
        )
        if not merge.ok or merge.result["rows"] != rows:
            raise RuntimeError(f"merge failed or lost rows: {merge.result} {merge.stderr}")
        print(f"   merge: {_mb(merge.peak_rss_kb)} MB peak, {merge.seconds:.0f}s")

    details = {
        "input_mb": round(size_mb),
        "rows": rows,
        "chunks": len(chunks),
        "chunk_rows": split.result["chunk_rows"],
        "seconds": {
            "split": round(split.seconds, 1),
            "process": round(process_seconds, 1),
            "merge": round(merge.seconds, 1),
        },
        "method": "ru_maxrss of each action process (GNU time -f %M, or wait4 in a small launcher), "
        "run through st2lite's python_wrapper",
    }
    return [
        Figure("pipeline_input_mb", round(size_mb), "MB", details=details),
        Figure("pipeline_split_peak_rss_mb", _mb(split.peak_rss_kb), "MB", baseline="pipeline_read_whole_peak_rss_mb"),
        Figure("pipeline_process_peak_rss_mb", _mb(process_peak), "MB", baseline="pipeline_read_whole_peak_rss_mb"),
        Figure("pipeline_merge_peak_rss_mb", _mb(merge.peak_rss_kb), "MB", baseline="pipeline_read_whole_peak_rss_mb"),
        Figure("pipeline_cp_peak_rss_mb", _mb(baselines["cp"]), "MB"),
        Figure("pipeline_wc_peak_rss_mb", _mb(baselines["wc_l"]), "MB"),
        Figure("pipeline_read_whole_peak_rss_mb", _mb(baselines["read_whole"]), "MB"),
    ]
