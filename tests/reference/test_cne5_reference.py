"""Self-tests of the numpy CNE5 reference (tests/reference/cne5_reference.py): hand-made inputs, no dbt."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from ingest.demo import generate_demo_market
from tests.reference.cne5_reference import (
    BALANCE_ITEMS,
    DESCRIPTORS,
    STYLES,
    Market,
    Params,
    Version,
    build_panel,
    cmra_value,
    combine,
    cross_section_styles,
    descriptors,
    ewm_weights,
    exposures,
    fill_missing,
    growth_slope,
    load_market,
    log_turnover,
    market_return,
    newest_versions,
    orthogonalize,
    remove_outliers,
    rstr_value,
    standardize,
    standardize_clip_standardize,
    ttm,
    weighted_regression,
    weighted_std,
)

P = Params()
RF = P.rf_daily


def wcov(a: np.ndarray, b: np.ndarray, w: np.ndarray) -> float:
    w = w / w.sum()
    return float(np.sum(w * (a - np.sum(w * a)) * (b - np.sum(w * b))))


# ---------------------------------------------------------------------------------------------- primitives


def test_params_defaults():
    assert (P.beta_window, P.beta_half_life, P.dastd_half_life) == (252, 63, 42)
    assert (P.rstr_window, P.rstr_lag, P.rstr_half_life) == (504, 21, 126)
    assert (P.cmra_months, P.month_days, P.min_observations, P.estu_min_age_days) == (12, 21, 63, 63)
    assert (P.outlier_mad_multiple, P.clip, P.risk_free_annual) == (10, 3, 0.015)
    assert abs(RF - (1.015 ** (1 / 252) - 1)) < 1e-18


def test_ewm_weights():
    w = ewm_weights(252, 63)
    assert w[0] == 1.0
    assert w[63] / w[0] == pytest.approx(0.5, rel=1e-14)
    assert w[126] / w[63] == pytest.approx(0.5, rel=1e-14)
    # pandas' ewm(halflife=h) uses the same decay 0.5 ** (1/h)
    x = np.arange(10.0)
    ours = np.sum(ewm_weights(10, 3)[::-1] * x) / ewm_weights(10, 3).sum()
    assert ours == pytest.approx(pd.Series(x).ewm(halflife=3).mean().iloc[-1], rel=1e-12)


def test_beta_exact_multiple_of_market():
    rng = np.random.default_rng(0)
    x = rng.normal(0, 0.01, 252)
    y = 1.5 * x
    reg = weighted_regression(x, y, ewm_weights(252, 63))
    assert reg.beta == pytest.approx(1.5, abs=1e-12)
    assert reg.alpha == pytest.approx(0.0, abs=1e-15)
    assert reg.resid_sigma < 1e-12
    # with an intercept and missing observations
    y2 = 0.001 + 1.5 * x
    y2[::7] = np.nan
    reg = weighted_regression(x, y2, ewm_weights(252, 63))
    assert reg.beta == pytest.approx(1.5, abs=1e-12) and reg.alpha == pytest.approx(0.001, abs=1e-14)
    assert reg.n == 252 - 36


def test_beta_with_noise_matches_weighted_lstsq():
    rng = np.random.default_rng(1)
    x = rng.normal(0, 0.01, 252)
    y = 0.0002 + 1.2 * x + rng.normal(0, 0.005, 252)
    w = ewm_weights(252, 63)
    reg = weighted_regression(x, y, w)
    a = np.column_stack([np.ones(252), x]) * np.sqrt(w)[:, None]
    coef = np.linalg.lstsq(a, y * np.sqrt(w), rcond=None)[0]
    assert reg.beta == pytest.approx(coef[1], rel=1e-10)
    res = y - coef[0] - coef[1] * x
    assert reg.resid_sigma == pytest.approx(math.sqrt(np.sum(w * res**2) / w.sum()), rel=1e-10)


def test_weighted_std():
    w = ewm_weights(252, 42)
    assert weighted_std(np.full(252, 0.003), w) == pytest.approx(0.0, abs=1e-18)
    x = np.random.default_rng(2).normal(0, 0.02, 252)
    assert weighted_std(3 * x, w) == pytest.approx(3 * weighted_std(x, w), rel=1e-12)
    # two points, equal weights: population std
    assert weighted_std(np.array([1.0, 3.0]), np.array([1.0, 1.0])) == pytest.approx(1.0)


def test_rstr_skips_last_month_and_normalizes_constantly():
    l = np.full(504, 0.001)  # noqa: E741
    assert rstr_value(l, 126, 63) == pytest.approx(0.001, rel=1e-12)  # weights sum to 1 when all present
    half = l.copy()
    half[252:] = np.nan  # days without a return add 0 (no renormalization)
    w = ewm_weights(504, 126)
    assert rstr_value(half, 126, 63) == pytest.approx(0.001 * w[:252].sum() / w.sum(), rel=1e-12)
    sparse = np.full(504, np.nan)
    sparse[:62] = 0.01
    assert math.isnan(rstr_value(sparse, 126, 63))


def test_cmra_rising_series_and_floor():
    l = np.full(252, 0.002)  # noqa: E741
    z1, z12 = 21 * 0.002, 252 * 0.002
    assert cmra_value(l, 12, 21, -0.99) == pytest.approx(math.log(1 + z12) - math.log(1 + z1), rel=1e-12)
    crash = np.zeros(252)
    crash[0] = 0.1  # z_1 = 0.1
    crash[21] = -5.0  # z_2 = -5: Z(2..12) = -4.9, clipped at -0.99
    crash[30] = np.nan  # a day without a return adds 0
    assert cmra_value(crash, 12, 21, -0.99) == pytest.approx(math.log(1.1) - math.log(0.01), rel=1e-12)


def test_turnover_constant():
    tau = 0.013
    stom = log_turnover(np.full(21, tau), 1)
    assert stom == pytest.approx(math.log(21 * tau), rel=1e-14)
    assert log_turnover(np.full(63, tau), 3) == pytest.approx(stom, rel=1e-14)
    assert log_turnover(np.full(252, tau), 12) == pytest.approx(stom, rel=1e-14)
    assert math.isnan(log_turnover(np.zeros(21), 1))
    assert math.isnan(log_turnover(np.full(21, np.nan), 1))


def test_growth_slope_linear():
    t = np.arange(2015, 2020, dtype=float)
    a, b = 100.0, 7.0
    vals = a + b * (t - 2015)
    assert growth_slope(t, vals) == pytest.approx(b / vals.mean(), rel=1e-12)
    vals3 = vals.copy()
    vals3[[1, 3]] = np.nan  # 3 of 5 present: still linear
    assert growth_slope(t, vals3) == pytest.approx(b / vals3[np.isfinite(vals3)].mean(), rel=1e-12)
    vals2 = vals.copy()
    vals2[:3] = np.nan
    assert math.isnan(growth_slope(t, vals2))
    assert growth_slope(t, -vals) == pytest.approx(-b / vals.mean(), rel=1e-12)  # divided by mean |value|


def test_ttm():
    v = {"20201231": 100.0, "20200930": 70.0, "20210930": 90.0, "20210630": 50.0}
    assert ttm("20201231", v) == 100.0
    assert ttm("20210930", v) == pytest.approx(100 + 90 - 70)
    assert ttm("20210630", v) == pytest.approx(50 * 4 / 2)  # prior-year 0630 missing: annualized
    assert ttm("20210630", {**v, "20200630": np.nan}) == pytest.approx(100.0)
    assert math.isnan(ttm("20210930", {"20210930": np.nan}))


def test_newest_versions_point_in_time():
    vs = [
        Version("20200425", True, 0, "20191231", {"x": 1.0}),
        Version("20200830", True, 1, "20200630", {"x": 2.0}),
        Version("20200901", False, 2, "20191231", {"x": 9.0}),  # late restatement of the old period
        Version("20200901", True, 3, "20191231", {"x": 10.0}),  # same day, update_flag 1 wins
    ]
    assert newest_versions(vs, "20200425") == {}
    assert newest_versions(vs, "20200426") == {"20191231": {"x": 1.0}}
    got = newest_versions(vs, "20200902")
    assert max(got) == "20200630"  # the restatement revises 2019 but never replaces the newer period
    assert got["20191231"] == {"x": 10.0}
    vs[3] = Version("20200901", False, 3, "20191231", {"x": 10.0})
    vs[2] = Version("20200901", True, 2, "20191231", {"x": 9.0})
    assert newest_versions(vs, "20200902")["20191231"] == {"x": 9.0}


# ---------------------------------------------------------------------------------------------- cross sections


def _cross_section(n=40, seed=5):
    rng = np.random.default_rng(seed)
    cap = np.exp(rng.normal(22, 1.2, n))
    estu = rng.random(n) < 0.8
    industry = np.array([["a", "b", "c", "d"][k % 4] for k in range(n)], dtype=object)
    return rng, cap, estu, industry


def test_standardize_over_estu():
    rng, cap, estu, _ = _cross_section()
    x = rng.normal(3, 2, len(cap))
    x[3] = np.nan
    z = standardize(x, cap, estu)
    s = estu & np.isfinite(z)
    assert abs(np.sum(cap[s] * z[s]) / np.sum(cap[s])) < 1e-12
    assert abs(np.std(z[s]) - 1) < 1e-12
    assert np.isfinite(z[~estu & np.isfinite(x)]).all()  # applied to every stock
    zc = standardize_clip_standardize(x * np.where(np.arange(len(x)) == 0, 50, 1), cap, estu, 3.0)
    assert abs(np.sum(cap[s] * zc[s]) / np.sum(cap[s])) < 1e-12 and abs(np.std(zc[s]) - 1) < 1e-12


def test_remove_outliers():
    rng, cap, estu, _ = _cross_section()
    x = rng.normal(0, 1, len(cap))
    x[0] = 1e6
    x[1] = -1e6
    y = remove_outliers(x, estu, 10, 1.4826)
    assert np.isnan(y[:2]).all() and np.isfinite(y[2:]).all()
    const = np.ones(len(cap))
    const[0] = 5.0
    assert np.array_equal(remove_outliers(const, estu, 10, 1.4826), const)  # mad = 0: skipped


def test_combine_rescales_weights():
    a = np.array([1.0, np.nan, np.nan])
    b = np.array([3.0, 2.0, np.nan])
    out = combine([a, b], [0.11, 0.21])
    assert out[0] == pytest.approx((0.11 * 1 + 0.21 * 3) / 0.32)
    assert out[1] == pytest.approx(2.0)
    assert np.isnan(out[2])


def test_fill_missing_matches_dummy_regression():
    rng, cap, estu, industry = _cross_section(60)
    v = np.sqrt(cap)
    size = rng.normal(0, 1, 60)
    y = 0.4 * size + rng.normal(0, 1, 60)
    y[[2, 5, 11, 17]] = np.nan
    industry[17] = "zz"  # an industry with no sample member: ESTU-wide means
    industry[11] = None  # no industry: not filled
    filled = fill_missing(y, size, industry, v, estu)
    sample = estu & np.isfinite(y) & np.array([g is not None for g in industry])
    groups = sorted({industry[k] for k in np.flatnonzero(sample)})
    xmat = np.column_stack([[1.0 if industry[k] == g else 0.0 for k in range(60)] for g in groups] + [size])
    sw = np.sqrt(v[sample])
    coef = np.linalg.lstsq(xmat[sample] * sw[:, None], y[sample] * sw, rcond=None)[0]
    for k in (2, 5):
        assert filled[k] == pytest.approx(xmat[k] @ coef, rel=1e-10)
    b = coef[-1]
    ws = v[sample] / v[sample].sum()
    assert filled[17] == pytest.approx(np.sum(ws * y[sample]) + b * (size[17] - np.sum(ws * size[sample])), rel=1e-10)
    assert np.isnan(filled[11])
    assert np.array_equal(filled[np.isfinite(y)], y[np.isfinite(y)])


def test_orthogonalize_zero_weighted_covariance():
    rng, cap, estu, _ = _cross_section(80)
    v = np.sqrt(cap)
    size = rng.normal(0, 1, 80)
    beta = 0.5 * size + rng.normal(0, 1, 80)
    vol = 0.7 * beta - 0.3 * size + rng.normal(0, 1, 80)
    res = standardize(orthogonalize(vol, [beta, size], v, estu), cap, estu)
    s = estu
    assert abs(wcov(res[s], beta[s], v[s])) < 1e-12
    assert abs(wcov(res[s], size[s], v[s])) < 1e-12
    nls = standardize(orthogonalize(size**3, [size], v, estu), cap, estu)
    assert abs(wcov(nls[s], size[s], v[s])) < 1e-12


def test_cross_section_styles_c1_c2():
    rng, cap, estu, industry = _cross_section(120, seed=9)
    raw = {d: rng.normal(0, 1, 120) for d in DESCRIPTORS}
    raw["lncap"] = np.log(cap)
    raw["beta"][:10] = np.nan  # filled by the industry + size regression
    raw["etop"][5] = 1e9  # a data error
    styles = cross_section_styles(raw, cap, industry, estu)
    v = np.sqrt(cap)
    for s in STYLES:
        x = styles[s][estu]
        assert np.isfinite(x).all(), s
        assert abs(np.sum(cap[estu] * x) / cap[estu].sum()) < 1e-12, s
        assert abs(np.std(x) - 1) < 1e-12, s
    sz, bt = styles["size"][estu], styles["beta"][estu]
    for a, b in (("volatility", bt), ("volatility", sz), ("liquidity", sz), ("non_linear_size", sz)):
        assert abs(wcov(styles[a][estu], b, v[estu])) < 1e-12


# ---------------------------------------------------------------------------------------------- tiny markets


def _tiny_market(n_days: int = 200, seed: int = 0, suspend_a: tuple[int, int] | None = None) -> Market:
    """Stocks B, C, D (SSE, in the ESTU after 63 days) and A (BSE: never in the ESTU, so not in the market)
    whose one-day excess return is exactly 1.5 x the market excess return, with a constant turnover."""
    rng = np.random.default_rng(seed)
    cal = np.array([d.strftime("%Y%m%d") for d in pd.bdate_range("2020-01-01", periods=n_days)], dtype=object)
    codes = ["600001.SH", "600002.SH", "600003.SH"]
    caps = {c: 1e6 * (k + 1) for k, c in enumerate(codes)}  # 10k CNY
    closes = {c: 10.0 * np.cumprod(1 + rng.normal(0.0005, 0.02, n_days)) for c in codes}
    rows, basic, adj = [], [], []
    for c in codes:
        for i, d in enumerate(cal):
            rows.append((c, d, closes[c][i], 1000.0))
            basic.append((c, d, caps[c] * closes[c][i] / closes[c][0], 1e4))
            adj.append((c, d, 1.0))
    # market excess return on day i: cap-weighted (caps at i-1) e over B, C, D (in the ESTU from day 63)
    a_close = np.empty(n_days)
    a_close[0] = 20.0
    for i in range(1, n_days):
        if i - 1 >= 63:
            w = np.array([caps[c] * closes[c][i - 1] / closes[c][0] for c in codes])
            e = np.array([closes[c][i] / closes[c][i - 1] - 1 - RF for c in codes])
            m = np.sum(w * e) / np.sum(w)
        else:
            m = 0.001
        a_close[i] = a_close[i - 1] * (1 + RF + 1.5 * m)
    tau, float_10k = 0.01, 1e4  # float shares 1e8; vol lots = tau * 1e8 / 100
    for i, d in enumerate(cal):
        if suspend_a and suspend_a[0] <= i < suspend_a[1]:
            adj.append(("830001.BJ", d, 1.0))  # suspended, adj_factor still published: same span
            continue
        rows.append(("830001.BJ", d, a_close[i], tau * float_10k * 1e4 / 100))
        basic.append(("830001.BJ", d, 5e5, float_10k))
        adj.append(("830001.BJ", d, 1.0))
    all_codes = [*codes, "830001.BJ"]
    empty = {k: [] for k in ("ts_code", "ann_date", "f_ann_date", "end_date", "update_flag")}
    return Market(
        calendar=cal,
        daily=pd.DataFrame(rows, columns=["ts_code", "trade_date", "close", "vol"]),
        daily_basic=pd.DataFrame(basic, columns=["ts_code", "trade_date", "total_mv", "float_share"]),
        adj_factor=pd.DataFrame(adj, columns=["ts_code", "trade_date", "adj_factor"]),
        stock_basic=pd.DataFrame({"ts_code": all_codes, "exchange": ["SSE"] * 3 + ["BSE"]}),
        index_member_all=pd.DataFrame(
            {"l1_code": ["801010.SI"] * 4, "ts_code": all_codes, "in_date": ["20000101"] * 4, "out_date": [None] * 4}
        ),
        industry_map={"801010.SI": "agriculture"},
        income=pd.DataFrame({**empty, "n_income_attr_p": [], "total_revenue": []}),
        balancesheet=pd.DataFrame({**empty, **{c: [] for c in BALANCE_ITEMS}}),
        cashflow=pd.DataFrame({**empty, "n_cashflow_act": []}),
    )


def test_tiny_market_beta_hsigma_turnover():
    mkt = _tiny_market()
    d = descriptors(mkt)
    a = d[d.ts_code == "830001.BJ"].reset_index(drop=True)
    assert not a.in_estu.any()
    assert d[d.ts_code != "830001.BJ"].in_estu.sum() == 3 * (200 - 63)
    mr = market_return(mkt)
    assert mr.market_excess_return.notna().sum() == 200 - 64
    # BETA needs 63 one-day returns paired with a market return: the market starts on day 64
    first = a.beta.first_valid_index()
    assert first == 64 + 63 - 1
    late = a.iloc[first:]
    assert np.allclose(late.beta, 1.5, atol=1e-9)
    assert (late.hsigma < 1e-10).all()
    tau = 0.01
    assert np.allclose(a.stom.iloc[21:], math.log(21 * tau), atol=1e-12)
    assert a.stom.iloc[:21].isna().all()  # span age < 21
    assert np.allclose(a.stoq.iloc[63:], a.stom.iloc[63:], atol=1e-12)
    assert a.stoa.isna().all()  # span age < 252
    assert a.cmra.isna().all()
    assert str(d.trade_date.dtype) == "datetime64[ns]"
    assert d.etop.isna().all() and d.mlev.isna().all()  # no statements


def test_tiny_market_suspension_keeps_span_and_skips_multi_day_return():
    mkt = _tiny_market(suspend_a=(150, 155))
    panel = build_panel(mkt)
    j = panel.codes.index("830001.BJ")
    assert panel.span_start[155, j] == 0  # adj_factor rows published during the halt: same span
    assert not panel.one_day[155, j] and np.isnan(panel.e[155, j]) and np.isfinite(panel.log_excess[155, j])
    # without adj_factor rows in the gap the span breaks
    mkt.adj_factor = mkt.adj_factor[
        ~((mkt.adj_factor.ts_code == "830001.BJ") & mkt.adj_factor.trade_date.isin(mkt.calendar[150:155]))
    ]
    panel = build_panel(mkt)
    assert panel.span_start[155, j] == 155 and panel.span_start[154, j] == -1
    d = descriptors(mkt)
    a = d[d.ts_code == "830001.BJ"].reset_index(drop=True)  # row 150 is market day 155
    assert a.span_age.iloc[150] == 0
    assert a.stom.iloc[150 : 150 + 21].isna().all() and a.stom.iloc[150 + 21 :].notna().all()


# ---------------------------------------------------------------------------------------------- demo market


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    root = tmp_path_factory.mktemp("cne5_demo")
    generate_demo_market(root, 30, 600, 3)
    mkt = load_market(root)
    desc = descriptors(mkt)
    return mkt, desc, exposures(desc)


def test_demo_end_to_end(demo):
    mkt, desc, exp = demo
    assert {"ts_code", "trade_date", "total_mv_cny", "weight", "industry", "in_estu", *DESCRIPTORS} <= set(desc)
    assert {"ts_code", "trade_date", "in_estu", "weight", "industry", *STYLES} <= set(exp)
    assert str(desc.trade_date.dtype) == "datetime64[ns]" and str(exp.trade_date.dtype) == "datetime64[ns]"
    assert len(desc) == len(exp) == len(mkt.daily)
    assert not desc.duplicated(["ts_code", "trade_date"]).any()
    assert not desc[desc.ts_code.str.endswith(".BJ")].in_estu.any()
    dates = np.sort(exp.trade_date.unique())
    n_estu = exp.groupby("trade_date").in_estu.sum()
    assert (n_estu.loc[dates[-200:]] >= 10).all()
    assert (n_estu.loc[dates[:63]] == 0).all()  # every span starts on the first day: 63 days of age needed

    x = exp.merge(desc[["ts_code", "trade_date", "total_mv_cny"]], on=["ts_code", "trade_date"])
    checked = 0
    for date, g in x[x.in_estu].groupby("trade_date"):
        cap = g.total_mv_cny.to_numpy()
        v = np.sqrt(cap)
        for s in STYLES:
            z = g[s].to_numpy()
            ok = np.isfinite(z)
            if not ok.any():
                continue
            checked += 1
            assert abs(np.sum(cap[ok] * z[ok]) / cap[ok].sum()) < 1e-10, (date, s)
            assert abs(np.std(z[ok]) - 1) < 1e-10, (date, s)
        if date >= dates[300]:
            assert g[list(STYLES)].notna().all().all(), date  # filled on every ESTU row
            for a, b in (("volatility", "beta"), ("volatility", "size"), ("liquidity", "size"),
                         ("non_linear_size", "size")):  # fmt: skip
                assert abs(wcov(g[a].to_numpy(), g[b].to_numpy(), v)) < 1e-10, (date, a, b)
    assert checked > 4000
