"""Run dbt as a subprocess and turn a failed build into a report that names rows.

dbt's own output says which test failed; it does not say which rows. Tests store their
failing rows (`store_failures`, schema `audit`), so after a failed build we read the first
few of them back: a user sees the table, the rule and the keys (and the raw file) at once.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ops.dbt_main import AFTER_GO
from ops.settings import PROJECT_ROOT, Paths

EXAMPLE_ROWS = 5
# Columns that identify a row, printed first; the others only if the rule mentions them.
KEY_COLUMNS = (
    "ts_code",
    "index_code",
    "trade_date",
    "cal_date",
    "end_date",
    "known_date",
    "in_date",
    "exchange",
    "span_number",
    "n_rows",
)


@dataclass
class NodeFailure:
    unique_id: str
    name: str
    resource_type: str
    status: str
    message: str
    model: str | None = None
    rule: str | None = None
    n_rows: int | None = None
    examples: list[dict[str, Any]] = field(default_factory=list)

    def describe(self) -> str:
        if self.resource_type != "test":
            return f"{self.resource_type} {self.name} {self.status}: {self.message.strip()}"
        head = f"rule {self.name} on table {self.model}: {self.n_rows} offending row(s)"
        if self.rule:
            head += f"\n      rule: {self.rule}"
        rows = "\n".join(f"      {_format_row(r, self.rule or '')}" for r in self.examples)
        return f"{head}\n{rows}" if rows else f"{head} ({self.message.strip()})"


def _format_row(row: dict[str, Any], rule: str) -> str:
    """Keys first, then the values the rule looks at, then the raw file the row came from."""
    keys = [k for k in KEY_COLUMNS if k in row]
    mentioned = [k for k in row if k not in keys and k != "source_file" and k in rule]
    shown = keys + mentioned + (["source_file"] if "source_file" in row else [])
    return ", ".join(f"{k}={row[k]}" for k in shown)


class DbtFailed(RuntimeError):
    """dbt exited with an error. `failures` says which nodes and rows."""

    def __init__(self, command: list[str], failures: list[NodeFailure], returncode: int):
        self.command = command
        self.failures = failures
        self.returncode = returncode
        lines = [f"dbt {' '.join(command)} failed ({len(failures)} failing node(s)):"]
        lines += [f"  - {f.describe()}" for f in failures]
        super().__init__("\n".join(lines))


@dataclass
class DbtRun:
    command: list[str]
    returncode: int
    output: str
    target_path: Path


def dbt_command() -> list[str]:
    """dbt's command line, through ops.dbt_main (same arguments, output and exit codes; a faster exit)."""
    return [sys.executable, "-m", "ops.dbt_main"]


def run_dbt(
    command: list[str],
    paths: Paths,
    *,
    env: dict[str, str] | None = None,
    target_path: Path | None = None,
    echo: bool = True,
    check: bool = True,
    preflight: Callable[[], None] | None = None,
) -> DbtRun:
    """Run `dbt <command>` against the warehouse at `paths`.

    env adds environment variables (such as the as-of date); nothing is spliced into a shell string.
    With check=True a failure raises DbtFailed naming the failing nodes and rows. preflight runs
    while the dbt process imports dbt (about 2 s, on the other core); dbt starts only once it
    returns, and if it raises, dbt never starts and its exception propagates.
    """
    target = target_path or PROJECT_ROOT / "target"
    args = [
        *dbt_command(),
        *([AFTER_GO] if preflight else []),
        *command,
        "--project-dir",
        str(PROJECT_ROOT),
        "--profiles-dir",
        str(PROJECT_ROOT),
        "--target-path",
        str(target),
        "--log-path",
        str(target / "logs"),
    ]
    paths.duckdb_path.parent.mkdir(parents=True, exist_ok=True)
    # A run that fails before executing anything writes no results: never report stale ones.
    (target / "run_results.json").unlink(missing_ok=True)
    # One BLAS thread: the risk models' per-date solves are small, and a multithreaded BLAS slows them
    # 2-5x (docs/riskmodel.md); dates, not matrix products, are what could run in parallel.
    blas = {"OPENBLAS_NUM_THREADS": os.environ.get("OPENBLAS_NUM_THREADS", "1")}
    full_env = {**os.environ, **paths.env(), **blas, **(env or {}), "DBT_SEND_ANONYMOUS_USAGE_STATS": "false"}
    stdin = subprocess.PIPE if preflight else None
    proc = subprocess.Popen(
        args, cwd=PROJECT_ROOT, env=full_env, stdin=stdin, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    if preflight:
        _start_after(proc, preflight)
    lines = []
    assert proc.stdout is not None
    for line in proc.stdout:
        lines.append(line)
        if echo:
            sys.stdout.write(line)
            sys.stdout.flush()
    returncode = proc.wait()
    run = DbtRun(command, returncode, "".join(lines), target)
    if check and returncode != 0:
        raise DbtFailed(command, collect_failures(run, paths), returncode)
    return run


def _start_after(proc: subprocess.Popen, preflight: Callable[[], None]) -> None:
    """Run the preflight, then tell the waiting dbt process to go; if it raises, end that process first."""
    assert proc.stdin is not None
    try:
        preflight()
    except BaseException:
        proc.stdin.close()  # end of input: dbt_main exits without running dbt
        if proc.stdout is not None:
            proc.stdout.read()
        proc.wait()
        raise
    try:
        proc.stdin.write("go\n")
        proc.stdin.close()
    except BrokenPipeError:
        pass  # the process already ended (dbt failed to import): its output and exit code say why


def collect_failures(run: DbtRun, paths: Paths) -> list[NodeFailure]:
    """Failed nodes of the last run, with example rows for failed tests."""
    results_file = run.target_path / "run_results.json"
    manifest_file = run.target_path / "manifest.json"
    if not results_file.exists():
        tail = run.output.strip().splitlines()[-15:]
        return [NodeFailure("dbt", "dbt", "invocation", "error", "\n".join(tail))]
    results = json.loads(results_file.read_text())["results"]
    manifest = json.loads(manifest_file.read_text()) if manifest_file.exists() else {"nodes": {}}
    failures = []
    for r in results:
        if r["status"] not in ("fail", "error"):
            continue
        node = manifest["nodes"].get(r["unique_id"], {})
        failure = NodeFailure(
            r["unique_id"],
            node.get("name", r["unique_id"]),
            node.get("resource_type", "node"),
            r["status"],
            r.get("message") or "",
            n_rows=r.get("failures"),
        )
        if failure.resource_type == "test":
            failure.model = _tested_model(node, manifest)
            failure.rule = _rule_text(node)
            if node.get("relation_name") and r["status"] == "fail":
                failure.examples = _example_rows(paths.duckdb_path, node["relation_name"])
        failures.append(failure)
    return failures


def _tested_model(node: dict, manifest: dict) -> str | None:
    attached = node.get("attached_node")
    if attached:
        return attached.split(".")[-1]
    deps = node.get("depends_on", {}).get("nodes", [])
    return ", ".join(d.split(".")[-1] for d in deps) or None


def _rule_text(node: dict) -> str | None:
    """The rule in words: a row_rule's expression, a unique key's columns, a test's own name."""
    meta = node.get("test_metadata") or {}
    kwargs = meta.get("kwargs", {})
    if "expression" in kwargs:
        return str(kwargs["expression"])
    if "columns" in kwargs:
        return f"unique ({', '.join(kwargs['columns'])})"
    if meta.get("name") in ("not_null", "unique") and kwargs.get("column_name"):
        return f"{meta['name']} {kwargs['column_name']}"
    return node.get("description") or None


def _example_rows(db_path: Path, relation: str) -> list[dict[str, Any]]:
    # The relation name comes from dbt's own manifest, quoted by the adapter; no user value.
    import duckdb  # here, not at the top: a build's dbt process starts before duckdb is loaded

    try:
        with duckdb.connect(str(db_path), read_only=True) as con:
            cur = con.execute(f"select * from {relation} limit {EXAMPLE_ROWS}")
            cols = [d[0] for d in cur.description]
            return [dict(zip(cols, row, strict=True)) for row in cur.fetchall()]
    except duckdb.Error:
        return []
