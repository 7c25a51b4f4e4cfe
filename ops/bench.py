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
    rate: dict | None = None  # what the stage wrote per second, where the target is a rate

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


# A fixed DuckDB workload timed before and after the stages: this machine kind's speed has been
# seen to drift by half within a day, and a bench is only comparable with another at the same speed.
# Grouped exact (hugeint) and double sums over 4.7 M rows, like the layers' cross-sections.
MACHINE_CHECK_SQL = """
    select g,
        sum(cast(x * 1152921504606846976.0 as hugeint)) filter (where keep),
        sum(cast((x + 1) * 1152921504606846976.0 as hugeint)) filter (where keep),
        sum(cast((x + 2) * 1152921504606846976.0 as hugeint)) filter (where keep),
        sum(cast((x + 3) * 1152921504606846976.0 as hugeint)) filter (where keep),
        sum(x * w) filter (where keep), sum(x * x * w) filter (where keep), sum(w) filter (where keep)
    from machine_check group by g
"""


MACHINE_CHECK_REPEATS = 5


def machine_check_seconds(repeats: int = MACHINE_CHECK_REPEATS) -> float:
    """Best wall time of MACHINE_CHECK_SQL on deterministic data, both cores, in memory."""
    import duckdb

    with duckdb.connect() as con:
        con.execute("select setseed(0.5)")
        con.execute(
            "create table machine_check as select (i // 4700)::int as g, random() * 6 - 3 as x, "
            "random() > 0.05 as keep, random() * 1e11 as w from range(4700000) as r(i)"
        )
        best = float("inf")
        for _ in range(repeats):
            start = time.perf_counter()
            con.execute(MACHINE_CHECK_SQL).fetchall()
            best = min(best, time.perf_counter() - start)
    return round(best, 3)


def qlib_values_written(qlib_dir: Path) -> int:
    """The float32 values in a Qlib provider directory's feature files (each starts with a 4-byte index)."""
    return sum((f.stat().st_size - 4) // 4 for f in qlib_dir.glob("features/*/*.bin"))


def format_table(results: list[StageResult]) -> str:
    rows = [("stage", "wall s", "peak MiB", "target s", "ok", "rate")]
    for r in results:
        ok = {True: "yes", False: "NO", None: "-"}[r.within_target] if r.returncode == 0 else "FAILED"
        target = "-" if r.target_seconds is None else f"{r.target_seconds:g}"
        rate = f"{r.rate['per_second']:,} {r.rate['unit']}/s" if r.rate else ""
        rows.append((r.stage, f"{r.wall_seconds:.2f}", f"{r.peak_rss_mib:.0f}", target, ok, rate))
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    return "\n".join("  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)) for row in rows)


class Bench:
    """Runs stages in order, each in its own process, and records what they cost."""

    def __init__(self, stocks: int, days: int, seed: int, paths: Paths, out_file: Path):
        self.meta = {"stocks": stocks, "days": days, "seed": seed}
        self.env = {**os.environ, **paths.env()}
        self.out_file = out_file
        self.log = out_file.with_suffix(".log")
        self.results: list[StageResult] = []
        self.machine_check: dict[str, float] = {}
        out_file.parent.mkdir(parents=True, exist_ok=True)

    @property
    def failed(self) -> bool:
        return any(r.returncode != 0 for r in self.results)

    def stage(self, name: str, args: list[str], target_seconds: float | None = None) -> StageResult:
        print(f"[bench] {name} ...", flush=True)
        result = measure(name, args, self.env, target_seconds, self.log)
        self.results.append(result)
        print(f"[bench] {name}: {result.wall_seconds:.2f} s, peak {result.peak_rss_mib:.0f} MiB", flush=True)
        if result.returncode != 0:
            print(f"[bench] {name} failed with exit code {result.returncode}; see {self.log}", file=sys.stderr)
        self.write()
        return result

    def note_rate(self, stage: str, unit: str, count: int) -> None:
        """Record ``count`` things written by ``stage`` and their rate per second of its wall time."""
        (result,) = [r for r in self.results if r.stage == stage]
        result.rate = {"unit": unit, "count": count, "per_second": round(count / result.wall_seconds)}
        print(f"[bench] {stage}: {count:,} {unit}, {result.rate['per_second']:,} per second", flush=True)
        self.write()

    def check_machine(self, when: str) -> None:
        """Time the fixed workload (MACHINE_CHECK_SQL) and record it under ``when``."""
        self.machine_check[when] = machine_check_seconds()
        print(f"[bench] machine check ({when}): {self.machine_check[when]:.3f} s", flush=True)
        self.write()

    def write(self) -> None:
        report = {
            **self.meta,
            "machine": {
                "cpus": os.cpu_count(),
                "platform": platform.platform(),
                "python": platform.python_version(),
                "check_seconds": self.machine_check,
            },
            "stages": [asdict(r) | {"within_target": r.within_target} for r in self.results],
        }
        self.out_file.write_text(json.dumps(report, indent=2))
