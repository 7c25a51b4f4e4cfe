"""RSI at its bounds: a stock that rises every day has RSI exactly 100, one that falls every day exactly 0.

Two Beijing-code stocks (never in the estimation universe) are planted beside a small demo market, as
tests/fixture_market.py plants its fixtures: every daily close above (below) the one before. Their average
loss (gain) is exactly 0, and 100 x G / (G + 0) used to round to 100.00000000000001 or 99.99999999999999 when
the product 100 G was formed before the division, which failed fct_daily_features__indicator_ranges. The
market is built as of a date past two blocks of the block sums, then incrementally to its end, both times
with the dbt tests, so both the full and the incremental path of the recursive averages are covered.
"""

from __future__ import annotations

import duckdb
import numpy as np
import pandas as pd
import pytest

from ingest.demo import generate_demo_market
from ops.build import build
from tests.conftest import market_paths
from tests.fixture_market import GENERIC_SHARES, GENERIC_VOLUME, _price_rows, _trading_days, _write, closes_from_log

pytestmark = pytest.mark.dbt

STOCKS, DAYS, SEED = 8, 900, 3  # 900 rows: past two blocks of var('ema_block_rows') = 405
RISING, FALLING = "839901.BJ", "839902.BJ"
WARM_UP = 15  # rsi_14's first row
SELECT = "tag:foundation tag:features"


@pytest.fixture(scope="module")
def rsi(tmp_path_factory) -> pd.DataFrame:
    paths = market_paths(tmp_path_factory.mktemp("extremes"))
    generate_demo_market(paths.raw_dir, STOCKS, DAYS, SEED)
    dates = _trading_days(paths.raw_dir)
    n = len(dates)
    rng = np.random.default_rng(SEED)
    tables: dict[str, list[pd.DataFrame]] = {}
    for code, sign in ((RISING, 1.0), (FALLING, -1.0)):
        close = closes_from_log(sign * rng.uniform(0.0005, 0.004, n), start=20.0)
        step = np.diff(close)
        assert (step > 0).all() if sign > 0 else (step < 0).all()
        basic = {
            "ts_code": code,
            "symbol": code[:6],
            "name": f"夹具{code[:6]}",
            "area": "北京",
            "industry": "夹具",
            "market": "北交所",
            "exchange": "BSE",
            "list_status": "L",
            "list_date": "20050104",
        }
        tables.setdefault("stock_basic", []).append(pd.DataFrame([basic]))
        frames = _price_rows(code, dates, close, np.full(n, GENERIC_VOLUME), GENERIC_SHARES)
        for table, frame in zip(("daily", "daily_basic", "adj_factor"), frames, strict=True):
            tables.setdefault(table, []).append(frame)
    for table, frames in tables.items():
        _write(paths.raw_dir, table, pd.concat(frames, ignore_index=True))

    iso = [f"{d[:4]}-{d[4:6]}-{d[6:]}" for d in dates]
    target = tmp_path_factory.mktemp("target")
    # dbt tests run in both builds: build() raises DbtFailed if fct_daily_features__indicator_ranges fails
    build(paths, select=SELECT, full_refresh=True, end_date=iso[850], target_path=target, echo=False)
    build(paths, select=SELECT, target_path=target, echo=False)
    with duckdb.connect(str(paths.duckdb_path), read_only=True) as con:
        return con.execute(
            "select ts_code, stock_row_number, rsi_14 from marts.fct_daily_features"
            " where ts_code in (?, ?) order by ts_code, stock_row_number",
            [RISING, FALLING],
        ).df()


@pytest.mark.parametrize(("code", "value"), [(RISING, 100.0), (FALLING, 0.0)])
def test_rsi_is_exact_at_its_bounds(rsi: pd.DataFrame, code: str, value: float) -> None:
    g = rsi[rsi.ts_code == code]
    assert len(g) == DAYS
    assert g.loc[g.stock_row_number < WARM_UP, "rsi_14"].isna().all()
    after = g.loc[g.stock_row_number >= WARM_UP, "rsi_14"].to_numpy()
    assert (after == value).all(), sorted(set(after[after != value]))
