"""Daily features and technicals against independent references: TA-Lib for ATR, RSI, MACD and
Bollinger bands, numpy/pandas from the raw Parquet files for everything else. The market is long
enough (1,000 days) for the recursive averages to run through several blocks of their block sums,
so the truncation is exercised, not only the exact start."""

from __future__ import annotations

import json

import duckdb
import numpy as np
import pandas as pd
import pytest
import talib

from ingest.demo import generate_demo_market
from ops.build import build
from tests.conftest import market_paths

pytestmark = pytest.mark.dbt

STOCKS, DAYS, SEED = 24, 1000, 5
RTOL = 1e-9

# Rows a feature needs before its first value (stock_row_number of the first non-NULL value).
FIRST_ROW = {
    "returns_1d": 2,
    "returns_5d": 6,
    "returns_20d": 21,
    "alpha_daily": 2,
    "alpha_5d": 6,
    "alpha_20d": 21,
    "price_range": 1,
    "daily_return": 1,
    "volume_ratio": 20,
    "volatility_20d": 21,
    "atr_14": 15,
    "rsi_14": 15,
    "macd": 34,
    "macd_signal": 34,
    "macd_hist": 34,
    "bb_upper": 20,
    "bb_middle": 20,
    "bb_lower": 20,
    "money_flow": 1,
}


@pytest.fixture(scope="module")
def long_market(tmp_path_factory):
    paths = market_paths(tmp_path_factory.mktemp("features"))
    generate_demo_market(paths.raw_dir, STOCKS, DAYS, SEED)
    build(paths, full_refresh=True, target_path=tmp_path_factory.mktemp("target"), echo=False)
    return paths


@pytest.fixture(scope="module")
def features(long_market) -> pd.DataFrame:
    with duckdb.connect(str(long_market.duckdb_path), read_only=True) as con:
        return con.execute("select * from marts.fct_daily_features order by ts_code, trade_date").df()


@pytest.fixture(scope="module")
def raw_bars(long_market) -> pd.DataFrame:
    """Back-adjusted bars computed here from the raw Parquet files, one row per traded day."""

    def read(table):
        with duckdb.connect() as con:
            return con.execute(
                "select * from read_parquet(?)", [str(long_market.raw_dir / "tushare" / table / "*.parquet")]
            ).df()

    bars = read("daily").merge(read("adj_factor"), on=["ts_code", "trade_date"])
    bars = bars.sort_values(["ts_code", "trade_date"]).reset_index(drop=True)
    for col in ("open", "high", "low", "close"):
        bars[f"adj_{col}"] = bars[col] * bars["adj_factor"]
    bars["adj_volume"] = bars["vol"] * 100 / bars["adj_factor"]
    bars["row"] = bars.groupby("ts_code").cumcount() + 1
    return bars


def _by_stock(frame: pd.DataFrame):
    return frame.groupby("ts_code", sort=True)


def assert_close(got: np.ndarray, want: np.ndarray, name: str, scale: np.ndarray | None = None) -> None:
    """Equal NULL pattern, and values within RTOL relative to the reference (or to `scale`, the
    magnitude of the inputs, for differences of large numbers such as MACD)."""
    got, want = np.asarray(got, dtype=float), np.asarray(want, dtype=float)
    assert np.array_equal(np.isnan(got), np.isnan(want)), f"{name}: NULL pattern differs from the reference"
    ok = ~np.isnan(want)
    size = np.abs(want[ok]) if scale is None else np.maximum(np.abs(want[ok]), np.abs(scale[ok]))
    err = np.abs(got[ok] - want[ok]) / np.maximum(size, 1e-300)
    assert err.max(initial=0) <= RTOL, f"{name}: worst relative error {err.max():.3g}"


def test_market_runs_through_several_blocks(features):
    rows = features.groupby("ts_code").size()
    assert rows.max() > 2 * 405 + 34, "need stocks with more than two blocks of rows"


def test_talib_indicators(features):
    checked = 0
    for _, g in _by_stock(features):
        h, lo, c = (g[k].to_numpy(dtype=float) for k in ("high", "low", "close"))
        assert_close(g.atr_14, talib.ATR(h, lo, c, 14), "atr_14")
        assert_close(g.rsi_14, talib.RSI(c, 14), "rsi_14")
        macd, signal, hist = talib.MACD(c, 12, 26, 9)
        assert_close(g.macd, macd, "macd", scale=c)
        assert_close(g.macd_signal, signal, "macd_signal", scale=c)
        assert_close(g.macd_hist, hist, "macd_hist", scale=c)
        upper, middle, lower = talib.BBANDS(c, 20, 2, 2)
        assert_close(g.bb_upper, upper, "bb_upper")
        assert_close(g.bb_middle, middle, "bb_middle")
        assert_close(g.bb_lower, lower, "bb_lower")
        checked += 1
    assert checked == features.ts_code.nunique() > STOCKS // 2


def test_window_features_against_numpy(features, raw_bars):
    got = features.set_index(["ts_code", features.trade_date.dt.strftime("%Y%m%d")])
    for code, b in _by_stock(raw_bars):
        g = got.loc[code].loc[b.trade_date]
        close, volume = b.adj_close.to_numpy(), b.adj_volume.to_numpy()
        r1 = np.log(close[1:] / close[:-1])
        lagged = {n: np.r_[np.full(n, np.nan), np.log(close[n:] / close[:-n])] for n in (1, 5, 20)}
        assert_close(g.returns_1d, lagged[1], "returns_1d")
        assert_close(g.returns_5d, lagged[5], "returns_5d")
        assert_close(g.returns_20d, lagged[20], "returns_20d")
        assert_close(g.alpha_daily, -lagged[1], "alpha_daily")
        assert_close(g.alpha_5d, -lagged[5], "alpha_5d")
        assert_close(g.alpha_20d, -lagged[20], "alpha_20d")
        assert_close(g.price_range, b.adj_high - b.adj_low, "price_range")
        assert_close(g.daily_return, (b.adj_close - b.adj_open) / b.adj_open, "daily_return")
        mean20 = pd.Series(volume).rolling(20).mean().to_numpy()
        assert_close(g.volume_ratio, volume / mean20, "volume_ratio")
        vol20 = pd.Series(np.r_[np.nan, r1]).rolling(20).std(ddof=1).to_numpy()
        assert_close(g.volatility_20d, vol20, "volatility_20d")
        assert_close(g.volume, volume, "volume")
        assert_close(g.factor, b.adj_factor, "factor")
        assert_close(g.amount, b.amount * 1000, "amount")
        assert_close(g.money_flow, g.volume * g.vwap, "money_flow = volume x vwap")
        assert_close(g.vwap, b.amount * 1000 / (b.vol * 100) * b.adj_factor, "vwap")


def test_warm_up_rows_are_null_and_the_rest_filled(features):
    row = features.groupby("ts_code").cumcount() + 1
    for name, first in FIRST_ROW.items():
        col = features[name]
        assert col[row < first].isna().all(), f"{name} has values in its warm-up (rows < {first})"
        assert col[row >= first].notna().all(), f"{name} is NULL after its warm-up (rows >= {first})"


def test_a_long_halt_does_not_restart_the_windows(long_market, features):
    """Rows are the stock's trading rows: the first row after a halt measures from the last close
    before it, and the indicators continue their recursions."""
    meta = json.loads((long_market.truth_dir / "meta.json").read_text())
    halt = meta["traps"]["long_suspension"][0]
    g = features[features.ts_code == halt["ts_code"]].reset_index(drop=True)
    resumed = g.index[g.trade_date == pd.Timestamp(halt["resumed_date"])][0]
    assert resumed > 0
    before, after = g.loc[resumed - 1], g.loc[resumed]
    assert (after.trade_date - before.trade_date).days > 30
    assert after.returns_1d == pytest.approx(np.log(after.close / before.close), rel=1e-12)
    assert pd.notna(after.rsi_14) and pd.notna(after.atr_14)


def test_feature_ranges(features):
    assert features.rsi_14.dropna().between(0, 100).all()
    assert (features.bb_lower.dropna() <= features.bb_upper.dropna()).all()
    assert (features.atr_14.dropna() >= 0).all()
    assert (features.volatility_20d.dropna() >= 0).all()
