"""fct_factor_returns: the daily CNE5 factor returns (spec §6), one row per date and factor.

Exposures at the close of D-1 explain the one-day excess returns of D: for each date D, the constrained WLS
of riskmodel.regression over the stocks in the estimation universe of D-1 that traded on both days (country,
the 31 industries of the seed industry_factor_map, the ten styles; weights sqrt(total cap) of D-1; industry
constraint weighted by total cap of D-1). Incremental by trade_date: a run regresses the dates after the
newest one built, and a date depends on its own cross-section only, so the prefix property holds.

Units: factor returns and standard errors are DAILY simple excess returns (fractions); nothing is annualized.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from riskmodel.daily import STYLES, factor_names, regress_by_date
from riskmodel.dbt_io import (
    as_float,
    dates_after,
    factor_industries,
    industry_code_sql,
    newest_built,
    nullable,
    relation_sql,
)

# Dates per query: bounds the memory of a full build (a 5,000-stock year is about 100 MB of inputs).
CHUNK_DATES = 250


def _cross_sections(session, returns_sql: str, exposures_sql: str, first, last, industries: list[str]) -> dict:
    """The long input of the dates first..last: one row per stock with a one-day return and exposures at D-1."""
    styles = ", ".join(f"x.{s}" for s in STYLES)
    # the exposures read are bounded by date too: otherwise every chunk hashes the whole exposures table
    (previous,) = session.execute(
        f"select min(prev_trade_date) from {returns_sql} as r where r.trade_date between ? and ?", [first, last]
    ).fetchone()
    query = f"""
        select
            r.trade_date, {industry_code_sql("x.industry")} as industry_code, {styles}, r.excess_return,
            x.regression_weight, x.total_mv, x.in_estu
        from {returns_sql} as r
        inner join {exposures_sql} as x
            on r.ts_code = x.ts_code and r.prev_trade_date = x.trade_date
        where r.gap_trading_days = 1 and r.trade_date between ? and ? and x.trade_date between ? and ?
        order by r.trade_date, r.ts_code
    """
    return session.execute(query, [industries, first, last, previous, last]).fetchnumpy()


def _long_rows(regressions, names: list[str]) -> dict:
    n_dates, k = regressions.factor_returns.shape
    kinds = ["country"] + ["industry"] * (k - 1 - len(STYLES)) + ["style"] * len(STYLES)
    return {
        "trade_date": np.repeat(regressions.dates, k),
        "factor": np.tile(np.asarray(names, dtype=object), n_dates),
        "factor_type": np.tile(np.asarray(kinds, dtype=object), n_dates),
        "factor_return": nullable(regressions.factor_returns.ravel()),
        "standard_error": nullable(regressions.standard_errors.ravel()),
        "t_stat": nullable(regressions.t_stats.ravel()),
        "r_squared": np.repeat(regressions.r_squared, k),
        "n_stocks": np.repeat(regressions.n_stocks, k),
    }


SCHEMA = pa.schema(
    [
        ("trade_date", pa.date32()),
        ("factor", pa.string()),
        ("factor_type", pa.string()),
        ("factor_return", pa.float64()),
        ("standard_error", pa.float64()),
        ("t_stat", pa.float64()),
        ("r_squared", pa.float64()),
        ("n_stocks", pa.int64()),
    ]
)


def model(dbt, session):
    dbt.config(
        materialized="incremental",
        incremental_strategy="delete+insert",
        unique_key=["trade_date"],
        on_schema_change="fail",
    )
    returns_sql = relation_sql(dbt.ref("int_returns__daily"))
    exposures_sql = relation_sql(dbt.ref("fct_barra_exposures"))
    industries = factor_industries(session, relation_sql(dbt.ref("industry_factor_map")))
    names = factor_names(industries)

    one_day_returns = f"(select trade_date from {returns_sql} as r where gap_trading_days = 1)"
    dates = dates_after(session, one_day_returns, newest_built(session, dbt.this, dbt.is_incremental))
    parts = []
    for start in range(0, len(dates), CHUNK_DATES):
        chunk = dates[start : start + CHUNK_DATES]
        data = _cross_sections(session, returns_sql, exposures_sql, chunk[0], chunk[-1], industries)
        if len(data["trade_date"]) == 0:
            continue
        regressions = regress_by_date(
            np.asarray(data["trade_date"]),
            np.asarray(data["industry_code"], dtype=np.int64),
            np.column_stack([as_float(data[s]) for s in STYLES]),
            as_float(data["excess_return"]),
            as_float(data["regression_weight"]),
            as_float(data["total_mv"]),
            np.ma.filled(np.ma.asarray(data["in_estu"], dtype=bool), False),
            len(industries),
        )
        parts.append(pa.table(_long_rows(regressions, names), schema=SCHEMA))
    return pa.concat_tables(parts) if parts else SCHEMA.empty_table()
