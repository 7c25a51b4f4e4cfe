"""Helpers of the export tests: private warehouse copies to damage, risk marts per their contract when the
build does not make them yet, and checksums of a whole exports tree."""

from __future__ import annotations

import hashlib
import shutil
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd

from exporters.publish import export_barra
from exporters.risk import all_factor_names
from ops.settings import Paths

RISK_MART_DATES = 6  # estimation dates the stand-in risk marts hold (the last ones of fct_factor_returns)
WINDOW, MIN_FACTOR_OBS, MIN_SPECIFIC_OBS = 252, 63, 30


def copy_warehouse(source: Paths, root: Path) -> Paths:
    """A private data directory with a copy of ``source``'s warehouse (raw files are not needed to export)."""
    root.mkdir(parents=True, exist_ok=True)
    paths = Paths.from_env(data_dir=root, duckdb_path=root / "warehouse.duckdb")
    shutil.copyfile(source.duckdb_path, paths.duckdb_path)
    return paths


def execute(paths: Paths, *statements: str, params: list | None = None) -> None:
    """Alter a warehouse copy with SQL (the tests' way of breaking a mart)."""
    with duckdb.connect(str(paths.duckdb_path)) as con:
        for sql in statements:
            con.execute(sql, params or [])


def query(paths: Paths, sql: str, params: list | None = None) -> pd.DataFrame:
    with duckdb.connect(str(paths.duckdb_path), read_only=True) as con:
        return con.execute(sql, params or []).df()


def has_risk_marts(paths: Paths) -> bool:
    (n,) = query(
        paths,
        "select count(*) as n from duckdb_tables() where schema_name = 'marts' "
        "and table_name in ('fct_factor_covariance', 'fct_specific_risk')",
    ).iloc[0]
    return int(n) == 2


def ensure_risk_marts(paths: Paths, n_dates: int = RISK_MART_DATES) -> None:
    """Create fct_factor_covariance and fct_specific_risk with exactly the contract's schema when the build
    has not made them: a sample covariance of the last 252 factor returns (an industry with fewer than 63
    returns in the window is inactive: NULL) and the sample std of total excess returns, both DAILY."""
    if has_risk_marts(paths):
        return
    returns = query(paths, "select trade_date, factor, factor_return from marts.fct_factor_returns")
    industries = query(paths, "select factor_industry from staging.industry_factor_map")["factor_industry"].tolist()
    factors = all_factor_names(industries)
    wide = returns.pivot(index="trade_date", columns="factor", values="factor_return").reindex(columns=factors)
    wide = wide.sort_index()
    # Total excess returns stand in for specific returns: in a 40-stock market a stock alone in its industry
    # has specific returns of exactly 0 (its industry factor absorbs them), which no real model publishes.
    specific = query(paths, "select trade_date, ts_code, excess_return from intermediate.int_returns__daily")
    specific = specific.pivot(index="trade_date", columns="ts_code", values="excess_return").sort_index()
    cov_rows, risk_rows = [], []
    for date in wide.index[-n_dates:]:
        window = wide.loc[:date].tail(WINDOW)
        active = window.notna().sum() >= MIN_FACTOR_OBS
        sample = window.loc[:, active].fillna(0.0).to_numpy()
        cov = np.cov(sample, rowvar=False)
        full = np.full((len(factors), len(factors)), np.nan)
        index = np.flatnonzero(active.to_numpy())
        full[np.ix_(index, index)] = cov
        for i, f in enumerate(factors):
            for j, g in enumerate(factors):
                cov_rows.append((date, f, g, None if np.isnan(full[i, j]) else float(full[i, j])))
        window_u = specific.loc[:date].tail(WINDOW)
        vol = window_u.std()[window_u.notna().sum() >= MIN_SPECIFIC_OBS]
        risk_rows += [(date, code, float(v)) for code, v in vol.items()]
    covariance = pd.DataFrame(cov_rows, columns=["trade_date", "factor_1", "factor_2", "value"])
    specific_risk = pd.DataFrame(risk_rows, columns=["trade_date", "ts_code", "specific_risk"])
    with duckdb.connect(str(paths.duckdb_path)) as con:
        con.register("covariance_rows", covariance)
        con.register("specific_rows", specific_risk)
        con.execute(
            "create table marts.fct_factor_covariance "
            "(trade_date date, factor_1 varchar, factor_2 varchar, value double)"
        )
        con.execute("insert into marts.fct_factor_covariance select * from covariance_rows")
        con.execute("create table marts.fct_specific_risk (trade_date date, ts_code varchar, specific_risk double)")
        con.execute("insert into marts.fct_specific_risk select * from specific_rows")
        # An ESTU stock without enough specific returns gets the date's median (a structural model would).
        con.execute(
            """
            insert into marts.fct_specific_risk
            select e.trade_date, e.ts_code, m.median_risk
            from (select distinct trade_date, ts_code from marts.fct_barra_exposures where in_estu) as e
            inner join (
                select trade_date, median(specific_risk) as median_risk from marts.fct_specific_risk group by 1
            ) as m on m.trade_date = e.trade_date
            anti join marts.fct_specific_risk as s on s.trade_date = e.trade_date and s.ts_code = e.ts_code
            """
        )


def truncate_after(paths: Paths, last: str) -> None:
    """The warehouse as it was at the close of ``last`` (YYYY-MM-DD), for the published tables: the state
    a daily update starts from."""
    execute(
        paths,
        "delete from marts.fct_barra_exposures where trade_date > ?::date",
        "delete from intermediate.int_barra__descriptors where trade_date > ?::date",
        "delete from intermediate.int_barra__universe where trade_date > ?::date",
        "delete from marts.fct_factor_covariance where trade_date > ?::date",
        "delete from marts.fct_specific_risk where trade_date > ?::date",
        "delete from marts.fct_factor_returns where trade_date > ?::date",
        params=[last],
    )


def tree_checksums(root: Path) -> dict[str, str]:
    """sha256 of every file under ``root`` (relative path -> digest); {} when it does not exist."""
    if not root.exists():
        return {}
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


def exposure_dates(paths: Paths) -> list[str]:
    """Every date of fct_barra_exposures, YYYY-MM-DD."""
    frame = query(paths, "select distinct strftime(trade_date, '%Y-%m-%d') as d from marts.fct_barra_exposures")
    return sorted(frame["d"])


# The 40-stock test market has 31 industries for about 37 ESTU stocks: its regression fits a stock alone in its
# industry exactly, so that stock's specific returns and specific risk are ~0 (down to 1e-8 annualized), which no
# real market gives and the risk gate rightly refuses. The export tests lift those to this floor (annualized).
TEST_MARKET_SPECIFIC_FLOOR = 0.05
# Dates of exposures the export tests keep (the last ones): every full export writes two files per date, each
# fsynced, and the whole history adds only time.
EXPORT_DATES = 120
PLANTED_WITHOUT_INDUSTRY = 10  # the n-th last date gets one (non-ESTU) row without an industry


def risk_warehouse(built: Paths, root: Path) -> Paths:
    """A private copy of a built warehouse for the export tests: the risk marts (the build's, or the
    stand-ins), the small market's degenerate specific risks lifted to TEST_MARKET_SPECIFIC_FLOOR, the last
    EXPORT_DATES dates of exposures and the last forecasts, and one planted row without an industry."""
    paths = copy_warehouse(built, root)
    ensure_risk_marts(paths)
    first_kept = exposure_dates(paths)[-EXPORT_DATES]
    planted = exposure_dates(paths)[-PLANTED_WITHOUT_INDUSTRY]
    execute(
        paths,
        "update marts.fct_specific_risk set specific_risk = greatest(specific_risk, ? / sqrt(252))",
        params=[TEST_MARKET_SPECIFIC_FLOOR],
    )
    execute(
        paths,
        "delete from marts.fct_barra_exposures where trade_date < ?::date",
        "delete from intermediate.int_barra__descriptors where trade_date < ?::date",
        "delete from intermediate.int_barra__universe where trade_date < ?::date",
        params=[first_kept],
    )
    execute(
        paths,
        "delete from marts.fct_factor_covariance where trade_date < "
        "(select min(trade_date) from (select distinct trade_date from marts.fct_factor_covariance "
        "order by trade_date desc limit ?))",
        params=[RISK_MART_DATES * 2],
    )
    execute(
        paths,
        "update marts.fct_barra_exposures set industry = null where trade_date = ?::date and ts_code = "
        "(select min(ts_code) from marts.fct_barra_exposures "
        "where trade_date = ?::date and not in_estu and industry is not null)",
        params=[planted, planted],
    )
    return paths


def publication_through(warehouse: Paths, root: Path, last: str | None) -> Paths:
    """A data directory whose exports hold a full publication of ``warehouse`` as of ``last`` (all when None);
    its warehouse copy is truncated the same way."""
    paths = copy_warehouse(warehouse, root)
    if last is not None:
        truncate_after(paths, last)
    export_barra(paths)
    return paths


def fork(warehouse: Paths, publication: Paths, root: Path) -> Paths:
    """A data directory with a copy of ``warehouse`` and of ``publication``'s exports: the next run's state."""
    paths = copy_warehouse(warehouse, root)
    shutil.copytree(publication.exports_dir, paths.exports_dir)
    return paths


# Publications several test modules read (never write): made once per test session, whichever module asks
# first. A test that changes anything works on a ``fork``.
_SHARED: dict[str, Paths] = {}


def shared(name: str, make) -> Paths:
    if name not in _SHARED:
        _SHARED[name] = make()
    return _SHARED[name]


def shared_warehouse(built: Paths, factory) -> Paths:
    return shared("warehouse", lambda: risk_warehouse(built, factory.mktemp("export_warehouse")))


def shared_publication(built: Paths, factory) -> Paths:
    """A full publication of ``shared_warehouse``."""
    warehouse = shared_warehouse(built, factory)
    return shared("full", lambda: publication_through(warehouse, factory.mktemp("export_full"), None))


def shared_previous(built: Paths, factory, behind: int = 3) -> Paths:
    """A publication of ``shared_warehouse`` through its ``behind + 1``-th last date: a daily update's start."""
    warehouse = shared_warehouse(built, factory)
    last = exposure_dates(warehouse)[-behind - 1]
    return shared(f"through-{behind}", lambda: publication_through(warehouse, factory.mktemp("export_previous"), last))
