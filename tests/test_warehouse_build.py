"""A real dbt build on a generated market, checked against references computed here from the
raw Parquet files (pandas/numpy), independent of the SQL."""

from __future__ import annotations

import json

import duckdb
import numpy as np
import pandas as pd
import pytest

pytestmark = pytest.mark.dbt

RF_ANNUAL = 0.015  # dbt_project.yml var risk_free_rate_annual


def raw(paths, table: str) -> pd.DataFrame:
    with duckdb.connect() as con:
        return con.execute(
            "select * from read_parquet(?, union_by_name = true)",
            [str(paths.raw_dir / "tushare" / table / "*.parquet")],
        ).df()


def query(paths, sql: str) -> pd.DataFrame:
    with duckdb.connect(str(paths.duckdb_path), read_only=True) as con:
        return con.execute(sql).df()


def to_date(s: pd.Series) -> pd.Series:
    return pd.to_datetime(s, format="%Y%m%d")


@pytest.fixture(scope="module")
def reference_returns(built_market) -> pd.DataFrame:
    """Total returns from raw daily x adj_factor, previous trading row of the same stock."""
    daily = raw(built_market, "daily").merge(raw(built_market, "adj_factor"), on=["ts_code", "trade_date"])
    basic = raw(built_market, "daily_basic")[["ts_code", "trade_date", "total_mv"]]
    df = daily.merge(basic, on=["ts_code", "trade_date"], how="left")
    df["trade_date"] = to_date(df["trade_date"])
    df = df.sort_values(["ts_code", "trade_date"]).reset_index(drop=True)
    cal = raw(built_market, "trade_cal")
    open_days = np.sort(to_date(cal.loc[cal.is_open == 1, "cal_date"]).to_numpy())
    df["idx"] = np.searchsorted(open_days, df["trade_date"].to_numpy())
    df["adj_close"] = df["close"] * df["adj_factor"]
    g = df.groupby("ts_code")
    df["prev_adj_close"] = g["adj_close"].shift()
    df["gap"] = df["idx"] - g["idx"].shift()
    df["prev_total_mv"] = g["total_mv"].shift() * 1e4
    df["simple_return"] = df["adj_close"] / df["prev_adj_close"] - 1
    df["rf"] = (1 + RF_ANNUAL) ** (df["gap"] / 252) - 1
    return df


@pytest.fixture(scope="module")
def sql_returns(built_market) -> pd.DataFrame:
    return query(built_market, "select * from intermediate.int_returns__daily order by ts_code, trade_date")


def test_every_traded_row_has_one_return_row(reference_returns, sql_returns):
    assert len(sql_returns) == len(reference_returns)
    assert not sql_returns.duplicated(["ts_code", "trade_date"]).any()


def test_returns_equal_reference(reference_returns, sql_returns):
    ref = reference_returns.set_index(["ts_code", "trade_date"])
    got = sql_returns.assign(trade_date=pd.to_datetime(sql_returns.trade_date)).set_index(["ts_code", "trade_date"])
    got = got.loc[ref.index]
    np.testing.assert_allclose(got["simple_return"], ref["simple_return"], rtol=0, atol=1e-12)
    np.testing.assert_allclose(got["log_return"], np.log1p(ref["simple_return"]), rtol=0, atol=1e-12)
    np.testing.assert_allclose(got["excess_return"], ref["simple_return"] - ref["rf"], rtol=0, atol=1e-12)
    np.testing.assert_array_equal(got["gap_trading_days"].astype("float"), ref["gap"])
    # First rows have no return; the IPO issue price is not a market close.
    assert got["simple_return"].isna().sum() == ref.index.get_level_values(0).nunique()


def test_returns_span_suspensions(sql_returns):
    """After a suspension the return is measured from the last traded close, over the gap."""
    gapped = sql_returns[sql_returns.gap_trading_days > 1]
    assert len(gapped) > 0, "the demo market must contain suspensions"
    np.testing.assert_allclose(gapped.simple_return, gapped.adj_close / gapped.prev_adj_close - 1, atol=1e-12)


def test_market_return_is_cap_weighted_over_consecutive_rows(built_market, reference_returns):
    r = reference_returns[(reference_returns.gap == 1) & (reference_returns.prev_total_mv > 0)]
    ref = r.groupby("trade_date").apply(
        lambda d: np.sum(d.prev_total_mv * d.simple_return) / np.sum(d.prev_total_mv), include_groups=False
    )
    got = query(
        built_market,
        "select trade_date, market_return, market_excess_return, n_stocks "
        "from intermediate.int_market__daily_return order by trade_date",
    )
    got = got.set_index(pd.to_datetime(got.trade_date))
    assert list(got.index) == list(ref.index)
    np.testing.assert_allclose(got.market_return, ref, rtol=0, atol=1e-13)
    np.testing.assert_allclose(
        got.market_return - got.market_excess_return, (1 + RF_ANNUAL) ** (1 / 252) - 1, atol=1e-15
    )


def test_units_converted_to_shares_and_cny(built_market):
    daily = raw(built_market, "daily")
    basic = raw(built_market, "daily_basic")
    got = query(
        built_market,
        "select ts_code, strftime(trade_date, '%Y%m%d') as trade_date, volume, amount, "
        "total_shares, total_mv, vwap, low, high from intermediate.int_prices__adjusted",
    )
    m = got.merge(daily, on=["ts_code", "trade_date"], suffixes=("", "_raw")).merge(
        basic, on=["ts_code", "trade_date"], suffixes=("", "_basic")
    )
    np.testing.assert_allclose(m.volume, m.vol * 100)
    np.testing.assert_allclose(m.amount, m.amount_raw * 1000)
    np.testing.assert_allclose(m.total_shares, m.total_share * 1e4)
    np.testing.assert_allclose(m.total_mv, m.total_mv_basic * 1e4)
    traded = m[m.volume > 0]
    assert ((traded.vwap >= traded.low - 0.011) & (traded.vwap <= traded.high + 0.011)).all()


def test_calendar_is_dense_and_matches_trade_cal(built_market):
    cal = raw(built_market, "trade_cal")
    expected = sorted(to_date(cal.loc[cal.is_open == 1, "cal_date"]))
    got = query(built_market, "select * from marts.dim_trading_calendar order by trade_date")
    assert list(pd.to_datetime(got.trade_date)) == expected
    assert list(got.trading_day_index) == list(range(len(expected)))
    assert got.prev_trade_date.iloc[0] is pd.NaT or pd.isna(got.prev_trade_date.iloc[0])


def test_security_dimension_keeps_delisted_and_suspended_names(built_market):
    sec = query(built_market, "select * from marts.dim_security")
    basic = raw(built_market, "stock_basic")
    assert set(sec.ts_code) == set(basic.ts_code)
    assert {"L", "D", "P"} <= set(sec.list_status)


def test_listing_spans_split_a_relisting_not_a_trading_halt(built_market):
    meta = json.loads((built_market.truth_dir / "meta.json").read_text())
    spans = query(built_market, "select ts_code, count(*) as n from marts.dim_security_listing_spans group by 1")
    n = dict(zip(spans.ts_code, spans.n, strict=True))
    traps = meta["traps"]
    for code in _codes(traps, "relist"):
        assert n[code] == 2, f"relisted {code} should have two listing spans"
    for code in _codes(traps, "suspension"):
        assert n[code] == 1, f"long-suspended {code} should keep one listing span"


def _codes(traps: dict, word: str) -> list[str]:
    keys = [k for k in traps if word in k]
    assert keys, f"no trap named like {word!r} in {list(traps)}"
    codes = []
    for k in keys:
        v = traps[k]
        items = v if isinstance(v, list) else [v]
        codes += [i["ts_code"] if isinstance(i, dict) else i for i in items]
    return codes
