"""The risk publication: risk_params_<date>.json per estimation date, risk_params_latest.json and
specific_risks.parquet (exports/barra_risk), from the risk marts.

The marts are DAILY (fct_factor_covariance: covariance of daily factor returns, the forecast made at the close
of trade_date; fct_specific_risk: daily specific volatility). Everything published is ANNUALIZED with
riskmodel.units: covariance x 252, volatility x sqrt(252).

A factor without a forecast on a date (an industry with no stock in the window: the whole row and column
missing or NaN in the mart) is *inactive*: its entries are JSON null and it is listed in ``inactive_factors``.
A partly missing row is an error the risk gate reports.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import math
from collections.abc import Sequence
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
import pyarrow as pa
import yaml

from exporters.barra import parquet_bytes, yyyymmdd
from riskmodel.daily import factor_names
from riskmodel.params import DEFAULT, PRESETS, RiskModelParams
from riskmodel.units import TRADING_DAYS_PER_YEAR, annualize_variance, annualize_volatility

COVARIANCE = "marts.fct_factor_covariance"
SPECIFIC = "marts.fct_specific_risk"
FACTOR_RETURNS = "marts.fct_factor_returns"

RISK_DIR = Path("barra_risk")  # under the exports root
LATEST_JSON = "risk_params_latest.json"
SPECIFIC_FILE = "specific_risks.parquet"

UNITS = {
    "factor_covariance": (
        f"annualized: covariance of daily simple factor returns x {TRADING_DAYS_PER_YEAR} "
        "(riskmodel.units.annualize_variance of the daily forecast in marts.fct_factor_covariance)"
    ),
    "specific_risk": (
        f"annualized volatility (fraction): daily specific volatility x sqrt({TRADING_DAYS_PER_YEAR}) "
        "(specific_risks.parquet)"
    ),
    "half_life_days": "trading days",
    "num_observations": "daily factor-return dates in the covariance window (at most parameters.covariance.window)",
    "annualization_days": TRADING_DAYS_PER_YEAR,
}


PROJECT_ROOT = Path(__file__).resolve().parents[1]


def model_params(project_root: Path = PROJECT_ROOT) -> RiskModelParams:
    """The preset the risk marts are built with: dbt var ``risk_model_preset`` of dbt_project.yml (a build
    given another one with ``--vars`` is not seen here)."""
    variables = yaml.safe_load((project_root / "dbt_project.yml").read_text(encoding="utf-8")).get("vars", {})
    name = variables.get("risk_model_preset", DEFAULT.name)
    if name not in PRESETS:
        raise ValueError(f"dbt_project.yml: risk_model_preset {name!r} is not one of {sorted(PRESETS)}")
    return PRESETS[name]


def dated_json_name(date: dt.date) -> str:
    return f"risk_params_{yyyymmdd(date)}.json"


# ---------------------------------------------------------------- reading the warehouse


def estimation_dates(con: duckdb.DuckDBPyConnection) -> list[dt.date]:
    """Dates with a forecast: at least one finite covariance value (warm-up dates may be all null)."""
    rows = con.execute(f"select distinct trade_date from {COVARIANCE} where isfinite(value) order by 1").fetchall()
    return [r[0] for r in rows]


def read_covariance(con: duckdb.DuckDBPyConnection, dates: Sequence[dt.date]) -> pd.DataFrame:
    """Long rows (trade_date, factor_1, factor_2, value) of these dates, DAILY."""
    sql = (
        f"select trade_date, factor_1, factor_2, value from {COVARIANCE} "
        "where trade_date between ? and ? and list_contains(?, trade_date) order by trade_date, factor_1, factor_2"
    )
    return con.execute(sql, [min(dates), max(dates), list(dates)]).to_arrow_table().to_pandas()


def read_specific_risk(con: duckdb.DuckDBPyConnection, date: dt.date) -> pd.DataFrame:
    """(ts_code, specific_risk) DAILY of the stocks with a forecast on ``date``."""
    sql = (
        f"select ts_code, specific_risk from {SPECIFIC} "
        "where trade_date = ? and specific_risk is not null order by ts_code"
    )
    return con.execute(sql, [date]).to_arrow_table().to_pandas()


def read_estu(con: duckdb.DuckDBPyConnection, date: dt.date) -> pd.DataFrame:
    """The ESTU members on ``date`` (fct_barra_exposures), which must all have a specific risk."""
    sql = "select ts_code from marts.fct_barra_exposures where trade_date = ? and in_estu order by ts_code"
    return con.execute(sql, [date]).to_arrow_table().to_pandas()


def num_observations(con: duckdb.DuckDBPyConnection, dates: Sequence[dt.date], window: int) -> dict[dt.date, int]:
    """Per estimation date: factor-return dates up to it (fct_factor_returns), capped at the window."""
    returns = np.array(
        [r[0] for r in con.execute(f"select distinct trade_date from {FACTOR_RETURNS} order by 1").fetchall()],
        dtype="datetime64[D]",
    )
    return {d: int(min(np.searchsorted(returns, np.datetime64(d, "D"), side="right"), window)) for d in dates}


# ---------------------------------------------------------------- shaping


def covariance_matrices(rows: pd.DataFrame, factors: Sequence[str]) -> dict[dt.date, np.ndarray]:
    """Long rows (sorted by trade_date) as one (K, K) DAILY matrix per date in ``factors`` order; NaN where a
    pair is missing. Names outside ``factors`` are ignored here (the risk gate rejects them first)."""
    index = {name: i for i, name in enumerate(factors)}
    i = rows["factor_1"].map(index).to_numpy(dtype=np.float64, na_value=np.nan)
    j = rows["factor_2"].map(index).to_numpy(dtype=np.float64, na_value=np.nan)
    values = pd.to_numeric(rows["value"], errors="coerce").to_numpy(dtype=np.float64, na_value=np.nan)
    known = ~(np.isnan(i) | np.isnan(j))
    dates = rows["trade_date"].to_numpy()
    matrices = {}
    starts = np.flatnonzero(np.r_[True, dates[1:] != dates[:-1]]) if len(dates) else np.array([], dtype=int)
    for start, stop in zip(starts, np.r_[starts[1:], len(dates)], strict=True):
        keep = known[start:stop]
        matrix = np.full((len(factors), len(factors)), np.nan)
        matrix[i[start:stop][keep].astype(int), j[start:stop][keep].astype(int)] = values[start:stop][keep]
        matrices[dates[start]] = matrix
    return matrices


def active_factors(matrix: np.ndarray) -> np.ndarray:
    """Factors with a forecast: a finite variance."""
    return np.isfinite(np.diag(matrix))


def risk_payload(
    date: dt.date,
    daily_covariance: np.ndarray,
    factors: Sequence[str],
    params: RiskModelParams,
    observations: int,
) -> dict:
    """The risk JSON of one estimation date (annualized; inactive factors null)."""
    annual = annualize_variance(daily_covariance)
    inactive = [f for f, on in zip(factors, active_factors(daily_covariance), strict=True) if not on]
    rows = [[v if math.isfinite(v) else None for v in row] for row in annual.tolist()]
    covariance = {f: dict(zip(factors, row, strict=True)) for f, row in zip(factors, rows, strict=True)}
    return {
        "estimation_date": yyyymmdd(date),
        "factors": list(factors),
        "factor_covariance": covariance,
        "inactive_factors": inactive,
        "half_life_days": params.covariance.vol_half_life,
        "num_observations": observations,
        "model": params.name,
        "parameters": dataclasses.asdict(params),
        "units": UNITS,
    }


def specific_table(daily: pd.DataFrame, date: dt.date) -> pa.Table:
    """specific_risks.parquet: ts_code, specific_risk (annualized volatility), estimation_date (DATE)."""
    annual = annualize_volatility(daily["specific_risk"].to_numpy(dtype=np.float64))
    return pa.table(
        {
            "ts_code": pa.array(daily["ts_code"].to_numpy(), type=pa.string()),
            "specific_risk": pa.array(annual, type=pa.float64()),
            "estimation_date": pa.array([date] * len(daily), type=pa.date32()),
        }
    )


def specific_bytes(daily: pd.DataFrame, date: dt.date) -> bytes:
    return parquet_bytes(specific_table(daily, date))


def all_factor_names(industries: Sequence[str]) -> list[str]:
    """country, the industries (sorted), the ten styles: the order of the JSON's ``factors``."""
    return factor_names(sorted(industries))
