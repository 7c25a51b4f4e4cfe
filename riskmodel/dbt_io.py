"""What the risk-model dbt Python models share: reading refs through the DuckDB session, which dates a run
builds, NULL <-> NaN. No user value enters a query string: the only interpolated text is a relation's SQL
(rendered by dbt-duckdb from our own models); dates and factors are bound parameters.
"""

from __future__ import annotations

import datetime

import numpy as np
import pyarrow as pa
from numpy.typing import NDArray

EPOCH = datetime.date(1900, 1, 1)  # before any trade date: everything is new


def relation_sql(relation) -> str:
    """A dbt ref as a subquery."""
    return f"({relation.sql_query()})"


def newest_built(session, this, is_incremental: bool):
    """The newest trade_date already in the model's table (None in a full build or an empty table)."""
    if not is_incremental:
        return None
    return session.execute(f"select max(trade_date) from {this}").fetchone()[0]


def dates_after(session, dates_sql: str, newest) -> list:
    """The distinct trade_date values of ``dates_sql`` after ``newest`` (all of them when None), ascending."""
    query = f"select distinct trade_date from {dates_sql} as d"
    if newest is None:
        rows = session.execute(query + " order by trade_date").fetchall()
    else:
        rows = session.execute(query + " where trade_date > ? order by trade_date", [newest]).fetchall()
    return [row[0] for row in rows]


def new_trading_days(session, dates_sql: str, calendar_sql: str, newest) -> NDArray[np.int64]:
    """The trading-day indices of the distinct trade_date values of ``dates_sql`` after ``newest`` (all of
    them when None), ascending."""
    query = f"""
        select distinct c.trading_day_index
        from {dates_sql} as d
        inner join {calendar_sql} as c on d.trade_date = c.trade_date
        where c.trade_date > ?
        order by 1
    """
    rows = session.execute(query, [newest or EPOCH]).fetchall()
    return np.array([row[0] for row in rows], dtype=np.int64)


def as_float(column) -> NDArray[np.float64]:
    """A fetched column (possibly masked for NULLs) as float64 with NaN for NULL."""
    return np.ma.filled(np.ma.asarray(column, dtype=float), np.nan)


def nullable(values: NDArray[np.float64]) -> pa.Array:
    """NaN becomes NULL in the table."""
    values = np.asarray(values, dtype=np.float64)
    return pa.array(values, mask=np.isnan(values), type=pa.float64())


def factor_industries(session, seed_sql: str) -> list[str]:
    """The factor industries of the seed, sorted (the column order of ``riskmodel.daily.factor_names``)."""
    rows = session.execute(f"select distinct factor_industry from {seed_sql} as s order by 1").fetchall()
    return [row[0] for row in rows]


def industry_code_sql(column: str) -> str:
    """SQL of a stock's industry as an index into the factor industries, bound as the next ``?`` parameter
    (-1: none or unknown). Computed by DuckDB: a Python lookup per stock and date costs seconds per year."""
    return f"coalesce(list_position(?::varchar[], {column}), 0) - 1"


def date_bounds(session, calendar_sql: str, first_day: int, last_day: int) -> tuple:
    """The trade_date of trading day ``first_day − 1`` (or the first one) and of ``last_day``: bounds a query puts
    on every table it joins at t or t−1, so DuckDB reads those dates only (zonemaps) instead of hashing whole
    tables for every chunk."""
    query = f"select min(trade_date), max(trade_date) from {calendar_sql} as c where trading_day_index between ? and ?"
    return session.execute(query, [first_day - 1, last_day]).fetchone()


def wide(row_keys: NDArray, column_keys: NDArray, values: NDArray[np.float64], rows: NDArray, columns: NDArray):
    """Scatter long (row key, column key, value) triples into a (len(rows), len(columns)) NaN matrix.

    ``rows`` and ``columns`` are sorted unique keys holding every key of the triples."""
    out = np.full((len(rows), len(columns)), np.nan)
    out[np.searchsorted(rows, row_keys), np.searchsorted(columns, column_keys)] = values
    return out


def day_matrix(session, query: str, parameters: list, keys: list[str]):
    """Pivot the rows of ``query`` (columns trading_day_index, trade_date, key, value) into a (T, len(keys))
    NaN matrix, columns in the order of ``keys``. Returns ``(days (T,) ascending, dates (T,), matrix)``."""
    data = session.execute(query, parameters).fetchnumpy()
    day_keys = np.asarray(data["trading_day_index"], dtype=np.int64)
    days, first = np.unique(day_keys, return_index=True)
    dates = np.asarray(data["trade_date"])[first]
    order = np.argsort(keys)
    sorted_keys = np.asarray(keys, dtype=object)[order]
    matrix = wide(day_keys, np.asarray(data["key"], dtype=object), as_float(data["value"]), days, sorted_keys)
    out = np.empty_like(matrix)
    out[:, order] = matrix
    return days, dates, out


def factor_return_matrix(session, returns_sql: str, calendar_sql: str, first_day: int, last_day: int, names):
    """The (T, K) daily factor returns (fct_factor_returns; NaN: none) of the trading days first_day..last_day."""
    query = f"""
        select c.trading_day_index, f.trade_date, f.factor as key, f.factor_return as value
        from {returns_sql} as f
        inner join {calendar_sql} as c on f.trade_date = c.trade_date
        where c.trading_day_index between ? and ?
    """
    return day_matrix(session, query, [first_day, last_day], names)
