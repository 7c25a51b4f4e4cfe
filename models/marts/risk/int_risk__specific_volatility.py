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
    factor_industries,
    industry_codes,
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


def _residuals(session, specific_sql: str, calendar_sql: str, first_day: int, last_day: int):
    query = f"""
        select c.trading_day_index, s.ts_code, s.specific_return
        from {specific_sql} as s
        inner join {calendar_sql} as c on s.trade_date = c.trade_date
        where c.trading_day_index between ? and ? and s.specific_return is not null
    """
    return session.execute(query, [first_day, last_day]).fetchnumpy()


def _exposures(session, exposures_sql: str, calendar_sql: str, days: list[int]):
    styles = ", ".join(f"x.{s}" for s in STYLES)
    query = f"""
        select c.trading_day_index, x.trade_date, x.ts_code, x.industry, {styles},
            x.regression_weight, x.in_estu, x.total_mv
        from {exposures_sql} as x
        inner join {calendar_sql} as c on x.trade_date = c.trade_date
        where c.trading_day_index in (select unnest(?))
        order by c.trading_day_index, x.ts_code
    """
    return session.execute(query, [days]).fetchnumpy()


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
        long = _residuals(session, specific_sql, calendar_sql, start, int(wanted_days.max()))
        x = _exposures(session, exposures_sql, calendar_sql, wanted_days.tolist())
        codes = np.unique(np.concatenate([long["ts_code"].astype(str), x["ts_code"].astype(str)]))
        days = np.unique(np.asarray(long["trading_day_index"], dtype=np.int64))
        residuals = wide(
            long["trading_day_index"], long["ts_code"].astype(str), as_float(long["specific_return"]), days, codes
        )
        rows, ts = time_series_chunk(residuals, days, first_day, params)
        chunk_positions = np.flatnonzero(rows)
        x_days = np.asarray(x["trading_day_index"], dtype=np.int64)
        for day in wanted_days:
            position = int(np.searchsorted(days, day))
            if position == len(days) or days[position] != day:
                continue  # no specific return on the date
            at = slice(*np.searchsorted(x_days, [day, day + 1]))  # exposures come ordered by day
            columns = np.searchsorted(codes, x["ts_code"][at].astype(str))
            row = int(np.searchsorted(chunk_positions, position))
            gamma = blending_at(residuals, days, position, spec.blend_window)
            exposures = design_matrix(
                industry_codes(x["industry"][at], industries),
                np.column_stack([as_float(x[s][at]) for s in STYLES]),
                len(industries),
            )
            in_estu = np.ma.filled(np.ma.asarray(x["in_estu"][at], dtype=bool), False)
            weights = np.where(in_estu, as_float(x["regression_weight"][at]), 0.0)
            caps = as_float(x["total_mv"][at])
            gamma = gamma[columns]
            adjusted = _one_date(ts.volatility[row, columns], gamma, exposures, weights, caps, params)
            raw = _one_date(ts.raw[row, columns], gamma, exposures, weights, caps, params)
            parts.append(
                pa.table(
                    {
                        "ts_code": x["ts_code"][at].astype(str),
                        "trade_date": np.asarray(x["trade_date"])[at],
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
