"""int_risk__bias_portfolios: realized returns of the test portfolios of the bias statistics and their risk
forecast made the day before (cne5-spec §9; riskmodel/portfolios.py).

For each date t whose previous trading day t-1 has a published forecast (fct_factor_covariance and
fct_specific_risk), three classes of portfolios, each held from the close of t-1 to the close of t:

- ``pure_factor``: one per factor active at t-1; return f_k,t (fct_factor_returns), forecast sqrt(F_kk).
- ``random``: RANDOM_PORTFOLIOS long-only portfolios of RANDOM_SIZE stocks of the estimation universe of t-1,
  weights uniform on the simplex, drawn afresh every day from a generator seeded by (RANDOM_SEED, the
  trading-day index of t-1), so a date's portfolios do not depend on where a build starts.
- ``min_variance``: the fully invested minimum-risk portfolio of the estimation universe under the model of
  t-1 (long-short).

Rebalanced daily [CHOICE: USE4 rebalances monthly; daily holdings make every date a pure function of t-1 and
t, which keeps the model incremental, and each period is still standardized by its own forecast]. A stock
enters the stock portfolios when it is in the estimation universe of t-1, has exposures and a specific risk
at t-1 and a one-day excess return at t. Realized returns are excess returns of t (fractions).

Each forecast is given twice: ``forecast_volatility`` with the full model, ``forecast_volatility_no_vra``
from the eigen-adjusted covariance and the shrunk specific volatilities before the regime adjustments
(the same holdings). DAILY volatilities. Grain: (trade_date, portfolio_class, portfolio).
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from riskmodel.daily import STYLES, factor_names
from riskmodel.dbt_io import EPOCH, as_float, factor_industries, industry_code_sql, newest_built, relation_sql
from riskmodel.portfolios import min_variance_weights, portfolio_variances, random_weights
from riskmodel.regression import design_matrix

RANDOM_PORTFOLIOS, RANDOM_SIZE, RANDOM_SEED = 20, 50, 20260701
CHUNK_DATES = 250

SCHEMA = pa.schema(
    [
        ("trade_date", pa.date32()),
        ("portfolio_class", pa.string()),
        ("portfolio", pa.string()),
        ("realized_return", pa.float64()),
        ("forecast_volatility", pa.float64()),
        ("forecast_volatility_no_vra", pa.float64()),
    ]
)


def _new_dates(session, sqls: dict, newest) -> list[tuple]:
    """(t, t-1, trading-day index of t-1) of the dates with a forecast published at t-1, after ``newest``."""
    query = f"""
        select distinct c.trade_date, c.prev_trade_date, c.trading_day_index - 1 as previous_index
        from {sqls["factor_returns"]} as f
        inner join {sqls["calendar"]} as c on f.trade_date = c.trade_date
        where c.prev_trade_date in (select trade_date from {sqls["covariance"]})
            and c.prev_trade_date in (select trade_date from {sqls["specific"]})
            and c.trade_date > ?
        order by 1
    """
    return session.execute(query, [newest or EPOCH]).fetchall()


def _covariances(session, sqls: dict, previous: list, names: list[str]) -> dict:
    """t-1 -> (F, F before VRA) as (K, K) arrays over ``names`` (NaN: inactive factor)."""
    query = f"""
        select e.trade_date, e.factor_1, e.factor_2, e.eigen_covariance, r.vra_multiplier
        from {sqls["eigen"]} as e
        inner join {sqls["factor_regime"]} as r on e.trade_date = r.trade_date
        where e.trade_date in (select unnest(?)) and e.trade_date between ? and ?
    """
    data = session.execute(query, [previous, min(previous), max(previous)]).fetchnumpy()
    dates = np.unique(np.asarray(previous, dtype="datetime64[D]"))
    k = len(names)
    full = np.full((len(dates), k, k), np.nan)
    before = np.full((len(dates), k, k), np.nan)
    order = np.argsort(names)
    position = order[np.searchsorted(np.asarray(names)[order], data["factor_1"].astype(str))]
    other = order[np.searchsorted(np.asarray(names)[order], data["factor_2"].astype(str))]
    at = np.searchsorted(dates, np.asarray(data["trade_date"]).astype("datetime64[D]"))
    eigen = as_float(data["eigen_covariance"])
    before[at, position, other] = eigen
    full[at, position, other] = eigen * as_float(data["vra_multiplier"]) ** 2
    return {date: (full[i], before[i]) for i, date in enumerate(dates)}


def _day(value) -> np.datetime64:
    """A date from fetchall (datetime.date) or fetchnumpy (datetime64) as one comparable key."""
    return np.datetime64(value, "D")


def _stocks(session, sqls: dict, first, last, previous: list, industries: list[str]):
    """The stocks of the dates first..last with everything of t-1 they need; every table joined at t-1 is
    bounded by the chunk's t-1 dates (so DuckDB reads those dates only)."""
    styles = ", ".join(f"x.{s}" for s in STYLES)
    query = f"""
        select s.trade_date, s.ts_code, s.excess_return, {industry_code_sql("x.industry")} as industry_code, {styles},
            v.shrunk_volatility * g.vra_multiplier as specific, v.shrunk_volatility as specific_no_vra
        from {sqls["specific_returns"]} as s
        inner join {sqls["calendar"]} as c on s.trade_date = c.trade_date
        inner join {sqls["exposures"]} as x on s.ts_code = x.ts_code and x.trade_date = c.prev_trade_date
        inner join {sqls["volatility"]} as v on s.ts_code = v.ts_code and v.trade_date = c.prev_trade_date
        inner join {sqls["specific_regime"]} as g on g.trade_date = c.prev_trade_date
        where s.in_estu_previous_day and s.trade_date between ? and ? and s.excess_return is not null
            and g.vra_multiplier is not null and v.shrunk_volatility is not null
            and x.trade_date between ? and ? and v.trade_date between ? and ? and g.trade_date between ? and ?
        order by s.trade_date, s.ts_code
    """
    bounds = [min(previous), max(previous)]
    return session.execute(query, [industries, first, last, *bounds, *bounds, *bounds]).fetchnumpy()


def _factor_returns(session, sqls: dict, first, last) -> dict:
    query = f"""
        select trade_date, factor, factor_return from {sqls["factor_returns"]}
        where trade_date between ? and ? and factor_return is not null
    """
    return {(d, f): r for d, f, r in session.execute(query, [first, last]).fetchall()}


def _date_rows(date, day_index, covariances, stocks, factor_returns, names, industries) -> list[tuple]:
    full, before = covariances
    active = np.isfinite(np.diag(full))
    rows = []
    for k in np.flatnonzero(active):
        realized = factor_returns.get((date, names[k]))
        if realized is not None:
            rows.append((date, "pure_factor", names[k], realized, np.sqrt(full[k, k]), np.sqrt(before[k, k])))
    x = design_matrix(
        np.asarray(stocks["industry_code"], dtype=np.int64),
        np.column_stack([as_float(stocks[s]) for s in STYLES]),
        len(industries),
    )[:, active]
    d, d_before = as_float(stocks["specific"]), as_float(stocks["specific_no_vra"])
    usable = np.isfinite(x).all(axis=1) & (d > 0) & (d_before > 0)
    x, d, d_before = x[usable], d[usable], d_before[usable]
    r = as_float(stocks["excess_return"])[usable]
    f, f_before = full[np.ix_(active, active)], before[np.ix_(active, active)]
    if len(r) < 2:
        return rows
    rng = np.random.default_rng([RANDOM_SEED, int(day_index)])
    portfolios = [f"random_{p:02d}" for p in range(RANDOM_PORTFOLIOS)] + ["min_variance"]
    weights = np.column_stack(
        [random_weights(len(r), RANDOM_SIZE, rng) for _ in range(RANDOM_PORTFOLIOS)] + [min_variance_weights(x, f, d)]
    )
    forecast = np.sqrt(portfolio_variances(weights, x, f, d))
    forecast_before = np.sqrt(portfolio_variances(weights, x, f_before, d_before))
    portfolio_returns = r @ weights
    for p, name in enumerate(portfolios):
        kind = "min_variance" if name == "min_variance" else "random"
        rows.append((date, kind, name, float(portfolio_returns[p]), float(forecast[p]), float(forecast_before[p])))
    return rows


def model(dbt, session):
    dbt.config(materialized="incremental", incremental_strategy="delete+insert", unique_key=["trade_date"])
    sqls = {
        "factor_returns": relation_sql(dbt.ref("fct_factor_returns")),
        "covariance": relation_sql(dbt.ref("fct_factor_covariance")),
        "specific": relation_sql(dbt.ref("fct_specific_risk")),
        "eigen": relation_sql(dbt.ref("int_risk__factor_covariance_eigen")),
        "factor_regime": relation_sql(dbt.ref("int_risk__factor_regime")),
        "specific_returns": relation_sql(dbt.ref("fct_specific_returns")),
        "exposures": relation_sql(dbt.ref("fct_barra_exposures")),
        "volatility": relation_sql(dbt.ref("int_risk__specific_volatility")),
        "specific_regime": relation_sql(dbt.ref("int_risk__specific_regime")),
        "calendar": relation_sql(dbt.ref("dim_trading_calendar")),
    }
    industries = factor_industries(session, relation_sql(dbt.ref("industry_factor_map")))
    names = factor_names(industries)
    dates = _new_dates(session, sqls, newest_built(session, dbt.this, dbt.is_incremental))
    rows: list[tuple] = []
    for start in range(0, len(dates), CHUNK_DATES):
        chunk = dates[start : start + CHUNK_DATES]
        covariances = _covariances(session, sqls, [p for _, p, _ in chunk], names)
        stocks = _stocks(session, sqls, chunk[0][0], chunk[-1][0], [p for _, p, _ in chunk], industries)
        factor_returns = _factor_returns(session, sqls, chunk[0][0], chunk[-1][0])
        # rows come ordered by date: each date is one slice (a mask per date costs O(chunk rows) per date)
        stock_dates = np.asarray(stocks["trade_date"]).astype("datetime64[D]")
        for date, previous, previous_index in chunk:
            first, last = np.searchsorted(stock_dates, [_day(date), _day(date) + 1])
            day = {key: np.asarray(values)[first:last] for key, values in stocks.items()}
            rows += _date_rows(
                date, previous_index, covariances[_day(previous)], day, factor_returns, names, industries
            )
    if not rows:
        return SCHEMA.empty_table()
    columns = list(zip(*rows, strict=True))
    return pa.table({f.name: np.asarray(values) for f, values in zip(SCHEMA, columns, strict=True)}, schema=SCHEMA)
