"""Benchmark: generate a market, then time each stage as its own process.

Each stage runs as a subprocess so its wall time and peak resident memory (from wait4's
rusage, which covers DuckDB inside dbt) are its own. Results go to a JSON file and a table.
"""

from __future__ import annotations

import json
import os
import platform
import subprocess
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from ops.settings import PROJECT_ROOT, Paths


@dataclass
class StageResult:
    stage: str
    wall_seconds: float
    peak_rss_mib: float
    returncode: int
    target_seconds: float | None = None

    @property
    def within_target(self) -> bool | None:
        return None if self.target_seconds is None else self.wall_seconds <= self.target_seconds


def measure(
    stage: str,
    args: list[str],
    env: dict[str, str],
    target_seconds: float | None = None,
    log: Path | None = None,
) -> StageResult:
    """Run one command; return its wall time and peak RSS (the process tree's largest member)."""
    start = time.perf_counter()
    with open(log or os.devnull, "a") as out:
        proc = subprocess.Popen(args, cwd=PROJECT_ROOT, env=env, stdout=out, stderr=subprocess.STDOUT)
        _, status, rusage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - start
    returncode = os.waitstatus_to_exitcode(status)
    # ru_maxrss is in KiB on Linux: the peak of the largest process waited for in the tree.
    return StageResult(stage, round(wall, 2), round(rusage.ru_maxrss / 1024, 1), returncode, target_seconds)


def format_table(results: list[StageResult]) -> str:
    rows = [("stage", "wall s", "peak MiB", "target s", "ok")]
    for r in results:
        ok = {True: "yes", False: "NO", None: "-"}[r.within_target] if r.returncode == 0 else "FAILED"
        target = "-" if r.target_seconds is None else f"{r.target_seconds:g}"
        rows.append((r.stage, f"{r.wall_seconds:.2f}", f"{r.peak_rss_mib:.0f}", target, ok))
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    return "\n".join("  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)) for row in rows)


def run_bench(
    stocks: int,
    days: int,
    seed: int,
    paths: Paths,
    stages: list[tuple[str, list[str], float | None]],
    out_file: Path,
) -> list[StageResult]:
    """Run the given stages in order, stopping at the first failure, and write the JSON report."""
    env = {**os.environ, **paths.env()}
    log = out_file.with_suffix(".log")
    results = []
    for name, args, target in stages:
        print(f"[bench] {name} ...", flush=True)
        result = measure(name, args, env, target, log)
        results.append(result)
        print(f"[bench] {name}: {result.wall_seconds:.2f} s, peak {result.peak_rss_mib:.0f} MiB", flush=True)
        if result.returncode != 0:
            print(f"[bench] {name} failed with exit code {result.returncode}; see {log}", file=sys.stderr)
            break
    report = {
        "stocks": stocks,
        "days": days,
        "seed": seed,
        "machine": {
            "cpus": os.cpu_count(),
            "platform": platform.platform(),
            "python": platform.python_version(),
        },
        "stages": [asdict(r) | {"within_target": r.within_target} for r in results],
    }
    out_file.parent.mkdir(parents=True, exist_ok=True)
    out_file.write_text(json.dumps(report, indent=2))
    return results
