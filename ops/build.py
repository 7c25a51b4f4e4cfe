"""Build the warehouse: check the raw files against their contract, then `dbt build`."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from ingest.raw_contract import check_raw_root
from ops.dbt_runner import DbtRun, run_dbt
from ops.settings import Paths


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
    check_raw_root(paths.raw_dir)
    command = ["build" if run_tests else "run"]
    if select:
        command += ["--select", select]
    if exclude:
        command += ["--exclude", exclude]
    if full_refresh:
        command.append("--full-refresh")
    command += extra_args or []
    dbt_vars = {"end_date": end_date.isoformat()} if end_date else None
    return run_dbt(command, paths, dbt_vars=dbt_vars, target_path=target_path, echo=echo)
