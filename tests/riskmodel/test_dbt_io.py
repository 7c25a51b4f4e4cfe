"""The risk models' shared reads: industry numbers from DuckDB, date bounds of trading-day ranges."""

from __future__ import annotations

import datetime

import duckdb

from riskmodel.dbt_io import date_bounds, industry_code_sql


def test_industry_codes_index_the_factor_industries_and_mark_the_rest():
    industries = ["banks", "energy", "media"]
    with duckdb.connect() as con:
        stocks = "(values ('media'), ('banks'), (null), ('unknown')) as t(industry)"
        rows = con.execute(f"select {industry_code_sql('industry')} from {stocks}", [industries]).fetchall()
    assert [r[0] for r in rows] == [2, 0, -1, -1]


def test_date_bounds_start_one_trading_day_before_the_first_day():
    with duckdb.connect() as con:
        con.execute(
            "create table calendar as select range::int as trading_day_index, "
            "date '2020-01-06' + (range * 7)::int as trade_date from range(10)"
        )
        first, last = date_bounds(con, "calendar", 3, 5)
        assert (first, last) == (datetime.date(2020, 1, 20), datetime.date(2020, 2, 10))
        # the first trading day has no day before it: the bounds start at it
        assert date_bounds(con, "calendar", 0, 0) == (datetime.date(2020, 1, 6), datetime.date(2020, 1, 6))
