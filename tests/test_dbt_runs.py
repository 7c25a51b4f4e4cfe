"""How dbt is run: views re-created only when their SQL changed, and the quick exit of
ops.dbt_main (exit codes kept, the database checkpointed before the process ends)."""

from __future__ import annotations

import subprocess
import sys

import duckdb
import pytest

from ops.build import build
from ops.dbt_runner import run_dbt
from ops.settings import PROJECT_ROOT

pytestmark = pytest.mark.dbt

VIEW = "stg_tushare__trade_cal"
SENTINEL = "select 'not rebuilt' as marker"


def view_state(paths) -> tuple[str, str | None]:
    with duckdb.connect(str(paths.duckdb_path), read_only=True) as con:
        return con.execute(
            "select sql, comment from duckdb_views() where schema_name = 'staging' and view_name = ?", [VIEW]
        ).fetchone()


def swap_definition(paths, comment: str | None) -> None:
    """Change the view behind dbt's back, keeping (or replacing) its comment."""
    with duckdb.connect(str(paths.duckdb_path)) as con:
        con.execute(f"create or replace view staging.{VIEW} as {SENTINEL}")
        con.execute(f"comment on view staging.{VIEW} is {'NULL' if comment is None else '$$' + comment + '$$'}")


def build_view(paths, tmp_path, full_refresh=False) -> None:
    build(paths, select=VIEW, run_tests=False, full_refresh=full_refresh, target_path=tmp_path / "t", echo=False)


def test_view_is_recreated_only_when_its_sql_changed(tiny_copy, tmp_path):
    build_view(tiny_copy, tmp_path)
    sql, fingerprint = view_state(tiny_copy)
    assert fingerprint.startswith("fw-sql-md5:") and "trade_cal" in sql

    # Same compiled SQL and the same fingerprint: the view is left as it is.
    swap_definition(tiny_copy, fingerprint)
    build_view(tiny_copy, tmp_path)
    assert "not rebuilt" in view_state(tiny_copy)[0]

    # A fingerprint of other SQL (or none, as dbt's own materialization leaves): re-created.
    for stale in ("fw-sql-md5:0", None):
        swap_definition(tiny_copy, stale)
        build_view(tiny_copy, tmp_path)
        assert view_state(tiny_copy) == (sql, fingerprint)

    # --full-refresh re-creates it whatever its fingerprint says.
    swap_definition(tiny_copy, fingerprint)
    build_view(tiny_copy, tmp_path, full_refresh=True)
    assert view_state(tiny_copy) == (sql, fingerprint)


def test_quick_exit_checkpoints_the_warehouse(tiny_copy, tmp_path):
    build_view(tiny_copy, tmp_path)
    # dbt-duckdb closes the database in an exit handler; skipped, the writes would be left in the WAL.
    assert tiny_copy.duckdb_path.exists()
    assert not tiny_copy.duckdb_path.with_name(tiny_copy.duckdb_path.name + ".wal").exists()


def test_quick_exit_keeps_dbt_exit_codes():
    run = subprocess.run(
        [sys.executable, "-m", "ops.dbt_main", "no-such-command"], cwd=PROJECT_ROOT, capture_output=True, text=True
    )
    assert run.returncode == 2 and "No such command" in run.stdout + run.stderr


@pytest.mark.parametrize(("stdin", "code", "runs"), [("go\n", 0, True), ("", 3, False), ("stop\n", 3, False)])
def test_dbt_waits_for_go_after_its_import(stdin, code, runs):
    run = subprocess.run(
        [sys.executable, "-m", "ops.dbt_main", "--after-go", "--version"],
        cwd=PROJECT_ROOT,
        input=stdin,
        capture_output=True,
        text=True,
    )
    assert run.returncode == code
    assert ("installed" in run.stdout.lower()) is runs, run.stdout


class PreflightFailed(Exception):
    pass


def test_a_failing_preflight_stops_dbt_before_it_runs(tiny_copy, tmp_path):
    def preflight():
        raise PreflightFailed("raw files rejected")

    with pytest.raises(PreflightFailed):
        run_dbt(["build", "--select", VIEW], tiny_copy, target_path=tmp_path / "t", echo=False, preflight=preflight)
    assert not tiny_copy.duckdb_path.exists(), "dbt ran although the preflight failed"
    assert not (tmp_path / "t" / "run_results.json").exists()
