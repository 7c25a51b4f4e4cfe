"""Spec section 12, tests B1 to B7 and C3: hand fixtures run through the real dbt models.

A 30 x 600 demo market gets fixture stocks planted in its raw Parquet files (tests/fixture_market.py: Beijing
codes, outside the estimation universe, so the market and every cross-sectional statistic stay those of the
demo market), is built once, and the descriptors and exposures the models compute for the fixtures are checked
against values worked out by hand from docs/cne5-choices.md.

Tolerances: 1e-10 for identities (1e-12 where the compared quantities are themselves about 1e-4); the noisy B1
stock is checked against five-standard-error bands derived in the test.
"""

from __future__ import annotations

import math

import duckdb
import numpy as np
import pandas as pd
import pytest

from tests.fixture_market import (
    B1_NOISE_SD,
    B2_CONSTANT_EXCESS,
    B2_SCALE,
    B3_CHANGE,
    B4_TURNOVER,
    B6_ANNOUNCEMENT_INDEX,
    B6_SHEETS,
    B7_PROFIT,
    B7_REVENUE,
    B7_YEARS,
    CODES,
    VARS,
    FixtureMarket,
    b7_value,
    build_fixture_market,
)

pytestmark = pytest.mark.dbt

IDENTITY = 1e-10
BETA_T, BETA_H = VARS["barra_beta_window"], VARS["barra_beta_half_life"]
RSTR_T, RSTR_L, RSTR_H = VARS["barra_rstr_window"], VARS["barra_rstr_lag"], VARS["barra_rstr_half_life"]
MONTH, MONTHS, MIN_OBS = VARS["barra_month_days"], VARS["barra_cmra_months"], VARS["barra_min_observations"]


@pytest.fixture(scope="module")
def market(tmp_path_factory) -> FixtureMarket:
    return build_fixture_market(tmp_path_factory.mktemp("fixture_market"))


def _read(market: FixtureMarket, sql: str, db=None) -> pd.DataFrame:
    with duckdb.connect(str(db or market.paths.duckdb_path), read_only=True) as con:
        return con.execute(sql).df()


@pytest.fixture(scope="module")
def descriptors(market) -> pd.DataFrame:
    """marts.fct_barra_descriptors (the raw descriptors of int_barra__descriptors with in_estu, industry,
    regression weight and total_mv) with each row's trading_day_index."""
    return _read(
        market,
        """
        select d.*, c.trading_day_index
        from marts.fct_barra_descriptors as d
        inner join marts.dim_trading_calendar as c using (trade_date)
        """,
    )


@pytest.fixture(scope="module")
def exposures(market) -> pd.DataFrame:
    return _read(
        market,
        """
        select e.*, c.trading_day_index
        from marts.fct_barra_exposures as e
        inner join marts.dim_trading_calendar as c using (trade_date)
        """,
    )


def series(frame: pd.DataFrame, name: str, column: str, days: int) -> pd.Series:
    """One fixture stock's column by trading_day_index, over every market day (NaN where missing)."""
    rows = frame[frame["ts_code"] == CODES[name]].set_index("trading_day_index")[column]
    return rows.astype(float).reindex(range(days))


def test_fixtures_stay_outside_the_estu_and_leave_the_market_return_alone(market, descriptors):
    fixtures = descriptors[descriptors["ts_code"].isin(CODES.values())]
    assert set(fixtures["ts_code"]) == set(CODES.values())
    assert not fixtures["in_estu"].any()
    for name in ("B1_EXACT", "B3_BASE", "B7_LINEAR"):  # series stocks trade every day
        assert (fixtures["ts_code"] == CODES[name]).sum() == len(market.dates)
    query = "select trading_day_index, market_excess_return from intermediate.int_barra__market_return"
    planted = _read(market, query).sort_values("trading_day_index").reset_index(drop=True)
    unplanted = _read(market, query, market.unplanted_db).sort_values("trading_day_index").reset_index(drop=True)
    assert len(planted) > 500
    pd.testing.assert_frame_equal(planted, unplanted, check_exact=True)  # the same bits


# ---------------------------------------------------------------- B1


def test_b1_exact_multiple_of_the_market_has_beta_1_5_and_no_residual(market, descriptors):
    """e = 1.5 x the market excess return on every day with one: BETA = 1.5 and HSIGMA = 0 on every date with
    63 one-day returns paired with a market return (the 63rd market-return day on)."""
    days = len(market.dates)
    beta = series(descriptors, "B1_EXACT", "beta", days)
    hsigma = series(descriptors, "B1_EXACT", "hsigma", days)
    first = int(np.flatnonzero(~np.isnan(market.market_return))[MIN_OBS - 1])
    assert beta.first_valid_index() == first
    assert beta.loc[first:].notna().all() and beta.loc[first:].size > 400
    np.testing.assert_allclose(beta.loc[first:], 1.5, rtol=0, atol=IDENTITY)
    # HSIGMA = sqrt(var(e) - beta cov(e, m)): the residual variance is a difference of moments of about 5e-4,
    # known to a double's resolution (~1e-19 there), so an exact zero shows as sqrt(a few ulps), up to ~1e-9.
    # The identity holds on the variance scale: HSIGMA^2 below 1e-14 of the variance of e (DASTD^2).
    dastd = series(descriptors, "B1_EXACT", "dastd", days)
    assert (hsigma.loc[first:] ** 2 < 1e-14 * dastd.loc[first:] ** 2).all()


def test_b1_noisy_beta_and_hsigma_within_their_sampling_bands(market, descriptors):
    """e = 1.5 m + eps, eps ~ N(0, s^2) i.i.d. At the last date, with normalized weights w_j = 0.5^(j/63) over
    the 252 days and x = m centred on its weighted mean, conditionally on m:
    - beta_hat - 1.5 = sum(w x eps) / sum(w x^2) is normal with sd s sqrt(sum w^2 x^2) / sum(w x^2);
    - HSIGMA^2 = eps' A eps with A = M' W M (M the weighted least-squares residual maker, W = diag(w)), so
      E = s^2 tr(A) and, eps being Gaussian, Var = 2 s^4 tr(A^2).
    Both are checked within 5 standard deviations (a chance failure has probability below 1e-6)."""
    last = market.last
    lags = np.arange(BETA_T)
    m = market.market_return[last - lags]
    assert not np.isnan(m).any()
    w = 0.5 ** (lags / BETA_H)
    w /= w.sum()
    x = m - np.sum(w * m)
    sxx = np.sum(w * x * x)
    se_beta = B1_NOISE_SD * math.sqrt(np.sum(w * w * x * x)) / sxx

    design = np.column_stack([np.ones(BETA_T), m])
    hat = design @ np.linalg.solve(design.T @ (w[:, None] * design), design.T * w)
    residual_maker = np.eye(BETA_T) - hat
    a = residual_maker.T @ np.diag(w) @ residual_maker
    mean_h2 = B1_NOISE_SD**2 * np.trace(a)
    sd_h2 = B1_NOISE_SD**2 * math.sqrt(2.0 * np.trace(a @ a))

    row = descriptors[(descriptors["ts_code"] == CODES["B1_NOISY"]) & (descriptors["trading_day_index"] == last)]
    beta, hsigma = float(row["beta"].iloc[0]), float(row["hsigma"].iloc[0])
    print(f"B1 noisy: beta {beta:.4f} (se {se_beta:.4f}), hsigma {hsigma:.5f} (s {B1_NOISE_SD}, sd(h^2) {sd_h2:.2e})")
    assert abs(beta - 1.5) < 5 * se_beta
    assert abs(hsigma**2 - mean_h2) < 5 * sd_h2
    # the bands are narrow enough to mean something: beta within about 0.6, HSIGMA within about 25% of s
    assert 5 * se_beta < 0.7 and 5 * sd_h2 < 0.6 * B1_NOISE_SD**2


# ---------------------------------------------------------------- B2


def test_b2_dastd_of_a_constant_series_is_zero_and_scales_with_the_returns(market, descriptors):
    days = len(market.dates)
    constant = series(descriptors, "B2_CONSTANT", "dastd", days)
    # 63 one-day returns: days 1 to 63
    assert constant.first_valid_index() == MIN_OBS and constant.loc[MIN_OBS:].notna().all()
    # DASTD = sqrt(mean(e^2) - mean(e)^2) with e = 0.002: a difference of moments of 4e-6, known to a double's
    # resolution (~1e-21), so an exact zero shows as sqrt(a few ulps); on the variance scale it is below 1e-14
    # of e^2 (and DASTD itself below 1e-10).
    assert (constant.dropna() ** 2 < 1e-14 * B2_CONSTANT_EXCESS**2).all()
    assert constant.max() < IDENTITY
    base = series(descriptors, "B2_BASE", "dastd", days)
    scaled = series(descriptors, "B2_SCALED", "dastd", days)
    assert base.notna().sum() > 500 and (base.isna() == scaled.isna()).all()
    np.testing.assert_allclose(scaled.dropna() / base.dropna(), B2_SCALE, rtol=IDENTITY, atol=0)


# ---------------------------------------------------------------- B3


def test_b3_rstr_skips_the_last_month_and_weights_each_lag(market, descriptors):
    """RSTR at D = sum over lags j = 21..524 of w_j l_(D-j), w_j = 0.5^((j-21)/126) / S, S = sum_{i<504}
    0.5^(i/126). B3_LAST_MONTH differs from B3_BASE only in its last 21 returns (lags 0..20 at the last date):
    equal RSTR on every date. B3_LAG_k has B3_BASE's return on day (last - k) raised by delta: at every date D
    its RSTR differs by exactly delta w_(D - day) when 21 <= D - day <= 524, else not at all. At the last date
    that is delta / S for k = 21, delta w_524 for k = 524 and nothing for k = 525."""
    days, last = len(market.dates), market.last
    s = sum(0.5 ** (i / RSTR_H) for i in range(RSTR_T))
    base = series(descriptors, "B3_BASE", "rstr", days)
    assert base.notna().sum() > 400
    same = series(descriptors, "B3_LAST_MONTH", "rstr", days)
    assert (same.isna() == base.isna()).all()
    np.testing.assert_allclose(same.dropna(), base.dropna(), rtol=0, atol=1e-12)

    index = np.arange(days)
    for name, day in market.changed_day.items():
        other = series(descriptors, name, "rstr", days)
        assert (other.isna() == base.isna()).all()
        lag = index - day
        inside = (lag >= RSTR_L) & (lag <= RSTR_L + RSTR_T - 1)
        expected = np.where(inside, B3_CHANGE * 0.5 ** ((lag - RSTR_L) / RSTR_H) / s, 0.0)
        present = base.notna().to_numpy()
        np.testing.assert_allclose((other - base)[present], expected[present], rtol=0, atol=1e-12, err_msg=name)

    at_last = {name: float(series(descriptors, name, "rstr", days)[last] - base[last]) for name in market.changed_day}
    assert at_last["B3_LAG_21"] == pytest.approx(B3_CHANGE / s, abs=1e-12)
    assert at_last["B3_LAG_524"] == pytest.approx(B3_CHANGE * 0.5 ** ((RSTR_T - 1) / RSTR_H) / s, abs=1e-12)
    assert at_last["B3_LAG_525"] == pytest.approx(0.0, abs=1e-12)
    assert at_last["B3_LAG_21"] > 1e-4  # the change shows, far above the tolerance


# ---------------------------------------------------------------- B4


def test_b4_constant_turnover_gives_stom_ln_21_tau_and_equal_stoq_stoa(market, descriptors):
    """Volume (lots x 100 shares) / float shares (10k shares x 1e4) = tau every day, total shares 2.5 x float:
    STOM = ln(21 tau) from span age 21, STOQ = ln(63 tau / 3) from 63, STOA = ln(252 tau / 12) from 252."""
    days = len(market.dates)
    expected = math.log(MONTH * B4_TURNOVER)
    for column, age in (("stom", MONTH), ("stoq", 3 * MONTH), ("stoa", 12 * MONTH)):
        values = series(descriptors, "B4_TURNOVER", column, days)
        assert values.first_valid_index() == age and values.loc[age:].notna().all(), column
        np.testing.assert_allclose(values.loc[age:], expected, rtol=0, atol=IDENTITY, err_msg=column)


# ---------------------------------------------------------------- B5


def _cumulative_returns(l: np.ndarray, day: int) -> np.ndarray:  # noqa: E741
    """Z(T) for T = 1..12 at `day`: the sum of l over the last 21 T market days."""
    return np.array([l[day - MONTH * t + 1 : day + 1].sum() for t in range(1, MONTHS + 1)])


def test_b5_cmra_of_monotone_series_and_the_guard(market, descriptors):
    """B5_RISING (l > 0 every day): Z increases with T, so CMRA = ln(1 + Z(12)) - ln(1 + Z(1)) on every date
    with span age >= 252. B5_FALLING (l <= -0.4% a day): Z(12) <= -1.008 on every such date, so the guard
    fires: min Z is floored at -0.99 and CMRA = ln(1 + Z(1)) - ln(0.01), finite."""
    days = len(market.dates)
    span = MONTH * MONTHS
    for name in ("B5_RISING", "B5_FALLING"):
        cmra = series(descriptors, name, "cmra", days)
        assert cmra.first_valid_index() == span and cmra.loc[span:].notna().all()
        l = market.excess_log_return[name]  # noqa: E741
        for day in range(span, days):
            z = _cumulative_returns(l, day)
            if name == "B5_RISING":
                assert (np.diff(z) > 0).all()
                expected = math.log(1 + z[-1]) - math.log(1 + z[0])
            else:
                assert z.min() < -1 and z.max() > -0.99
                expected = math.log(1 + z.max()) - math.log(1 - 0.99)
            assert cmra[day] == pytest.approx(expected, abs=IDENTITY), (name, day)
        assert np.isfinite(cmra.loc[span:]).all()


# ---------------------------------------------------------------- B6


def test_b6_no_preferred_equity_no_long_term_debt_gives_leverage_one(market, descriptors):
    """One balance sheet, announced on day B6_ANNOUNCEMENT_INDEX, usable from the next trading day:
    MLEV, BLEV, DTOA null until then. With PE = LD = 0 (preferred 0 or null), MLEV = BLEV = 1; the control
    stock (PE 2e8, LD 3e8, parent equity incl. preferred 1.5e9, BE = 1.3e9) gets the formulas in CNY."""
    days, usable = len(market.dates), B6_ANNOUNCEMENT_INDEX + 1
    for name, (assets, current, non_current, preferred, parent) in B6_SHEETS.items():
        mlev, blev, dtoa, btop = (series(descriptors, name, c, days) for c in ("mlev", "blev", "dtoa", "btop"))
        for values in (mlev, blev, dtoa, btop):
            assert values.first_valid_index() == usable and values.loc[usable:].notna().all(), name
        me = market.total_mv_cny(name)[usable:]
        pe, ld = preferred or 0.0, non_current
        be = parent - pe
        np.testing.assert_allclose(mlev.loc[usable:], (me + pe + ld) / me, rtol=IDENTITY, atol=0, err_msg=name)
        np.testing.assert_allclose(blev.loc[usable:], (be + pe + ld) / be, rtol=IDENTITY, atol=0, err_msg=name)
        np.testing.assert_allclose(dtoa.loc[usable:], (ld + current) / assets, rtol=IDENTITY, atol=0, err_msg=name)
        np.testing.assert_allclose(btop.loc[usable:], be / me, rtol=IDENTITY, atol=0, err_msg=name)
        if name != "B6_CONTROL":
            assert (mlev.loc[usable:] == 1.0).all() and (blev.loc[usable:] == 1.0).all(), name
    assert (series(descriptors, "B6_CONTROL", "mlev", days).loc[usable:] > 1.0).all()


def test_b6_dtoa_is_a_fraction_on_the_demo_market(descriptors):
    """Every demo stock row with a balance sheet has 0 <= DTOA <= 1. The market's seed is one whose statements
    are sane: at 30 x 600 the demo generator gives some stocks negative liabilities for seeds 1, 6, 7, 8, 13 and
    14 (total assets = equity x leverage x noise can fall below equity), hence DTOA < 0 and MLEV, BLEV < 1."""
    demo = descriptors[~descriptors["ts_code"].isin(CODES.values())]
    dtoa = demo["dtoa"].dropna()
    assert len(dtoa) > 10_000
    assert dtoa.between(0.0, 1.0).all(), demo.loc[~demo["dtoa"].between(0.0, 1.0) & demo["dtoa"].notna()].head()


# ---------------------------------------------------------------- B7


def test_b7_growth_of_a_linear_series_is_slope_over_mean(market, descriptors):
    """Fiscal-year net profit a + b (Y - 2005) and revenue a' + b' (Y - 2005), constant share count, each year
    announced on (the first trading day on or after) 15 April of the next year. On each date the fiscal years
    used are the newest one usable (announced strictly before the date) and the four before it; with >= 3 of
    them present EGRO = b / mean(profits of those years) and SGRO = b' / mean(revenues), else null. ETOP is the
    newest fiscal year's profit over total_mv (a fiscal-year period is its own TTM)."""
    days = len(market.dates)
    for name, years in B7_YEARS.items():
        expected = {"egro": np.full(days, np.nan), "sgro": np.full(days, np.nan), "etop": np.full(days, np.nan)}
        mv = market.total_mv_cny(name)
        for day in range(days):
            usable = [y for y in years if market.announcement[y] < day]
            if not usable:
                continue
            newest = max(usable)
            expected["etop"][day] = b7_value(B7_PROFIT, newest) / mv[day]
            window = [y for y in usable if y > newest - 5]
            if len(window) >= 3:
                expected["egro"][day] = B7_PROFIT[1] / np.mean([b7_value(B7_PROFIT, y) for y in window])
                expected["sgro"][day] = B7_REVENUE[1] / np.mean([b7_value(B7_REVENUE, y) for y in window])
        for column, values in expected.items():
            actual = series(descriptors, name, column, days).to_numpy()
            assert (np.isnan(actual) == np.isnan(values)).all(), (name, column)
            present = ~np.isnan(values)
            np.testing.assert_allclose(actual[present], values[present], rtol=IDENTITY, err_msg=f"{name} {column}")
        # the point-in-time windows matter: EGRO takes several values over the history
        assert len(set(np.round(expected["egro"][~np.isnan(expected["egro"])], 12))) >= (
            3 if name == "B7_LINEAR" else 1
        )
    # at the last date both use 2007..2011 (present ones): b / mean
    last = market.last
    linear = series(descriptors, "B7_LINEAR", "egro", days)[last]
    assert linear == pytest.approx(B7_PROFIT[1] / np.mean([b7_value(B7_PROFIT, y) for y in range(2007, 2012)]))


# ---------------------------------------------------------------- C3


def _remove_outliers(x: np.ndarray, estu: np.ndarray) -> np.ndarray:
    """Choices step 1: null beyond 10 x 1.4826 x MAD from the ESTU median (skipped when the MAD is 0)."""
    sample = x[estu & ~np.isnan(x)]
    median = np.median(sample)
    mad = np.median(np.abs(sample - median))
    x = x.copy()
    if mad > 0:
        x[np.abs(x - median) > 10 * 1.4826 * mad] = np.nan
    return x


def _standardize(x: np.ndarray, estu: np.ndarray, cap: np.ndarray, clip: float | None = None) -> np.ndarray:
    """(x - ESTU cap-weighted mean) / ESTU equal-weighted population std, optionally clipped."""
    sample = estu & ~np.isnan(x)
    z = (x - np.sum(cap[sample] * x[sample]) / np.sum(cap[sample])) / np.std(x[sample])
    return np.clip(z, -clip, clip) if clip else z


def _score(x: np.ndarray, estu: np.ndarray, cap: np.ndarray) -> np.ndarray:
    """Choices steps 1 and 2 for one descriptor."""
    clean = _remove_outliers(x, estu)
    return _standardize(_standardize(clean, estu, cap, 3.0), estu, cap)


@pytest.fixture(scope="module")
def last_cross_section(market, descriptors, exposures) -> pd.DataFrame:
    """Every stock at the last date: raw descriptors, the standardized ETOP and CETOP scores (steps 1-2), their
    combination with the weights rescaled over those present (step 3), its first standardization of step 4,
    and the exposures of the mart."""
    last = market.last
    d = descriptors[descriptors["trading_day_index"] == last].set_index("ts_code")
    e = exposures[exposures["trading_day_index"] == last].set_index("ts_code")
    frame = d.join(e[["size", "earnings_yield", "growth", "leverage"]])
    estu, cap = frame["in_estu"].to_numpy(bool), frame["total_mv"].to_numpy(float)
    etop = _score(frame["etop"].to_numpy(float), estu, cap)
    cetop = _score(frame["cetop"].to_numpy(float), estu, cap)
    weights = np.where(np.isnan(etop), 0.0, 0.11) + np.where(np.isnan(cetop), 0.0, 0.21)
    with np.errstate(invalid="ignore", divide="ignore"):
        combined = (0.11 * np.nan_to_num(etop) + 0.21 * np.nan_to_num(cetop)) / weights
    frame["etop_score"], frame["cetop_score"], frame["combined"] = etop, cetop, combined
    frame["step4_z"] = _standardize(combined, estu, cap)
    return frame


def test_c3_one_missing_descriptor_uses_the_other_with_its_weight_rescaled(market, last_cross_section):
    """Earnings Yield = (0.11 ETOP + 0.21 CETOP) / 0.32 over standardized scores, the weights rescaled over the
    scores present. Steps 4 to 6 apply one affine map per date to that combination (for the values step 4 does
    not clip): EY = A combination + B. A and B are fitted on the ESTU stocks with both descriptors (exact, residual
    < 1e-10); then the clone of X without cash-flow statements (CETOP missing) must get A ETOP_score(X) + B,
    the clone without income statements A CETOP_score(X) + B, and the full clone X's own value. Without the
    rescaling (a missing score counted as 0 over the weight 0.32) the first would be A 0.11/0.32 ETOP_score + B."""
    f = last_cross_section
    x = market.clone_source
    assert f.loc[x, "in_estu"] and not np.isnan(f.loc[x, ["etop", "cetop"]].astype(float)).any()
    fit = f[f["in_estu"] & f["etop_score"].notna() & f["cetop_score"].notna() & (f["step4_z"].abs() < 3)]
    assert len(fit) >= 10
    design = np.column_stack([fit["combined"], np.ones(len(fit))])
    (a, b), *_ = np.linalg.lstsq(design, fit["earnings_yield"].to_numpy(float), rcond=None)
    assert np.abs(design @ [a, b] - fit["earnings_yield"]).max() < IDENTITY
    assert a > 0.5  # a real map, not a degenerate fit

    no_cashflow, no_income, full = (f.loc[CODES[n]] for n in ("C3_NO_CASHFLOW", "C3_NO_INCOME", "C3_FULL"))
    assert np.isnan(no_cashflow["cetop"]) and no_cashflow["etop"] == f.loc[x, "etop"]
    assert np.isnan(no_income["etop"]) and no_income["cetop"] == f.loc[x, "cetop"]
    for row in (no_cashflow, no_income, full, f.loc[x]):
        assert abs(row["step4_z"]) < 3  # not clipped at step 4: the affine map applies
    assert no_cashflow["earnings_yield"] == pytest.approx(a * f.loc[x, "etop_score"] + b, abs=IDENTITY)
    assert no_income["earnings_yield"] == pytest.approx(a * f.loc[x, "cetop_score"] + b, abs=IDENTITY)
    assert full["earnings_yield"] == pytest.approx(f.loc[x, "earnings_yield"], abs=IDENTITY)
    # the same statement without any reconstruction: 0.11 EY(ETOP only) + 0.21 EY(CETOP only) = 0.32 EY(both)
    assert 0.11 * no_cashflow["earnings_yield"] + 0.21 * no_income["earnings_yield"] == pytest.approx(
        0.32 * f.loc[x, "earnings_yield"], abs=IDENTITY
    )
    # and the unrescaled alternative is far off
    assert abs(no_cashflow["earnings_yield"] - (a * 0.11 / 0.32 * f.loc[x, "etop_score"] + b)) > 1e-3


def _fill_regression(f: pd.DataFrame, style: str, present: np.ndarray) -> tuple[pd.Series, float, pd.DataFrame]:
    """The sqrt(cap)-weighted regression, over the ESTU stocks whose style value is present before the fill,
    of the style on industry dummies and Size, on the mart's values (step 6 is one affine map per date of every
    value, filled or not, and Size is final before the fill, so the fill commutes with it). Returns the industry
    intercepts, the Size slope and the sample."""
    sample = f[f["in_estu"].to_numpy(bool) & present & f["industry"].notna().to_numpy()]
    industries = sorted(sample["industry"].unique())
    dummies = (sample["industry"].to_numpy()[:, None] == np.array(industries)[None, :]).astype(float)
    design = np.column_stack([dummies, sample["size"]])
    root_v = np.sqrt(sample["regression_weight"].to_numpy(float))
    coef, *_ = np.linalg.lstsq(design * root_v[:, None], sample[style].to_numpy(float) * root_v, rcond=None)
    return pd.Series(coef[:-1], index=industries), float(coef[-1]), sample


def test_c3_every_descriptor_missing_gets_the_fill_regression_value(market, last_cross_section):
    """C3_NONE is X without income and cash-flow statements: ETOP, CETOP, EGRO and SGRO are all missing, so
    Earnings Yield and Growth are filled with the fitted value of the regression on industry and Size (X's
    industry and X's Size). Checked exactly against that regression, then the peer-range property, precisely:
    with b the Size slope and P the regression sample's stocks of the fixture's industry, the fill is the
    sqrt(cap)-weighted mean over P of y_i + b (size_fixture - size_i) (each peer's value moved along the Size
    slope to the fixture's size), so it lies between the smallest and the largest of those |P| >= 2 values.
    C3_NO_INDUSTRY (the same stock without an industry) is not filled."""
    f = last_cross_section
    none, no_income = f.loc[CODES["C3_NONE"]], f.loc[CODES["C3_NO_INCOME"]]
    assert (
        none["industry"] == f.loc[market.clone_source, "industry"]
        and none["size"] == f.loc[market.clone_source, "size"]
    )
    estu = f["in_estu"].to_numpy(bool)
    present = {
        "earnings_yield": f["etop_score"].notna().to_numpy() | f["cetop_score"].notna().to_numpy(),
        "growth": ~np.isnan(_remove_outliers(f["egro"].to_numpy(float), estu))
        | ~np.isnan(_remove_outliers(f["sgro"].to_numpy(float), estu)),
    }
    for name in ("etop", "cetop", "egro", "sgro"):
        assert np.isnan(none[name])
    for style, has in present.items():
        intercepts, slope, sample = _fill_regression(f, style, has)
        fitted = intercepts[none["industry"]] + slope * none["size"]
        assert none[style] == pytest.approx(fitted, abs=IDENTITY), style
        peers = sample[sample["industry"] == none["industry"]]
        assert len(peers) >= 2, style
        moved = peers[style] + slope * (none["size"] - peers["size"])
        assert moved.min() - IDENTITY <= none[style] <= moved.max() + IDENTITY, (style, moved.tolist(), none[style])
    # the clone without income statements has no growth descriptor either: the same fill
    assert no_income["growth"] == pytest.approx(none["growth"], abs=IDENTITY)
    no_industry = f.loc[CODES["C3_NO_INDUSTRY"]]
    assert np.isnan(no_industry["earnings_yield"]) and np.isnan(no_industry["growth"])
    assert not np.isnan(no_industry["leverage"])  # its other styles are there
