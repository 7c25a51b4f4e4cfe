"""Build the warehouse: check the raw files against their contract, then `dbt build`."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from ops.dbt_runner import DbtRun, run_dbt
from ops.settings import Paths


class BuildScopeError(ValueError):
    """The requested build cannot give what was asked (e.g. an as-of date the warehouse is past)."""


def built_through(paths: Paths) -> dt.date | None:
    """The newest trade_date in the warehouse's prices, or None when nothing is built yet."""
    import duckdb

    if not paths.duckdb_path.exists():
        return None
    with duckdb.connect(str(paths.duckdb_path), read_only=True) as con:
        exists = con.execute(
            "select count(*) from duckdb_tables() where schema_name = 'intermediate' and table_name = ?",
            ["int_prices__daily"],
        ).fetchone()[0]
        if not exists:
            return None
        return con.execute("select max(trade_date) from intermediate.int_prices__daily").fetchone()[0]


def build(
    paths: Paths,
    *,
    select: str | None = None,
    exclude: str | None = None,
    full_refresh: bool = False,
    end_date: str | dt.date | None = None,
    run_tests: bool = True,
    target_path: Path | None = None,
    echo: bool = True,
    extra_args: list[str] | None = None,
) -> DbtRun:
    """Pre-flight the raw files, then build (and by default test) the selected models.

    end_date (YYYY-MM-DD) makes an as-of build: nothing dated later is read. A raw-contract
    violation raises RawContractError; a failed model or test raises DbtFailed.
    """
    if end_date is not None:
        end_date = dt.date.fromisoformat(str(end_date))  # a clear error before dbt starts
        built = built_through(paths)
        if not full_refresh and built is not None and built > end_date:
            raise BuildScopeError(
                f"{paths.duckdb_path} already holds data through {built}; an incremental build only adds "
                f"later dates, so an as-of build to {end_date} needs --full-refresh"
            )
    # `build` either way, so that seeds load; without tests, data and unit tests are excluded.
    command = (
        ["build"] if run_tests else ["build", "--exclude-resource-type", "test", "--exclude-resource-type", "unit_test"]
    )
    if select:
        command += ["--select", select]
    if exclude:
        command += ["--exclude", exclude]
    if full_refresh:
        command.append("--full-refresh")
    command += extra_args or []
    # Always set, so an as-of date in the caller's environment never leaks into a full build.
    scope = {"FW_END_DATE": end_date.isoformat() if end_date else ""}
    # The raw files are checked while the dbt process imports dbt; dbt starts only if they pass.
    return run_dbt(command, paths, env=scope, target_path=target_path, echo=echo, preflight=lambda: _check_raw(paths))


def _check_raw(paths: Paths) -> None:
    from ingest.raw_contract import check_raw_root  # pyarrow: loaded beside dbt's import, not before it

    check_raw_root(paths.raw_dir)
