"""An independent numpy/pandas reference of the CNE5 descriptors and style exposures.

It implements ``docs/cne5-choices.md`` literally, from the raw Tushare Parquet files only (nothing from the
warehouse), so that the tests can compare the SQL models with a second, separately written implementation.
Where the choices page is silent, ``../shared/design/cne5-spec.md`` (sections 3 to 5) decides, and every
choice this file had to make on its own is marked ``ASSUMPTION`` in a comment.

Public API
----------
- ``Params``: every window, half-life and threshold of the choices page, with its defaults.
- ``load_market(raw_root) -> Market``: the raw tables read from ``raw_root/tushare/<table>/*.parquet``.
- ``descriptors(market, params) -> DataFrame``: one row per (ts_code, trade_date) with a daily bar: ts_code,
  trade_date (``datetime64[ns]``), total_mv_cny, weight, industry, span_age, in_estu and the 17 raw descriptors.
- ``market_return(market, params) -> DataFrame``: trade_date, market_excess_return (the BETA regressor).
- ``exposures(desc, params) -> DataFrame``: ts_code, trade_date, in_estu, weight, industry and the ten styles.
- Pure helpers on small arrays: ``ewm_weights``, ``weighted_regression``, ``weighted_std``, ``rstr_value``,
  ``cmra_value``, ``log_turnover``, ``newest_versions``, ``ttm``, ``growth_slope``, ``remove_outliers``,
  ``standardize``, ``standardize_clip_standardize``, ``combine``, ``fill_missing``, ``orthogonalize``,
  ``cross_section_styles``.

Plain loops over stocks and dates, weighted statistics computed from their definitions, float64 throughout.
Internally dates are ``YYYYMMDD`` strings (they sort like dates); the output frames use ``datetime64[ns]``.
"""

from __future__ import annotations

import bisect
import itertools
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.parquet as pq

REPO_ROOT = Path(__file__).resolve().parents[2]
INDUSTRY_MAP_CSV = REPO_ROOT / "seeds" / "industry_factor_map.csv"

DESCRIPTORS = (
    "lncap", "beta", "hsigma", "rstr", "dastd", "cmra", "stom", "stoq", "stoa",
    "etop", "cetop", "btop", "mlev", "dtoa", "blev", "egro", "sgro",
)  # fmt: skip

# Descriptor weights of the spec (section 5); the analyst descriptors are absent, and `combine` rescales the
# weights over the descriptors present, which gives (0.11 ETOP + 0.21 CETOP) / 0.32 and (0.24 EGRO + 0.47 SGRO)
# / 0.71 when both are present, as the choices page says.
STYLE_COMPOSITION: dict[str, dict[str, float]] = {
    "size": {"lncap": 1.0},
    "beta": {"beta": 1.0},
    "momentum": {"rstr": 1.0},
    "volatility": {"dastd": 0.74, "cmra": 0.16, "hsigma": 0.10},
    "book_to_price": {"btop": 1.0},
    "liquidity": {"stom": 0.35, "stoq": 0.35, "stoa": 0.30},
    "earnings_yield": {"etop": 0.11, "cetop": 0.21},
    "growth": {"egro": 0.24, "sgro": 0.47},
    "leverage": {"mlev": 0.38, "dtoa": 0.35, "blev": 0.27},
}
STYLES = (
    "size", "beta", "momentum", "volatility", "non_linear_size",
    "book_to_price", "liquidity", "earnings_yield", "growth", "leverage",
)  # fmt: skip

INCOME_ITEMS = ("n_income_attr_p", "total_revenue")
BALANCE_ITEMS = ("total_hldr_eqy_exc_min_int", "oth_eqt_tools_p_shr", "total_ncl", "total_cur_liab", "total_assets")
CASHFLOW_ITEMS = ("n_cashflow_act",)


@dataclass(frozen=True)
class Params:
    """Windows (market trading days), half-lives and thresholds of docs/cne5-choices.md, with its defaults."""

    risk_free_annual: float = 0.015
    days_per_year: int = 252  # rf = (1 + risk_free_annual) ** (1 / days_per_year) - 1
    beta_window: int = 252
    beta_half_life: float = 63.0
    dastd_window: int = 252
    dastd_half_life: float = 42.0
    min_observations: int = 63  # BETA/HSIGMA and DASTD (one-day returns), RSTR (returns in its window)
    rstr_window: int = 504
    rstr_lag: int = 21
    rstr_half_life: float = 126.0
    month_days: int = 21  # a "month" of CMRA and STOM/STOQ/STOA
    cmra_months: int = 12
    cmra_floor: float = -0.99  # each cumulative Z is clipped below at this value
    stom_months: int = 1
    stoq_months: int = 3
    stoa_months: int = 12
    growth_years: int = 5
    growth_min_years: int = 3
    estu_min_age_days: int = 63
    estu_exchanges: tuple[str, ...] = ("SSE", "SZSE")
    span_max_gap_days: int = 250  # a gap of more than this many missing market days breaks a listing span
    outlier_mad_multiple: float = 10.0
    mad_scale: float = 1.4826
    clip: float = 3.0

    @property
    def rf_daily(self) -> float:
        return (1.0 + self.risk_free_annual) ** (1.0 / self.days_per_year) - 1.0


# ----------------------------------------------------------------------------------------------------------
# Raw tables
# ----------------------------------------------------------------------------------------------------------


@dataclass
class Market:
    """The raw tables, as read. Dates are YYYYMMDD strings (None when null)."""

    calendar: np.ndarray  # SSE open days, sorted, YYYYMMDD strings; position = trading_day_index
    daily: pd.DataFrame  # ts_code, trade_date, close, vol (lots)
    daily_basic: pd.DataFrame  # ts_code, trade_date, total_mv (10k CNY), float_share (10k shares)
    adj_factor: pd.DataFrame  # ts_code, trade_date, adj_factor
    stock_basic: pd.DataFrame  # ts_code, exchange
    index_member_all: pd.DataFrame  # l1_code, ts_code, in_date, out_date
    industry_map: dict[str, str]  # l1_code -> factor_industry
    income: pd.DataFrame  # consolidated rows only: ts_code, ann_date, f_ann_date, end_date, update_flag, items
    balancesheet: pd.DataFrame
    cashflow: pd.DataFrame


def _read_table(raw_root: Path, table: str, columns: Sequence[str]) -> pd.DataFrame:
    files = sorted((Path(raw_root) / "tushare" / table).glob("*.parquet"))
    if not files:
        return pd.DataFrame({c: [] for c in columns})
    frames = []
    for f in files:
        t = pq.read_table(f)
        present = [c for c in columns if c in t.column_names]
        df = t.select(present).to_pandas()
        for c in columns:
            if c not in df:
                df[c] = None
        frames.append(df[list(columns)])
    df = pd.concat(frames, ignore_index=True)
    out = {}
    for c in columns:
        s = df[c]
        if pd.api.types.is_numeric_dtype(s) and not isinstance(s.dtype, pd.CategoricalDtype):
            out[c] = s.to_numpy(dtype=np.float64, na_value=np.nan)
        else:
            # object dtype with None for nulls (pandas 3 would otherwise infer its str dtype with NaN)
            out[c] = pd.Series([None if pd.isna(x) else str(x) for x in s.to_numpy(dtype=object)], dtype=object)
    return pd.DataFrame(out)


def load_market(raw_root: Path, industry_map_csv: Path = INDUSTRY_MAP_CSV) -> Market:
    """Read the raw Tushare tables under ``raw_root/tushare`` (and the industry seed) into a ``Market``."""
    raw_root = Path(raw_root)
    cal = _read_table(raw_root, "trade_cal", ["exchange", "cal_date", "is_open"])
    cal = cal[(cal.exchange == "SSE") & (cal.is_open == 1) & cal.cal_date.notna()]
    calendar = np.array(sorted(set(cal.cal_date)), dtype=object)

    statement_keys = ["ts_code", "ann_date", "f_ann_date", "end_date", "report_type", "update_flag"]

    def statements(table: str, items: Sequence[str]) -> pd.DataFrame:
        df = _read_table(raw_root, table, [*statement_keys, *items])
        df = df[(df.report_type == "1") & df.ts_code.notna() & df.end_date.notna()]  # consolidated only
        return df.reset_index(drop=True)

    seed = pd.read_csv(industry_map_csv, dtype=str)
    return Market(
        calendar=calendar,
        daily=_read_table(raw_root, "daily", ["ts_code", "trade_date", "close", "vol"]),
        daily_basic=_read_table(raw_root, "daily_basic", ["ts_code", "trade_date", "total_mv", "float_share"]),
        adj_factor=_read_table(raw_root, "adj_factor", ["ts_code", "trade_date", "adj_factor"]),
        stock_basic=_read_table(raw_root, "stock_basic", ["ts_code", "exchange"]),
        index_member_all=_read_table(raw_root, "index_member_all", ["l1_code", "ts_code", "in_date", "out_date"]),
        industry_map=dict(zip(seed.l1_code, seed.factor_industry, strict=True)),
        income=statements("income", INCOME_ITEMS),
        balancesheet=statements("balancesheet", BALANCE_ITEMS),
        cashflow=statements("cashflow", CASHFLOW_ITEMS),
    )


# ----------------------------------------------------------------------------------------------------------
# Time-series primitives (small arrays; index j of a window array = lag j unless told)
# ----------------------------------------------------------------------------------------------------------


def ewm_weights(lags: np.ndarray | int, half_life: float) -> np.ndarray:
    """Unnormalized exponential weights ``0.5 ** (lag / half_life)`` (``lags`` an int n means lags 0..n-1)."""
    lags = np.arange(lags, dtype=np.float64) if np.isscalar(lags) else np.asarray(lags, dtype=np.float64)
    return 0.5 ** (lags / half_life)


@dataclass(frozen=True)
class Regression:
    alpha: float
    beta: float
    resid_sigma: float  # sqrt(sum w res^2 / sum w)
    n: int


def weighted_regression(x: np.ndarray, y: np.ndarray, w: np.ndarray) -> Regression:
    """Weighted least squares of y on [1, x] over the pairs where x, y and w are all finite.

    Weights are renormalized over those pairs; beta = sum w (x - xbar)(y - ybar) / sum w (x - xbar)^2 with
    weighted means. A zero weighted variance of x gives a NaN beta (ASSUMPTION: the page does not say).
    """
    x, y, w = (np.asarray(a, dtype=np.float64) for a in (x, y, w))
    ok = np.isfinite(x) & np.isfinite(y) & np.isfinite(w)
    n = int(ok.sum())
    if n == 0:
        return Regression(np.nan, np.nan, np.nan, 0)
    x, y, w = x[ok], y[ok], w[ok] / w[ok].sum()
    xbar = np.sum(w * x)
    ybar = np.sum(w * y)
    sxx = np.sum(w * (x - xbar) ** 2)
    sxy = np.sum(w * (x - xbar) * (y - ybar))
    if not sxx > 0:
        return Regression(np.nan, np.nan, np.nan, n)
    beta = sxy / sxx
    alpha = ybar - beta * xbar
    res = y - alpha - beta * x
    return Regression(float(alpha), float(beta), float(np.sqrt(np.sum(w * res**2))), n)


def weighted_std(x: np.ndarray, w: np.ndarray) -> float:
    """sqrt(sum w (x - m)^2) with weights renormalized over the finite x and m their weighted mean (no bias fix)."""
    x, w = np.asarray(x, dtype=np.float64), np.asarray(w, dtype=np.float64)
    ok = np.isfinite(x) & np.isfinite(w)
    if not ok.any():
        return np.nan
    x, w = x[ok], w[ok] / w[ok].sum()
    m = np.sum(w * x)
    return float(np.sqrt(np.sum(w * (x - m) ** 2)))


def rstr_value(l_window: np.ndarray, half_life: float, min_observations: int) -> float:
    """RSTR from the excess log returns at lags L .. L+T-1 (``l_window[i]`` = lag L + i, NaN = no return).

    Weights 0.5 ** (i / h) / sum_{i<T} 0.5 ** (i / h): decay measured from the lag, constant normalization,
    so a day without a return adds 0. Needs ``min_observations`` returns in the window.
    """
    l_window = np.asarray(l_window, dtype=np.float64)
    w = ewm_weights(len(l_window), half_life)
    w = w / w.sum()
    ok = np.isfinite(l_window)
    if ok.sum() < min_observations:
        return np.nan
    return float(np.sum(w[ok] * l_window[ok]))


def cmra_value(l_window: np.ndarray, months: int, month_days: int, floor: float) -> float:
    """CMRA from the excess log returns at lags 0 .. months * month_days - 1 (NaN = no return, adds 0).

    z_tau = sum of l over lags month_days (tau-1) .. month_days tau - 1, Z(T) = z_1 + .. + z_T for T = 1..months,
    each Z clipped below at ``floor``; CMRA = ln(1 + max Z) - ln(1 + min Z).
    """
    l_window = np.nan_to_num(np.asarray(l_window, dtype=np.float64), nan=0.0)
    z = np.array([l_window[month_days * t : month_days * (t + 1)].sum() for t in range(months)])
    cum = np.maximum(np.cumsum(z), floor)
    return float(np.log(1.0 + cum.max()) - np.log(1.0 + cum.min()))


def log_turnover(turnover_window: np.ndarray, months: int) -> float:
    """ln(sum of the daily turnovers in the window / months); NaN when the sum is not positive.

    ASSUMPTION: a day without a turnover (no bar, or a missing/zero float_share) adds 0, as a SQL SUM skips it;
    a window with no turnover at all gives NaN.
    """
    t = np.asarray(turnover_window, dtype=np.float64)
    ok = np.isfinite(t)
    if not ok.any():
        return np.nan
    s = float(t[ok].sum())
    return math.log(s / months) if s > 0 else np.nan


# ----------------------------------------------------------------------------------------------------------
# Statements, point in time
# ----------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Version:
    """One consolidated statement row: a version of the period ``end_date``."""

    known_date: str  # coalesce(f_ann_date, ann_date)
    latest_flag: bool  # update_flag == '1'
    order: int  # position in the raw file (last tie-break only)
    end_date: str
    values: Mapping[str, float]


def _versions_by_stock(df: pd.DataFrame, items: Sequence[str]) -> dict[str, list[Version]]:
    out: dict[str, list[Version]] = {}
    for k, row in enumerate(df.itertuples(index=False)):
        known = row.f_ann_date if row.f_ann_date is not None else row.ann_date
        if known is None:
            continue  # ASSUMPTION: a version with neither f_ann_date nor ann_date is never usable
        vals = {c: float(getattr(row, c)) for c in items}
        out.setdefault(row.ts_code, []).append(Version(known, row.update_flag == "1", k, row.end_date, vals))
    return out


def newest_versions(versions: Sequence[Version], asof: str) -> dict[str, Mapping[str, float]]:
    """For each period, the values of its newest version usable on the trading day ``asof``.

    Usable: known_date < asof (usable from the first trading day strictly after known_date). Newest: latest
    known_date, then update_flag '1' first; ASSUMPTION: a remaining tie (same known_date and flag) takes the
    row that comes last in the raw files.
    """
    best: dict[str, Version] = {}
    for v in versions:
        if not v.known_date < asof:
            continue
        cur = best.get(v.end_date)
        if cur is None or (v.known_date, v.latest_flag, v.order) > (cur.known_date, cur.latest_flag, cur.order):
            best[v.end_date] = v
    return {e: v.values for e, v in best.items()}


def _finite(x: float | None) -> bool:
    return x is not None and math.isfinite(x)


def ttm(current_end: str, values: Mapping[str, float]) -> float:
    """Trailing twelve months of a flow item, given its year-to-date value per period (end_date -> value).

    The current period itself when it is a fiscal year (12-31); otherwise last fiscal year + current ytd -
    prior-year same ytd; when one of those three is missing, ytd * 4 / (month(end_date) / 3).
    ASSUMPTION: "missing" also covers a period present with a null value; a null current ytd gives NaN; the
    prior-year comparable period is the same MMDD one year earlier.
    """
    cur = values.get(current_end)
    if not _finite(cur):
        return np.nan
    year, mmdd = int(current_end[:4]), current_end[4:]
    if mmdd == "1231":
        return float(cur)
    last_fy = values.get(f"{year - 1}1231")
    prior = values.get(f"{year - 1}{mmdd}")
    if _finite(last_fy) and _finite(prior):
        return float(last_fy + cur - prior)
    quarters = int(mmdd[:2]) / 3.0
    return float(cur * 4.0 / quarters)


def growth_slope(years: Sequence[float], values: Sequence[float], min_years: int = 3) -> float:
    """OLS slope of value on fiscal year over the years present, divided by mean(|value|) over those years.

    NaN with fewer than ``min_years`` values present or a mean |value| that is not positive.
    """
    x = np.asarray(years, dtype=np.float64)
    y = np.asarray(values, dtype=np.float64)
    ok = np.isfinite(x) & np.isfinite(y)
    if ok.sum() < min_years:
        return np.nan
    x, y = x[ok], y[ok]
    m = np.mean(np.abs(y))
    if not m > 0:
        return np.nan
    xm, ym = x.mean(), y.mean()
    slope = np.sum((x - xm) * (y - ym)) / np.sum((x - xm) ** 2)
    return float(slope / m)


def fundamentals_asof(
    income: Sequence[Version],
    balance: Sequence[Version],
    cashflow: Sequence[Version],
    asof: str,
    params: Params = Params(),
) -> dict[str, float]:
    """The statement inputs usable on ``asof`` (CNY): TTMs, balance-sheet items of the current period, growth.

    ASSUMPTION: the "current period" is chosen per statement table (income, balance sheet, cash flow each take
    their own newest period with a usable version).
    """
    out: dict[str, float] = {}
    inc = newest_versions(income, asof)
    if inc:
        cur = max(inc)
        out["ttm_np"] = ttm(cur, {e: v["n_income_attr_p"] for e, v in inc.items()})
        fiscal = [e for e in inc if e[4:] == "1231"]
        if fiscal:
            newest = int(max(fiscal)[:4])
            years = list(range(newest - params.growth_years + 1, newest + 1))
            for item, name in (("n_income_attr_p", "egro"), ("total_revenue", "sgro")):
                vals = [inc.get(f"{y}1231", {}).get(item, np.nan) for y in years]
                out[name] = growth_slope(years, vals, params.growth_min_years)
    cf = newest_versions(cashflow, asof)
    if cf:
        out["ttm_cfo"] = ttm(max(cf), {e: v["n_cashflow_act"] for e, v in cf.items()})
    bs = newest_versions(balance, asof)
    if bs:
        b = bs[max(bs)]
        pe = b["oth_eqt_tools_p_shr"] if _finite(b["oth_eqt_tools_p_shr"]) else 0.0
        ld = b["total_ncl"] if _finite(b["total_ncl"]) else 0.0
        eq = b["total_hldr_eqy_exc_min_int"]
        out["has_balance_sheet"] = 1.0
        out["pe"] = pe
        out["ld"] = ld
        out["be"] = eq - pe if _finite(eq) else np.nan
        out["total_cur_liab"] = b["total_cur_liab"]
        out["total_assets"] = b["total_assets"]
    return out


# ----------------------------------------------------------------------------------------------------------
# The daily panel: dense (market day x stock) arrays
# ----------------------------------------------------------------------------------------------------------


@dataclass
class Panel:
    dates: np.ndarray  # T market days, YYYYMMDD
    codes: list[str]  # N stocks with at least one daily bar on a market day
    bar: np.ndarray  # bool [T, N]
    total_mv: np.ndarray  # CNY
    turnover: np.ndarray  # volume / float shares (fraction), NaN without a bar
    ret: np.ndarray  # total simple return at a bar vs the previous bar (any gap); NaN if none
    one_day: np.ndarray  # bool: previous bar on the previous market day
    e: np.ndarray  # one-day excess simple return, NaN otherwise
    log_excess: np.ndarray  # excess log return l = ln(1 + r) - g ln(1 + rf) over a return of g days
    span_start: np.ndarray  # int: market-day index of the current span's first row, -1 without a bar
    industry: np.ndarray  # object: factor industry or None
    in_estu: np.ndarray  # bool
    market_excess_return: np.ndarray  # [T]


def _pivot(df: pd.DataFrame, value: str, di: dict, ci: dict, shape: tuple) -> tuple[np.ndarray, np.ndarray]:
    """Dense array of df[value] at (trade_date, ts_code) and a mask of the rows present (duplicates: first)."""
    arr = np.full(shape, np.nan)
    present = np.zeros(shape, dtype=bool)
    df = df[df.trade_date.isin(di.keys()) & df.ts_code.isin(ci.keys())]
    df = df.drop_duplicates(["ts_code", "trade_date"], keep="first")  # ASSUMPTION: keys are unique in clean data
    r = df.trade_date.map(di).to_numpy(dtype=np.int64)
    c = df.ts_code.map(ci).to_numpy(dtype=np.int64)
    arr[r, c] = df[value].to_numpy(dtype=np.float64)
    present[r, c] = True
    return arr, present


def build_panel(market: Market, params: Params = Params()) -> Panel:
    cal = market.calendar
    n_days = len(cal)
    di = {d: i for i, d in enumerate(cal)}
    # ASSUMPTION: a daily bar dated on a day that is not an SSE open day is ignored.
    daily = market.daily[market.daily.trade_date.isin(di.keys()) & market.daily.ts_code.notna()]
    codes = sorted(set(daily.ts_code))
    ci = {c: j for j, c in enumerate(codes)}
    shape = (n_days, len(codes))

    close, bar = _pivot(daily, "close", di, ci, shape)
    vol, _ = _pivot(daily, "vol", di, ci, shape)
    adj, adj_row = _pivot(market.adj_factor, "adj_factor", di, ci, shape)
    total_mv_10k, _ = _pivot(market.daily_basic, "total_mv", di, ci, shape)
    float_10k, _ = _pivot(market.daily_basic, "float_share", di, ci, shape)

    total_mv = np.where(bar, total_mv_10k * 1e4, np.nan)  # 10k CNY -> CNY
    float_shares = float_10k * 1e4  # 10k shares -> shares
    vol_shares = vol * 100.0  # lots -> shares
    with np.errstate(divide="ignore", invalid="ignore"):
        # ASSUMPTION: float_share null or <= 0 gives no turnover that day.
        turnover = np.where(bar & (float_shares > 0), vol_shares / float_shares, np.nan)
    adj_close = close * adj  # NaN when the adj_factor row is missing (then the return is missing)

    rf = params.rf_daily
    ret = np.full(shape, np.nan)
    gap_days = np.ones(shape)  # market days a return spans
    one_day = np.zeros(shape, dtype=bool)
    span_start = np.full(shape, -1, dtype=np.int64)
    for j in range(len(codes)):
        rows = np.flatnonzero(bar[:, j])
        start = rows[0]
        span_start[start, j] = start
        for p, i in itertools.pairwise(rows):
            ret[i, j] = adj_close[i, j] / adj_close[p, j] - 1.0
            one_day[i, j] = i - p == 1
            gap_days[i, j] = i - p
            missing = i - p - 1
            if (missing >= 1 and not adj_row[p + 1 : i, j].any()) or missing > params.span_max_gap_days:
                start = i
            span_start[i, j] = start
    with np.errstate(invalid="ignore", divide="ignore"):
        e = np.where(one_day, ret - rf, np.nan)
        # A multi-day return subtracts the risk-free return compounded over its days.
        log_excess = np.where(1.0 + ret > 0, np.log(1.0 + ret) - gap_days * np.log(1.0 + rf), np.nan)

    # Industry per day: in_date <= D and (out_date is null or D < out_date), mapped through the seed.
    members: dict[str, list[tuple[str, str | None, str | None]]] = {}
    for row in market.index_member_all.itertuples(index=False):
        if row.ts_code is not None and row.in_date is not None:  # ASSUMPTION: null in_date never matches
            members.setdefault(row.ts_code, []).append((row.in_date, row.out_date, row.l1_code))
    industry = np.full(shape, None, dtype=object)
    for j, code in enumerate(codes):
        spans = members.get(code, [])
        for i in np.flatnonzero(bar[:, j]):
            d = cal[i]
            hits = [(ind, l1) for ind, outd, l1 in spans if ind <= d and (outd is None or d < outd)]
            if hits:
                # ASSUMPTION: overlapping memberships: the one with the latest in_date wins.
                l1 = max(hits)[1]
                industry[i, j] = market.industry_map.get(l1)  # None when the l1 code is not mapped

    exchange = dict(zip(market.stock_basic.ts_code, market.stock_basic.exchange, strict=True))
    # ASSUMPTION: the exchange comes from stock_basic.exchange (a stock missing there is outside the ESTU).
    on_exchange = np.array([exchange.get(c) in params.estu_exchanges for c in codes], dtype=bool)
    age = np.arange(n_days)[:, None] - span_start
    in_estu = (
        bar
        & (np.nan_to_num(total_mv, nan=0.0) > 0)
        & (age >= params.estu_min_age_days)
        & np.vectorize(lambda x: x is not None, otypes=[bool])(industry)
        & on_exchange[None, :]
    )

    # Market excess return on t: cap-weighted (total_mv at t-1) mean of the one-day e on t over ESTU(t-1).
    mret = np.full(n_days, np.nan)
    for i in range(1, n_days):
        m = in_estu[i - 1] & np.isfinite(e[i])
        if m.any():
            w = total_mv[i - 1, m]
            mret[i] = np.sum(w * e[i, m]) / np.sum(w)

    return Panel(cal, codes, bar, total_mv, turnover, ret, one_day, e, log_excess, span_start, industry, in_estu, mret)


def _lagged(col: np.ndarray, i: int, first_lag: int, n: int) -> np.ndarray:
    """col[i - lag] for lag = first_lag .. first_lag + n - 1; NaN before the calendar's first day."""
    idx = i - np.arange(first_lag, first_lag + n)
    out = np.full(n, np.nan)
    ok = idx >= 0
    out[ok] = col[idx[ok]]
    return out


def _to_datetime(dates: Sequence[str]) -> pd.Series:
    return pd.Series(pd.to_datetime(pd.Series(dates, dtype=object), format="%Y%m%d")).astype("datetime64[ns]")


def market_return(market: Market, params: Params = Params()) -> pd.DataFrame:
    """trade_date (datetime64[ns]) and market_excess_return for every market day (NaN when undefined)."""
    panel = build_panel(market, params)
    return pd.DataFrame({"trade_date": _to_datetime(panel.dates), "market_excess_return": panel.market_excess_return})


# ----------------------------------------------------------------------------------------------------------
# Descriptors
# ----------------------------------------------------------------------------------------------------------


def descriptors(market: Market, params: Params = Params()) -> pd.DataFrame:
    """Raw descriptors, one row per (ts_code, trade_date) with a daily bar; see the module docstring."""
    p = params
    panel = build_panel(market, p)
    cal = panel.dates
    inc_v = _versions_by_stock(market.income, INCOME_ITEMS)
    bs_v = _versions_by_stock(market.balancesheet, BALANCE_ITEMS)
    cf_v = _versions_by_stock(market.cashflow, CASHFLOW_ITEMS)

    w_beta = ewm_weights(p.beta_window, p.beta_half_life)
    w_dastd = ewm_weights(p.dastd_window, p.dastd_half_life)
    cmra_days = p.cmra_months * p.month_days
    sto = (
        ("stom", p.stom_months),
        ("stoq", p.stoq_months),
        ("stoa", p.stoa_months),
    )

    records: list[dict] = []
    for j, code in enumerate(panel.codes):
        e_col, l_col, to_col = panel.e[:, j], panel.log_excess[:, j], panel.turnover[:, j]
        inc, bs, cf = inc_v.get(code, []), bs_v.get(code, []), cf_v.get(code, [])
        known = sorted({v.known_date for v in (*inc, *bs, *cf)})
        fund_cache: dict[int, dict[str, float]] = {}
        for i in np.flatnonzero(panel.bar[:, j]):
            d = cal[i]
            me = panel.total_mv[i, j]
            me_ok = bool(np.isfinite(me) and me > 0)
            age = int(i - panel.span_start[i, j])
            r: dict = {
                "ts_code": code,
                "trade_date": d,
                "total_mv_cny": me,
                "weight": math.sqrt(me) if me_ok else np.nan,
                "industry": panel.industry[i, j],
                "span_age": age,
                "in_estu": bool(panel.in_estu[i, j]),
            }
            r["lncap"] = math.log(me) if me_ok else np.nan

            # BETA / HSIGMA: one-day e on the market excess return, lags 0..251, h = 63.
            y = _lagged(e_col, i, 0, p.beta_window)
            x = _lagged(panel.market_excess_return, i, 0, p.beta_window)
            # ASSUMPTION: an observation needs both the stock's one-day return and the market return.
            ok = np.isfinite(y) & np.isfinite(x)
            if ok.sum() >= p.min_observations:
                reg = weighted_regression(x[ok], y[ok], w_beta[ok])
                r["beta"], r["hsigma"] = reg.beta, reg.resid_sigma
            else:
                r["beta"] = r["hsigma"] = np.nan

            # DASTD: weighted std of the one-day e, lags 0..251, h = 42.
            y = _lagged(e_col, i, 0, p.dastd_window)
            ok = np.isfinite(y)
            r["dastd"] = weighted_std(y[ok], w_dastd[ok]) if ok.sum() >= p.min_observations else np.nan

            # RSTR: lags 21..524 of the excess log returns (multi-day returns count in full).
            r["rstr"] = rstr_value(_lagged(l_col, i, p.rstr_lag, p.rstr_window), p.rstr_half_life, p.min_observations)

            # CMRA: span age >= 252.
            r["cmra"] = (
                cmra_value(_lagged(l_col, i, 0, cmra_days), p.cmra_months, p.month_days, p.cmra_floor)
                if age >= cmra_days
                else np.nan
            )

            # STOM / STOQ / STOA: span age >= window length.
            for name, months in sto:
                n = months * p.month_days
                r[name] = log_turnover(_lagged(to_col, i, 0, n), months) if age >= n else np.nan

            # Statements usable on d: the usable set only changes with the number of known dates before d.
            k = bisect.bisect_left(known, d)
            if k not in fund_cache:
                fund_cache[k] = fundamentals_asof(inc, bs, cf, d, p)
            f = fund_cache[k]
            ttm_np, ttm_cfo = f.get("ttm_np", np.nan), f.get("ttm_cfo", np.nan)
            be = f.get("be", np.nan)
            has_bs = "has_balance_sheet" in f
            # ASSUMPTION: every ratio to total_mv needs total_mv > 0 (as LNCAP).
            r["etop"] = ttm_np / me if me_ok and _finite(ttm_np) else np.nan
            r["cetop"] = ttm_cfo / me if me_ok and _finite(ttm_cfo) else np.nan
            r["btop"] = be / me if me_ok and _finite(be) else np.nan
            r["mlev"] = (me + f["pe"] + f["ld"]) / me if me_ok and has_bs else np.nan
            ta, cl = f.get("total_assets", np.nan), f.get("total_cur_liab", np.nan)
            # ASSUMPTION: a null total_cur_liab gives a null DTOA (only PE and LD are coalesced to 0).
            r["dtoa"] = (f["ld"] + cl) / ta if has_bs and _finite(ta) and ta > 0 and _finite(cl) else np.nan
            r["blev"] = (be + f["pe"] + f["ld"]) / be if has_bs and _finite(be) and be > 0 else np.nan
            r["egro"] = f.get("egro", np.nan)
            r["sgro"] = f.get("sgro", np.nan)
            records.append(r)

    cols = ["ts_code", "trade_date", "total_mv_cny", "weight", "industry", "span_age", "in_estu", *DESCRIPTORS]
    out = pd.DataFrame.from_records(records, columns=cols)
    out["trade_date"] = _to_datetime(out["trade_date"].tolist()).to_numpy()
    out["industry"] = pd.Series([r["industry"] for r in records], dtype=object)  # None, not NaN, when unmapped
    out["in_estu"] = out["in_estu"].astype(bool)
    for c in ["total_mv_cny", "weight", *DESCRIPTORS]:
        out[c] = out[c].astype(np.float64)
    return out.sort_values(["trade_date", "ts_code"], ignore_index=True)


# ----------------------------------------------------------------------------------------------------------
# Cross-sectional steps (one date; arrays over all its rows; `estu` selects the statistics' rows)
# ----------------------------------------------------------------------------------------------------------


def remove_outliers(x: np.ndarray, estu: np.ndarray, multiple: float = 10.0, scale: float = 1.4826) -> np.ndarray:
    """Null every value with |x - med| > multiple * scale * mad (med, mad over the ESTU's non-null values).

    Skipped when mad = 0 or the ESTU has no value. The median of an even count is the mean of the two middle
    values (numpy's, and DuckDB's median).
    """
    x = np.asarray(x, dtype=np.float64)
    s = estu & np.isfinite(x)
    out = x.copy()
    if not s.any():
        return out
    med = np.median(x[s])
    mad = np.median(np.abs(x[s] - med))
    if mad == 0:
        return out
    with np.errstate(invalid="ignore"):
        out[np.abs(x - med) > multiple * scale * mad] = np.nan
    return out


def standardize(x: np.ndarray, cap: np.ndarray, estu: np.ndarray) -> np.ndarray:
    """(x - cap-weighted mean) / equal-weighted population std, both over the ESTU's non-null values.

    ASSUMPTION: NaN everywhere when the ESTU has no value or the std is 0 (one value, or all equal).
    """
    x = np.asarray(x, dtype=np.float64)
    s = estu & np.isfinite(x)
    if not s.any():
        return np.full_like(x, np.nan)
    mu = np.sum(cap[s] * x[s]) / np.sum(cap[s])
    sd = np.sqrt(np.mean((x[s] - np.mean(x[s])) ** 2))
    if not sd > 0:
        return np.full_like(x, np.nan)
    return (x - mu) / sd


def standardize_clip_standardize(x: np.ndarray, cap: np.ndarray, estu: np.ndarray, clip: float = 3.0) -> np.ndarray:
    z = standardize(x, cap, estu)
    return standardize(np.clip(z, -clip, clip), cap, estu)


def combine(values: Sequence[np.ndarray], weights: Sequence[float]) -> np.ndarray:
    """Weighted mean of the present values, the weights rescaled over those present; NaN when none is."""
    num = np.zeros(len(values[0]))
    den = np.zeros(len(values[0]))
    for x, w in zip(values, weights, strict=True):
        ok = np.isfinite(x)
        num[ok] += w * x[ok]
        den[ok] += w
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(den > 0, num / den, np.nan)


def _has(a: np.ndarray) -> np.ndarray:
    return np.array([not (v is None or (isinstance(v, float) and math.isnan(v))) for v in a], dtype=bool)


def fill_missing(y: np.ndarray, size: np.ndarray, industry: np.ndarray, v: np.ndarray, estu: np.ndarray) -> np.ndarray:
    """Fill NaNs with the fitted value of the v-weighted regression of y on industry dummies + Size.

    Sample: ESTU rows with y (and Size). Size's slope from within-industry deviations (weighted industry
    means), industry intercept = ybar_g - b sbar_g; an industry without sample members uses the sample-wide
    weighted means. Rows without an industry, or without Size, stay NaN. ASSUMPTION: a zero within-industry
    Size variance (every industry a singleton) gives slope 0.
    """
    y = np.asarray(y, dtype=np.float64)
    out = y.copy()
    ind_ok = _has(industry)
    sample = estu & np.isfinite(y) & np.isfinite(size) & ind_ok
    if not sample.any():
        return out
    groups: dict[str, tuple[float, float]] = {}
    for g in sorted({industry[k] for k in np.flatnonzero(sample)}):
        m = sample & np.array([ind_ok[k] and industry[k] == g for k in range(len(y))], dtype=bool)
        w = v[m] / v[m].sum()
        groups[g] = (float(np.sum(w * y[m])), float(np.sum(w * size[m])))
    idx = np.flatnonzero(sample)
    ybar_g = np.array([groups[industry[k]][0] for k in idx])
    sbar_g = np.array([groups[industry[k]][1] for k in idx])
    ws = v[idx]
    sxx = np.sum(ws * (size[idx] - sbar_g) ** 2)
    sxy = np.sum(ws * (size[idx] - sbar_g) * (y[idx] - ybar_g))
    b = sxy / sxx if sxx > 0 else 0.0
    wn = ws / ws.sum()
    ybar, sbar = np.sum(wn * y[idx]), np.sum(wn * size[idx])
    for k in np.flatnonzero(~np.isfinite(y) & ind_ok & np.isfinite(size)):
        yg, sg = groups.get(industry[k], (ybar, sbar))
        out[k] = yg - b * sg + b * size[k]
    return out


def orthogonalize(y: np.ndarray, regressors: Sequence[np.ndarray], v: np.ndarray, estu: np.ndarray) -> np.ndarray:
    """Residual y - a - Z b of the v-weighted regression with intercept of y on Z over the ESTU, for every row.

    ASSUMPTION: rows missing y or a regressor get NaN; NaN everywhere when the ESTU sample has no more rows
    than regressors.
    """
    y = np.asarray(y, dtype=np.float64)
    z = np.column_stack([np.asarray(r, dtype=np.float64) for r in regressors])
    ok = np.isfinite(y) & np.all(np.isfinite(z), axis=1)
    sample = estu & ok & np.isfinite(v)
    out = np.full_like(y, np.nan)
    if sample.sum() <= z.shape[1]:
        return out
    w = v[sample] / v[sample].sum()
    zs, ys = z[sample], y[sample]
    zbar = w @ zs
    ybar = w @ ys
    zc, yc = zs - zbar, ys - ybar
    a_mat = zc.T @ (w[:, None] * zc)
    c_vec = zc.T @ (w * yc)
    b = np.linalg.lstsq(a_mat, c_vec, rcond=None)[0]
    a = ybar - zbar @ b
    out[ok] = y[ok] - a - z[ok] @ b
    return out


def cross_section_styles(
    raw: Mapping[str, np.ndarray],
    cap: np.ndarray,
    industry: np.ndarray,
    estu: np.ndarray,
    params: Params = Params(),
) -> dict[str, np.ndarray]:
    """Steps 1-7 of the choices page on one date's rows. ``raw`` maps descriptor name -> values."""
    p = params
    cap = np.asarray(cap, dtype=np.float64)
    estu = np.asarray(estu, dtype=bool)
    v = np.sqrt(np.where(cap > 0, cap, np.nan))

    # Steps 1-2 per raw descriptor.
    clean = {
        d: standardize_clip_standardize(
            remove_outliers(raw[d], estu, p.outlier_mad_multiple, p.mad_scale), cap, estu, p.clip
        )
        for d in DESCRIPTORS
    }
    # Size: steps 1-2 then 6 (never filled: it is the fill's regressor).
    # ASSUMPTION: LNCAP goes through the outlier step like every descriptor; a removed ESTU value stays null.
    size = standardize(clean["lncap"], cap, estu)
    styles: dict[str, np.ndarray] = {"size": size}
    for style in (s for s in STYLE_COMPOSITION if s != "size"):  # Beta first, then the others
        comp = STYLE_COMPOSITION[style]
        if len(comp) == 1:
            x = clean[next(iter(comp))]
        else:
            x = combine([clean[d] for d in comp], list(comp.values()))  # step 3
            x = standardize_clip_standardize(x, cap, estu, p.clip)  # step 4
        x = fill_missing(x, size, industry, v, estu)  # step 5
        styles[style] = standardize(x, cap, estu)  # step 6
    # Step 7, from the final Size and Beta.
    styles["volatility"] = standardize(orthogonalize(styles["volatility"], [styles["beta"], size], v, estu), cap, estu)
    styles["liquidity"] = standardize(orthogonalize(styles["liquidity"], [size], v, estu), cap, estu)
    styles["non_linear_size"] = standardize(orthogonalize(size**3, [size], v, estu), cap, estu)
    return {s: styles[s] for s in STYLES}


def exposures(desc: pd.DataFrame, params: Params = Params()) -> pd.DataFrame:
    """The ten style exposures per (ts_code, trade_date), from the raw descriptors of ``descriptors()``."""
    frames = []
    for date, g in desc.groupby("trade_date", sort=True):
        styles = cross_section_styles(
            {d: g[d].to_numpy(dtype=np.float64) for d in DESCRIPTORS},
            g["total_mv_cny"].to_numpy(dtype=np.float64),
            g["industry"].to_numpy(dtype=object),
            g["in_estu"].to_numpy(dtype=bool),
            params,
        )
        f = pd.DataFrame(
            {
                "ts_code": g["ts_code"].to_numpy(),
                "trade_date": date,
                "in_estu": g["in_estu"].to_numpy(dtype=bool),
                "weight": g["weight"].to_numpy(dtype=np.float64),
                "industry": g["industry"].to_numpy(dtype=object),
                **styles,
            }
        )
        frames.append(f)
    out = pd.concat(frames, ignore_index=True)
    out["trade_date"] = out["trade_date"].astype("datetime64[ns]")
    out["industry"] = pd.Series([None if pd.isna(x) else x for x in out["industry"]], dtype=object)
    return out
