"""The published risk forecasts on a generated market with a planted volatility regime (cne5-spec §12 G2):
bias statistics of pure factor, random and minimum-variance portfolios, the regime adjustment's effect
around the planted regime change, the covariance's algebra, and specific risk against the planted one."""

from __future__ import annotations

import json

import duckdb
import numpy as np
import pandas as pd
import pytest

from ingest.demo import generate_demo_market
from ops.build import build
from riskmodel.bias import mrad, rolling_bias_statistics
from tests.conftest import market_paths

pytestmark = pytest.mark.dbt

# Four years: the covariance needs 63 returns and the regime multiplier 42 bias values before a forecast is
# published (about day 220), and the one-year bias windows need a year of forecasts around the regime
# (days 600 to 750 of the history, multiplier 1.8).
STOCKS, DAYS, SEED = 300, 1000, 21

# [0.9, 1.1]: spec G2. MRAD over one-year windows of DAILY standardized returns: a perfect forecast gives
# about sqrt(1 / (2 * 252)) = 0.045 of sampling noise per window (0.17 is MSCI's figure for 12 monthly
# periods); measured at seed 21: pure factor 0.12, random 0.07, min variance 0.08 (0.14, 0.07, 0.09 without
# the regime adjustment). 0.2 leaves room for the t(5) tails the demo plants, and fails a model whose
# forecasts are off by a fifth on average.
MEAN_BIAS_RANGE, MRAD_MAX = (0.9, 1.1), 0.2


@pytest.fixture(scope="module")
def market(tmp_path_factory):
    paths = market_paths(tmp_path_factory.mktemp("risk_forecasts"))
    generate_demo_market(paths.raw_dir, STOCKS, DAYS, SEED)
    build(paths, full_refresh=True, run_tests=True, target_path=tmp_path_factory.mktemp("t_rf"), echo=False)
    return paths


def read(paths, sql: str, parameters=None) -> pd.DataFrame:
    with duckdb.connect(str(paths.duckdb_path), read_only=True) as con:
        return con.execute(sql, parameters or []).df()


def test_mean_rolling_bias_of_every_portfolio_class_is_near_one(market):
    stats = read(
        market,
        """select portfolio_class, count(*) as windows, avg(bias_statistic) as mean_bias,
               avg(abs(bias_statistic - 1)) as mrad
           from marts.fct_risk_bias_statistics group by 1 order by 1""",
    ).set_index("portfolio_class")
    print("\n" + stats.to_string())
    assert set(stats.index) == {"pure_factor", "random", "min_variance"}
    assert (stats.windows >= 20).all(), "too few one-year windows: the bias statistics would prove little"
    low, high = MEAN_BIAS_RANGE
    assert stats.mean_bias.between(low, high).all(), stats
    assert (stats.mrad < MRAD_MAX).all(), stats


def test_regime_adjustment_helps_around_the_planted_regime_change(market):
    """Quarterly (63-day) bias statistics stepped monthly over the regime and the half-year after it: their
    MRAD is lower with the regime adjustment than without, in every portfolio class (measured at seed 21:
    0.20 vs 0.26 pure factor, 0.13 vs 0.20 random, 0.17 vs 0.28 minimum variance)."""
    regime = json.loads((market.truth_dir / "meta.json").read_text())["regime"]
    daily = read(
        market,
        """select c.trading_day_index as day, p.portfolio_class, p.portfolio,
               p.realized_return / p.forecast_volatility as b,
               p.realized_return / p.forecast_volatility_no_vra as b_no_vra
           from marts.int_risk__bias_portfolios as p
           inner join marts.dim_trading_calendar as c on p.trade_date = c.trade_date
           where c.trading_day_index >= ? and c.trading_day_index < ?""",
        [regime["first_index"] - 21, regime["end_index"] + 126],
    )
    for kind, rows in daily.groupby("portfolio_class"):
        with_vra = rows.pivot(index="day", columns="portfolio", values="b").to_numpy()
        without = rows.pivot(index="day", columns="portfolio", values="b_no_vra").to_numpy()
        adjusted, unadjusted = (mrad(rolling_bias_statistics(b, 63, 21)) for b in (with_vra, without))
        print(f"{kind}: MRAD near the regime {adjusted:.3f} with VRA, {unadjusted:.3f} without")
        assert adjusted < unadjusted, kind


def test_covariance_is_symmetric_positive_definite_and_the_scaled_eigen_covariance(market):
    rows = read(
        market,
        """select f.trade_date, f.factor_1, f.factor_2, f.value, e.eigen_covariance, r.vra_multiplier
           from marts.fct_factor_covariance as f
           inner join marts.int_risk__factor_covariance_eigen as e using (trade_date, factor_1, factor_2)
           inner join marts.int_risk__factor_regime as r using (trade_date)""",
    )
    assert len(rows) > 0
    np.testing.assert_array_equal(rows.value, rows.eigen_covariance * (rows.vra_multiplier * rows.vra_multiplier))
    dates = rows.trade_date.unique()
    for date in dates[:: max(1, len(dates) // 25)]:
        day = rows[rows.trade_date == date].pivot(index="factor_1", columns="factor_2", values="value")
        matrix = day.to_numpy()
        assert not np.isnan(matrix).any(), f"{date}: the active factors' matrix has holes"
        np.testing.assert_array_equal(matrix, matrix.T)
        assert np.linalg.eigvalsh(matrix).min() > 0, date


def test_specific_risk_tracks_the_planted_specific_volatility(market):
    """Cross-sectional correlation, per date, between the forecast made at t-1 and the planted specific
    volatility of t (measured at seed 21: mean 0.84, min 0.76): a time-series estimate from at most a year of
    t(5) draws, blended and shrunk, cannot reach 1, and a forecast that ignored the stock would be near 0."""
    correlations = read(
        market,
        """with planted as (
               select trade_date, cast(ts_code as varchar) as ts_code, specific_vol
               from read_parquet(?)
           )
           select s.trade_date, corr(s.specific_risk, p.specific_vol) as c
           from marts.fct_specific_risk as s
           inner join marts.dim_trading_calendar as c on c.prev_trade_date = s.trade_date
           inner join planted as p on p.ts_code = s.ts_code and p.trade_date = c.trade_date
           group by s.trade_date""",
        [str(market.truth_dir / "specific" / "*.parquet")],
    ).c
    assert len(correlations) > 500
    assert correlations.mean() > 0.8 and correlations.min() > 0.65, correlations.describe()
