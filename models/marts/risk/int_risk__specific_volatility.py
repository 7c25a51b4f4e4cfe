"""int_risk__specific_volatility: each stock's specific volatility forecast before the regime adjustment.

Per date t with factor returns and per stock with exposures at t (spec §8.1-8.3; riskmodel/specific.py):
the time-series volatility of its specific returns up to t (EWMA with Newey-West, and raw EWMA), the blending
coefficient gamma, the structural model fitted over the estimation universe's stocks with gamma = 1, the
blend, and the Bayesian shrinkage by size decile. Everything is computed twice, from the Newey-West and from
the raw time-series volatility: the raw one is the input of the specific regime adjustment (§8.4).

On a date where too few stocks have gamma = 1 for the structural model (the first 180 dates of a
history), the structural volatility is NULL and the blend keeps the time-series volatility [CHOICE: a
forecast from fewer observations rather than none; gamma says how much history it has].

Canonical chunks (riskmodel/chunked.py) make an incremental build equal the full build bit for bit.
Grain: (ts_code, trade_date). DAILY volatilities of daily specific returns.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from riskmodel.chunked import blending_at, chunk_days, chunk_starts, time_series_chunk, warm_up_start
from riskmodel.daily import STYLES
from riskmodel.dbt_io import (
    as_float,
    date_bounds,
    factor_industries,
    industry_code_sql,
    new_trading_days,
    newest_built,
    nullable,
    relation_sql,
    wide,
)
from riskmodel.params import PRESETS, RiskModelParams
from riskmodel.regression import design_matrix
from riskmodel.specific import bayesian_shrinkage, blend_volatility, structural_volatility

SCHEMA = pa.schema(
    [
        ("ts_code", pa.string()),
        ("trade_date", pa.date32()),
        ("observations", pa.int64()),
        ("gamma", pa.float64()),
        ("ts_volatility", pa.float64()),
        ("structural_volatility", pa.float64()),
        ("blended_volatility", pa.float64()),
        ("shrunk_volatility", pa.float64()),
        ("raw_volatility", pa.float64()),
        ("shrunk_raw_volatility", pa.float64()),
    ]
)


def _stock_codes(session, specific_sql: str, exposures_sql: str, residual_bounds: tuple, exposure_bounds: tuple):
    """The chunk's stocks, sorted: the columns of its matrices. Queries then return a stock's column number
    (DuckDB joins the codes) instead of millions of code strings to convert and look up in Python."""
    query = f"""
        select ts_code from {specific_sql} as s where s.trade_date between ? and ? and s.specific_return is not null
        union
        select ts_code from {exposures_sql} as x where x.trade_date between ? and ?
        order by ts_code
    """
    return [row[0] for row in session.execute(query, [*residual_bounds, *exposure_bounds]).fetchall()]


# The column number of each code of a list bound as a parameter.
CODE_COLUMNS = (
    "(select code as ts_code, ordinal - 1 as col from unnest(?::varchar[]) with ordinality as u(code, ordinal))"
)


def _residuals(session, specific_sql: str, calendar_sql: str, first_day: int, last_day: int, bounds, codes):
    query = f"""
        select c.trading_day_index, k.col, s.specific_return
        from {specific_sql} as s
        inner join {calendar_sql} as c on s.trade_date = c.trade_date
        inner join {CODE_COLUMNS} as k on s.ts_code = k.ts_code
        where c.trading_day_index between ? and ? and s.specific_return is not null and s.trade_date between ? and ?
    """
    return session.execute(query, [codes, first_day, last_day, *bounds]).fetchnumpy()


def _exposures(session, exposures_sql: str, calendar_sql: str, days: list[int], bounds, industries, codes):
    """The exposures of ``days`` (within the dates ``bounds``), ordered by day and stock, every column a plain
    array."""
    styles = ", ".join(f"x.{s}" for s in STYLES)
    query = f"""
        select c.trading_day_index, x.trade_date, k.col, {industry_code_sql("x.industry")} as industry_code,
            {styles}, x.regression_weight, coalesce(x.in_estu, false) as in_estu, x.total_mv
        from {exposures_sql} as x
        inner join {calendar_sql} as c on x.trade_date = c.trade_date
        inner join {CODE_COLUMNS} as k on x.ts_code = k.ts_code
        where c.trading_day_index in (select unnest(?)) and x.trade_date between ? and ?
        order by c.trading_day_index, x.ts_code
    """
    data = session.execute(query, [industries, codes, days, *bounds]).fetchnumpy()
    return {
        "day": np.asarray(data["trading_day_index"], dtype=np.int64),
        "trade_date": np.asarray(data["trade_date"]),
        "column": np.asarray(data["col"], dtype=np.int64),
        "industry": np.asarray(data["industry_code"], dtype=np.int64),
        "styles": np.column_stack([as_float(data[s]) for s in STYLES]),
        "weight": np.where(np.asarray(data["in_estu"], dtype=bool), as_float(data["regression_weight"]), 0.0),
        "cap": as_float(data["total_mv"]),
    }


def _one_date(ts, gamma, exposures, weights, caps, params: RiskModelParams) -> dict:
    """Structural model, blend and shrinkage of one date (spec §8.2-8.3); the structural model is left out
    (NaN) when too few stocks have gamma = 1 to fit it."""
    try:
        structural = structural_volatility(ts, exposures, weights, gamma, params.specific.e0).volatility
    except np.linalg.LinAlgError:
        raise  # a numerical failure is an error, not a thin history
    except ValueError:
        structural = np.full(len(ts), np.nan)
    blended = blend_volatility(ts, structural, gamma)
    shrunk = bayesian_shrinkage(blended, caps, params.specific.shrinkage_q, params.specific.size_groups).volatility
    return {"structural": structural, "blended": blended, "shrunk": shrunk}


def model(dbt, session):
    dbt.config(materialized="incremental", incremental_strategy="delete+insert", unique_key=["trade_date"])
    params = PRESETS[dbt.config.get("risk_model_preset")]
    specific_sql = relation_sql(dbt.ref("fct_specific_returns"))
    exposures_sql = relation_sql(dbt.ref("fct_barra_exposures"))
    calendar_sql = relation_sql(dbt.ref("dim_trading_calendar"))
    industries = factor_industries(session, relation_sql(dbt.ref("industry_factor_map")))

    newest = newest_built(session, dbt.this, dbt.is_incremental)
    new_days = new_trading_days(session, relation_sql(dbt.ref("fct_factor_returns")), calendar_sql, newest)
    if len(new_days) == 0:
        return SCHEMA.empty_table()
    chunk = chunk_days(params)
    spec = params.specific
    parts = []
    for first_day in chunk_starts(new_days, chunk):
        wanted_days = new_days[(new_days >= first_day) & (new_days < first_day + chunk)]
        start = min(warm_up_start(first_day, spec.window), first_day - spec.blend_window + 1)
        last = int(wanted_days.max())
        residual_bounds = date_bounds(session, calendar_sql, start, last)
        exposure_bounds = date_bounds(session, calendar_sql, int(wanted_days.min()), last)
        codes = _stock_codes(session, specific_sql, exposures_sql, residual_bounds, exposure_bounds)
        long = _residuals(session, specific_sql, calendar_sql, start, last, residual_bounds, codes)
        x = _exposures(session, exposures_sql, calendar_sql, wanted_days.tolist(), exposure_bounds, industries, codes)
        days = np.unique(np.asarray(long["trading_day_index"], dtype=np.int64))
        residuals = wide(
            long["trading_day_index"], long["col"], as_float(long["specific_return"]), days, np.arange(len(codes))
        )
        rows, ts = time_series_chunk(residuals, days, first_day, params)
        chunk_positions = np.flatnonzero(rows)
        code_array = np.asarray(codes, dtype=object)
        for day in wanted_days:
            position = int(np.searchsorted(days, day))
            if position == len(days) or days[position] != day:
                continue  # no specific return on the date
            at = slice(*np.searchsorted(x["day"], [day, day + 1]))  # exposures come ordered by day
            columns = x["column"][at]
            row = int(np.searchsorted(chunk_positions, position))
            gamma = blending_at(residuals, days, position, spec.blend_window)[columns]
            exposures = design_matrix(x["industry"][at], x["styles"][at], len(industries))
            weights, caps = x["weight"][at], x["cap"][at]
            adjusted = _one_date(ts.volatility[row, columns], gamma, exposures, weights, caps, params)
            raw = _one_date(ts.raw[row, columns], gamma, exposures, weights, caps, params)
            parts.append(
                pa.table(
                    {
                        "ts_code": code_array[columns],
                        "trade_date": x["trade_date"][at],
                        "observations": ts.counts[row, columns],
                        "gamma": gamma,
                        "ts_volatility": nullable(ts.volatility[row, columns]),
                        "structural_volatility": nullable(adjusted["structural"]),
                        "blended_volatility": nullable(adjusted["blended"]),
                        "shrunk_volatility": nullable(adjusted["shrunk"]),
                        "raw_volatility": nullable(ts.raw[row, columns]),
                        "shrunk_raw_volatility": nullable(raw["shrunk"]),
                    },
                    schema=SCHEMA,
                )
            )
    return pa.concat_tables(parts) if parts else SCHEMA.empty_table()
