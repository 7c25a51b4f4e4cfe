"""int_risk__specific_regime: the specific volatility regime adjustment (spec §8.4; riskmodel/regime.py).

Per date t: the cap-weighted bias statistic B_t of the specific returns of t of the stocks in the estimation
universe of the previous date, standardized by their specific volatility forecast made at the previous date
(the shrunk forecast built on the raw EWMA volatility, without the Newey-West correction, as §8.4 says;
weights: total market cap of the previous date), and the multiplier λ_t = sqrt(EWMA of B² over the VRA
window up to t), NULL until the window holds the preset's minimum of bias values.

Canonical chunks (riskmodel/chunked.py). Grain: one row per date of int_risk__specific_volatility.
Dimensionless.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from riskmodel.chunked import chunk_days, chunk_starts, multipliers
from riskmodel.dbt_io import as_float, date_bounds, new_trading_days, newest_built, nullable, relation_sql
from riskmodel.params import PRESETS
from riskmodel.regime import grouped_bias

SCHEMA = pa.schema(
    [
        ("trade_date", pa.date32()),
        ("bias_statistic", pa.float64()),
        ("vra_multiplier", pa.float64()),
        ("n_stocks", pa.int64()),
    ]
)


def _forecast_dates(session, volatility_sql: str, calendar_sql: str, first_day: int, last_day: int):
    query = f"""
        select distinct c.trading_day_index, c.trade_date
        from {volatility_sql} as v
        inner join {calendar_sql} as c on v.trade_date = c.trade_date
        where c.trading_day_index between ? and ?
        order by 1
    """
    data = session.execute(query, [first_day, last_day]).fetchnumpy()
    return np.asarray(data["trading_day_index"], dtype=np.int64), np.asarray(data["trade_date"])


def _standardized_rows(session, sqls: dict, first_day: int, last_day: int):
    """The rows of B: specific return of t, forecast and cap of the previous date, estimation universe of
    the previous date; ordered so the sums run in the same order in every build."""
    query = f"""
        select c.trading_day_index, s.specific_return, v.shrunk_raw_volatility, x.total_mv
        from {sqls["specific"]} as s
        inner join {sqls["calendar"]} as c on s.trade_date = c.trade_date
        inner join {sqls["volatility"]} as v on s.ts_code = v.ts_code and v.trade_date = c.prev_trade_date
        inner join {sqls["exposures"]} as x on s.ts_code = x.ts_code and x.trade_date = c.prev_trade_date
        where s.in_estu_previous_day and c.trading_day_index between ? and ?
            and s.trade_date between ? and ? and v.trade_date between ? and ? and x.trade_date between ? and ?
        order by c.trading_day_index, s.ts_code
    """
    bounds = date_bounds(session, sqls["calendar"], first_day, last_day)
    return session.execute(query, [first_day, last_day, *bounds, *bounds, *bounds]).fetchnumpy()


def model(dbt, session):
    dbt.config(materialized="incremental", incremental_strategy="delete+insert", unique_key=["trade_date"])
    params = PRESETS[dbt.config.get("risk_model_preset")]
    sqls = {
        "specific": relation_sql(dbt.ref("fct_specific_returns")),
        "volatility": relation_sql(dbt.ref("int_risk__specific_volatility")),
        "exposures": relation_sql(dbt.ref("fct_barra_exposures")),
        "calendar": relation_sql(dbt.ref("dim_trading_calendar")),
    }
    newest = newest_built(session, dbt.this, dbt.is_incremental)
    new_days = new_trading_days(session, sqls["volatility"], sqls["calendar"], newest)
    if len(new_days) == 0:
        return SCHEMA.empty_table()
    chunk = chunk_days(params)
    parts = []
    for first_day in chunk_starts(new_days, chunk):
        last_day = int(new_days[new_days < first_day + chunk].max())
        days, dates = _forecast_dates(session, sqls["volatility"], sqls["calendar"], first_day - chunk, last_day)
        rows = _standardized_rows(session, sqls, first_day - chunk, last_day)
        row_days = np.asarray(rows["trading_day_index"], dtype=np.int64)
        groups = np.minimum(np.searchsorted(days, row_days), len(days) - 1)
        ratio_rows = days[groups] == row_days  # a return on a day without forecasts gives no B
        bias = grouped_bias(
            groups[ratio_rows],
            len(days),
            as_float(rows["specific_return"])[ratio_rows],
            as_float(rows["shrunk_raw_volatility"])[ratio_rows],
            as_float(rows["total_mv"])[ratio_rows],
        )
        wanted = np.isin(days, new_days) & (days >= first_day)
        multiplier = multipliers(bias, days, wanted, params.specific.vra, chunk)
        counts = np.bincount(groups[ratio_rows], minlength=len(days))
        parts.append(
            pa.table(
                {
                    "trade_date": dates[wanted],
                    "bias_statistic": nullable(bias[wanted]),
                    "vra_multiplier": nullable(multiplier[wanted]),
                    "n_stocks": counts[wanted],
                },
                schema=SCHEMA,
            )
        )
    return pa.concat_tables(parts)
