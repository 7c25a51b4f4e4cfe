"""Quarterly financial statements (income, balancesheet, cashflow) with Tushare's timing traps.

Shapes: ``(N, K)`` arrays over stocks and a global grid of quarters ``k`` (fiscal year ``first_year + k // 4``,
quarter ``k % 4``: 0 = Q1 (end 0331), 1 = H1 (0630), 2 = 9M (0930), 3 = FY (1231)). Amounts are CNY;
income and cash-flow lines are cumulative from the start of the fiscal year (YTD), balance lines are levels at
the period end.

Economics per stock: annual sales grow at the planted rate ``growth`` (decaying towards the market mean away
from the reference year, plus noise), quarterly sales follow a seasonal pattern, attributable net income is
sales times a noisy planted margin (losses happen), operating cash flow is net income plus depreciation plus
accrual noise, book equity accumulates retained earnings (minus planned cash dividends, plus IPO proceeds),
liabilities are total equity times (planted leverage multiple - 1) times a small noise, so total assets are about
total equity times the multiple and never below it, and liabilities (never negative) split into current and
non-current (long-term borrowings and bonds inside the non-current part).

Timing: periods exist from ``start year - 6`` (or three fiscal years before an IPO); announcement dates follow
the real deadlines (Q1 by 30 Apr, H1 by 31 Aug, 9M by 31 Oct, FY by 30 Apr of the next year, FY often the same
day as the next Q1), with late reports, missing periods, restatements (a second version with a later
f_ann_date and the same ann_date) and null f_ann_date rows. Pre-IPO periods are announced together in the
prospectus, shortly before listing.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .universe import Universe

QUARTER_ENDS = ("03-31", "06-30", "09-30", "12-31")
SEASON = np.array([0.22, 0.25, 0.25, 0.28])  # share of annual sales per quarter
MEAN_GROWTH = 0.08  # market-wide annual log sales growth
GROWTH_DECAY = 0.85  # per year, of a stock's deviation from MEAN_GROWTH away from its reference year
YEARS_BEFORE_START = 6
YEARS_BEFORE_IPO = 3

INCOME_LINES = (
    "basic_eps",
    "diluted_eps",
    "total_revenue",
    "revenue",
    "oper_cost",
    "operate_profit",
    "total_profit",
    "income_tax",
    "n_income",
    "n_income_attr_p",
    "minority_gain",
)
BALANCE_LINES = (
    "total_share",
    "total_assets",
    "total_cur_assets",
    "total_nca",
    "money_cap",
    "total_cur_liab",
    "total_ncl",
    "total_liab",
    "lt_borr",
    "bond_payable",
    "oth_eqt_tools_p_shr",
    "total_hldr_eqy_exc_min_int",
    "minority_int",
    "total_liab_hldr_eqy",
)
CASHFLOW_LINES = ("n_cashflow_act", "n_cashflow_inv_act", "n_cash_flows_fnc_act", "n_incr_cash_cash_equ")
PER_SHARE_LINES = ("basic_eps", "diluted_eps", "total_share")  # filled after the price simulation


@dataclass
class Statements:
    """All statement versions. ``values[v][line]`` is (N, K) for version v (0 original, 1 restated)."""

    first_year: int
    end_dates: np.ndarray  # (K,) datetime64[D]
    exists: np.ndarray  # (N, K) bool: the period has an original version in the dump
    ann: np.ndarray  # (N, K) datetime64[D], ann_date (shared by both versions)
    f_ann0: np.ndarray  # (N, K) datetime64[D], f_ann_date of the original (NaT: null in the data)
    f_ann1: np.ndarray  # (N, K) datetime64[D], f_ann_date of the restatement (NaT: none)
    pre_ipo: np.ndarray  # (N, K) bool, period ended before the listing (fewer shares after an IPO in the history)
    values: tuple[dict[str, np.ndarray], dict[str, np.ndarray]]
    dividends: tuple[np.ndarray, np.ndarray, np.ndarray]  # (stock, planned ex date, amount CNY)
    traps: dict[str, list[dict]] = field(default_factory=dict)

    @property
    def known0(self) -> np.ndarray:
        """Date the original version became known: coalesce(f_ann_date, ann_date)."""
        return np.where(np.isnat(self.f_ann0), self.ann, self.f_ann0)


def _year_of(d: np.ndarray) -> np.ndarray:
    return d.astype("datetime64[Y]").astype(np.int64) + 1970


def generate_statements(rng: np.random.Generator, uni: Universe, open_days: np.ndarray) -> Statements:
    """Draw every statement version of every stock; see the module docstring for the rules."""
    n = uni.n
    t_days = len(open_days)
    start, last_day = open_days[0], open_days[-1]
    y_start = int(_year_of(start))
    first_year = y_start - YEARS_BEFORE_START
    last_year = int(_year_of(last_day))
    n_years = last_year - first_year + 1
    k_all = 4 * n_years
    years = first_year + np.arange(k_all) // 4
    qtr = np.arange(k_all) % 4
    end_dates = np.array([f"{y}-{QUARTER_ENDS[q]}" for y, q in zip(years, qtr, strict=True)], dtype="datetime64[D]")

    ipo = uni.list_idx >= 0
    list_year = _year_of(uni.list_date)
    first_fy = np.maximum(first_year, list_year - YEARS_BEFORE_IPO)
    first_k = 4 * (first_fy - first_year)
    limit_date = np.where(uni.delisted, open_days[np.minimum(uni.end_idx, t_days - 1)], last_day)
    kk = np.arange(k_all)[None, :]
    exists = (kk >= first_k[:, None]) & (end_dates[None, :] < limit_date[:, None])

    # ---- sales, growth, margins ----
    ref_date = np.where(ipo, uni.list_date, start)
    y_ref = (_year_of(ref_date) - first_year).astype(np.int64)
    yy = np.arange(n_years)[None, :]
    dev = (uni.growth - MEAN_GROWTH)[:, None] * GROWTH_DECAY ** np.abs(yy - y_ref[:, None])
    g = MEAN_GROWTH + dev + rng.normal(0.0, 0.06, size=(n, n_years))
    cum = np.cumsum(g, axis=1)
    ln_sales_year = np.log(uni.cap0 / uni.ps0)[:, None] + cum - cum[np.arange(n), y_ref][:, None]
    sales_q = (
        np.exp(np.repeat(ln_sales_year, 4, axis=1))
        * SEASON[qtr][None, :]
        * np.exp(rng.normal(0.0, 0.04, size=(n, k_all)))
    )
    year_shock = np.repeat(rng.normal(0.0, 0.02, size=(n, n_years)), 4, axis=1)
    margin_q = uni.margin[:, None] + year_shock + rng.normal(0.0, 0.03, size=(n, k_all))
    margin_q += np.where(qtr == 3, rng.normal(0.0, 0.04, size=(n, k_all)), 0.0)  # year-end write-offs
    ni_attr = margin_q * sales_q
    minority_share = rng.uniform(0.0, 0.08, size=n)
    n_income = ni_attr / (1.0 - minority_share[:, None])
    total_profit = np.where(n_income > 0, n_income / 0.75, n_income)
    operate_profit = total_profit * (1.0 + rng.normal(0.0, 0.03, size=(n, k_all)))
    rev_share = rng.uniform(0.97, 1.0, size=n)
    oper_cost = sales_q * np.clip(0.85 - margin_q, 0.05, 1.5)
    cfo = ni_attr + 0.04 * sales_q + 0.08 * sales_q * rng.normal(size=(n, k_all))
    cfi = -(0.05 + 0.03 * rng.random((n, k_all))) * sales_q
    cff = 0.03 * sales_q * rng.normal(size=(n, k_all))

    # ---- planned cash dividends (booked in the quarter of the planned ex date) ----
    fy_ni = ni_attr.reshape(n, n_years, 4).sum(axis=2)
    pays = (fy_ni > 0) & (rng.random((n, n_years)) < uni.pay_prob[:, None])
    div_amount = np.where(pays, uni.payout[:, None] * fy_ni, 0.0)
    june10 = np.array([f"{first_year + y + 1}-06-10" for y in range(n_years)], dtype="datetime64[D]")
    div_date = june10[None, :] + rng.integers(0, 45, size=(n, n_years))
    k_div = np.searchsorted(end_dates, div_date.ravel(), side="left").reshape(n, n_years)
    div_q = np.zeros((n, k_all))
    rows, cols = np.nonzero(pays & (k_div < k_all))
    np.add.at(div_q, (rows, k_div[rows, cols]), div_amount[rows, cols])

    # ---- book equity and the balance sheet ----
    k_ref = np.searchsorted(end_dates, ref_date, side="right") - 1
    k_ref = np.clip(k_ref, 0, k_all - 1)
    be_ref = uni.cap0 / uni.pb0
    ipo_q = np.zeros((n, k_all))
    k_ipo = np.clip(np.searchsorted(end_dates, uni.list_date, side="left"), 0, k_all - 1)
    ii = np.flatnonzero(ipo)
    ipo_q[ii, k_ipo[ii]] = uni.price0[ii] * uni.shares0[ii] * uni.new_share_frac[ii]
    inc = ni_attr - div_q + ipo_q
    c_inc = np.cumsum(inc, axis=1)
    be = be_ref[:, None] + c_inc - c_inc[np.arange(n), k_ref][:, None]
    be = np.maximum(be, 0.1 * be_ref[:, None])  # equity injections keep book equity positive
    pe = np.where(uni.has_preferred, 0.08 * be_ref, 0.0)[:, None] * np.ones((1, k_all))
    eq = be + pe
    minority = minority_share[:, None] * be
    te = eq + minority
    # the noise moves the liabilities, not the assets: assets = equity x leverage x noise would give negative
    # liabilities whenever the noise pulls a multiple near 1 (the planted floor is 1.05) below 1
    liab = te * (uni.leverage - 1.0)[:, None] * np.exp(rng.normal(0.0, 0.03, size=(n, k_all)))
    ta = te + liab
    cur_share = rng.uniform(0.45, 0.9, size=n)[:, None]
    cur = liab * cur_share
    ncl = liab - cur
    lt_borr = ncl * rng.uniform(0.3, 0.7, size=n)[:, None]
    bond = ncl * np.where(rng.random(n) < 0.4, rng.uniform(0.05, 0.3, size=n), 0.0)[:, None]
    ca = ta * rng.uniform(0.3, 0.7, size=n)[:, None]

    def ytd(x: np.ndarray) -> np.ndarray:
        return np.cumsum(x.reshape(n, n_years, 4), axis=2).reshape(n, k_all)

    v0: dict[str, np.ndarray] = {
        "total_revenue": ytd(sales_q),
        "revenue": ytd(sales_q * rev_share[:, None]),
        "oper_cost": ytd(oper_cost),
        "operate_profit": ytd(operate_profit),
        "total_profit": ytd(total_profit),
        "income_tax": ytd(total_profit - n_income),
        "n_income": ytd(n_income),
        "n_income_attr_p": ytd(ni_attr),
        "minority_gain": ytd(n_income - ni_attr),
        "total_assets": ta,
        "total_cur_assets": ca,
        "total_nca": ta - ca,
        "money_cap": 0.3 * ca,
        "total_cur_liab": cur,
        "total_ncl": ncl,
        "total_liab": liab,
        "lt_borr": lt_borr,
        "bond_payable": bond,
        "oth_eqt_tools_p_shr": pe,
        "total_hldr_eqy_exc_min_int": eq,
        "minority_int": minority,
        "total_liab_hldr_eqy": ta,
        "n_cashflow_act": ytd(cfo),
        "n_cashflow_inv_act": ytd(cfi),
        "n_cash_flows_fnc_act": ytd(cff),
        "n_incr_cash_cash_equ": ytd(cfo + cfi + cff),
    }
    # restated versions: earnings and cash flow revised by a few percent, equity and liabilities rescaled
    f_ni = 1.0 + rng.normal(0.0, 0.05, size=(n, k_all))
    f_rev = 1.0 + rng.normal(0.0, 0.01, size=(n, k_all))
    f_eq = 1.0 + rng.normal(0.0, 0.02, size=(n, k_all))
    f_li = 1.0 + rng.normal(0.0, 0.02, size=(n, k_all))
    v1 = {key: val.copy() for key, val in v0.items()}
    for key in (
        "operate_profit",
        "total_profit",
        "income_tax",
        "n_income",
        "n_income_attr_p",
        "minority_gain",
        "n_cashflow_act",
        "n_incr_cash_cash_equ",
    ):
        v1[key] = v0[key] * f_ni
    for key in ("total_revenue", "revenue", "oper_cost"):
        v1[key] = v0[key] * f_rev
    for key in ("oth_eqt_tools_p_shr", "total_hldr_eqy_exc_min_int", "minority_int"):
        v1[key] = v0[key] * f_eq
    for key in ("total_cur_liab", "total_ncl", "total_liab", "lt_borr", "bond_payable"):
        v1[key] = v0[key] * f_li
    v1["total_assets"] = v1["total_liab"] + v1["total_hldr_eqy_exc_min_int"] + v1["minority_int"]
    v1["total_liab_hldr_eqy"] = v1["total_assets"]
    v1["total_cur_assets"] = v0["total_cur_assets"] * v1["total_assets"] / v0["total_assets"]
    v1["total_nca"] = v1["total_assets"] - v1["total_cur_assets"]
    v1["money_cap"] = 0.3 * v1["total_cur_assets"]
    for vals in (v0, v1):
        for key in vals:
            vals[key] = np.round(vals[key], 2)

    # ---- announcement dates: a window per quarter, the FY skewed towards its deadline ----
    def on(year_offset: int, month_day: str) -> np.ndarray:
        return np.array([f"{y + year_offset}-{month_day}" for y in years], dtype="datetime64[D]")

    win_lo = np.select([qtr == 0, qtr == 1, qtr == 2], [on(0, "04-15"), on(0, "07-20"), on(0, "10-15")], on(1, "01-20"))
    deadline = np.select(
        [qtr == 0, qtr == 1, qtr == 2], [on(0, "04-30"), on(0, "08-31"), on(0, "10-31")], on(1, "04-30")
    )
    width = (deadline - win_lo).astype(np.int64) + 1
    skew = np.where(qtr == 3, 0.6, 1.0)
    ann = win_lo[None, :] + np.floor(rng.random((n, k_all)) ** skew[None, :] * width[None, :]).astype(np.int64)
    # the FY and the next Q1 are often announced the same day
    fy_cols = np.flatnonzero((qtr == 3) & (np.arange(k_all) + 1 < k_all))
    same_day = rng.random((n, len(fy_cols))) < 0.4
    ann[:, fy_cols] = np.where(same_day, ann[:, fy_cols + 1], ann[:, fy_cols])
    late = rng.random((n, k_all)) < 0.015
    ann = np.where(late, deadline[None, :] + rng.integers(1, 61, size=(n, k_all)), ann)
    # periods before the listing: all published in the prospectus, 12..25 days before listing
    prospectus = uni.list_date - rng.integers(12, 26, size=n)
    pre_ipo = end_dates[None, :] < uni.list_date[:, None]
    in_prospectus = pre_ipo & (end_dates[None, :] <= (prospectus - 30)[:, None])
    ann = np.where(in_prospectus, prospectus[:, None], ann).astype("datetime64[D]")
    late &= ~in_prospectus

    # ---- versions and holes ----
    null_f = rng.random((n, k_all)) < 0.01
    restate = rng.random((n, k_all)) < 0.02
    restate_lag = rng.integers(20, 401, size=(n, k_all))
    missing = rng.random((n, k_all)) < 0.007
    forced_restatement: tuple[int, int] | None = None
    if n >= 3:
        # guarantee each statement trap on stocks listed throughout, on periods known before the history;
        # the restatement becomes known in the middle of the history
        cands = np.flatnonzero((~ipo) & (~uni.delisted) & (first_fy == first_year))
        if len(cands):
            pick = rng.choice(cands, size=min(4, len(cands)), replace=False)
            k_fy = 4 * (y_start - 2 - first_year) + 3  # the FY two years before the start
            j = pick[0]
            restate[j, k_fy] = True
            forced_restatement = (int(j), k_fy)
            missing[pick[min(1, len(pick) - 1)], k_fy - 2] = True
            j = pick[min(2, len(pick) - 1)]
            late[j, k_fy - 5] = True
            ann[j, k_fy - 5] = deadline[k_fy - 5] + 30
            null_f[pick[min(3, len(pick) - 1)], k_fy - 7] = True
    missing &= ~(restate | null_f | late)
    f_ann0 = np.where(null_f, np.datetime64("NaT"), ann).astype("datetime64[D]")
    f_ann1 = np.where(restate, ann + restate_lag, np.datetime64("NaT")).astype("datetime64[D]")
    if forced_restatement is not None:
        f_ann1[forced_restatement] = open_days[round(0.5 * (t_days - 1))]
    # the dump ends on the last day of the history, or the day before a delisting
    cutoff = np.where(uni.delisted, limit_date - 1, last_day)[:, None]
    exists &= ann <= cutoff
    missing &= exists
    exists &= ~missing
    f_ann1 = np.where(exists & (f_ann1 <= cutoff), f_ann1, np.datetime64("NaT")).astype("datetime64[D]")
    has1 = ~np.isnat(f_ann1)
    null_f &= exists
    late &= exists
    traps: dict[str, list[dict]] = {}

    def listing(mask: np.ndarray, with_f1: bool = False) -> list[dict]:
        r, c = np.nonzero(mask)
        out = []
        for a, b in zip(r, c, strict=True):
            d = {
                "ts_code": str(uni.ts_code[a]),
                "end_date": str(end_dates[b]).replace("-", ""),
                "ann_date": str(ann[a, b]).replace("-", ""),
            }
            if with_f1:
                d["restated_f_ann_date"] = str(f_ann1[a, b]).replace("-", "")
            out.append(d)
        return out

    traps["restatements"] = listing(has1, with_f1=True)
    traps["late_reports"] = listing(late)
    traps["missing_periods"] = [
        {"ts_code": str(uni.ts_code[a]), "end_date": str(end_dates[b]).replace("-", "")}
        for a, b in zip(*np.nonzero(missing), strict=True)
    ]
    traps["null_f_ann_date"] = listing(null_f)

    d_stock, d_year = np.nonzero(pays)
    div_dates = np.maximum(div_date[d_stock, d_year], ann[d_stock, 4 * d_year + 3] + 20)
    return Statements(
        first_year=first_year,
        end_dates=end_dates,
        exists=exists,
        ann=ann.astype("datetime64[D]"),
        f_ann0=f_ann0,
        f_ann1=f_ann1,
        pre_ipo=pre_ipo,
        values=(v0, v1),
        dividends=(d_stock.astype(np.int64), div_dates.astype("datetime64[D]"), div_amount[d_stock, d_year]),
        traps=traps,
    )


def shares_at_period_end(st: Statements, uni: Universe, split_stock: np.ndarray, split_dates: np.ndarray) -> np.ndarray:
    """Total shares (N, K) at each period end: shares0 (fewer before an IPO) doubled by every bonus issue
    whose ex date is on or before the period end."""
    n, _k_all = st.exists.shape
    base = np.where(
        st.pre_ipo,
        np.round(uni.shares0 * (1.0 - uni.new_share_frac) / 100.0)[:, None] * 100.0,
        uni.shares0[:, None].astype(float),
    )
    order = np.lexsort((split_dates, split_stock))
    s_stock, s_date = split_stock[order], split_dates[order]
    # count splits with (stock, date) <= (n, end_date): a searchsorted over a combined key
    day0 = np.datetime64("1900-01-01")
    span = 100_000
    key = s_stock * span + (s_date - day0).astype(np.int64)
    q = np.arange(n)[:, None] * span + (st.end_dates - day0).astype(np.int64)[None, :]
    before = np.searchsorted(key, q, side="right") - np.searchsorted(key, np.arange(n)[:, None] * span)
    return base * 2.0**before


def statement_tables(st: Statements, uni: Universe, shares: np.ndarray) -> dict[str, dict[str, np.ndarray]]:
    """Columns of the ``income``, ``balancesheet`` and ``cashflow`` tables, one row per version.

    Rows are sorted by ts_code, end_date, version (original first). ``update_flag`` is '1' on the newest
    version of each period, '0' on an older one. ``shares`` (N, K) gives ``total_share`` and the EPS lines.
    """
    r0, c0 = np.nonzero(st.exists)
    has1 = ~np.isnat(st.f_ann1[r0, c0])
    r1, c1 = r0[has1], c0[has1]
    rows = np.concatenate([r0, r1])
    cols = np.concatenate([c0, c1])
    ver = np.concatenate([np.zeros(len(r0), dtype=np.int64), np.ones(len(r1), dtype=np.int64)])
    order = np.lexsort((ver, cols, rows))
    rows, cols, ver = rows[order], cols[order], ver[order]
    newest = np.where(ver == 1, True, np.isnat(st.f_ann1[rows, cols]))

    def yyyymmdd(d: np.ndarray) -> np.ndarray:
        out = np.full(len(d), None, dtype=object)
        ok = ~np.isnat(d)
        out[ok] = np.char.replace(np.datetime_as_string(d[ok], unit="D"), "-", "").astype(object)
        return out

    f_ann = np.where(ver == 1, st.f_ann1[rows, cols], st.f_ann0[rows, cols])
    keys = {
        "ts_code": uni.ts_code[rows],
        "ann_date": yyyymmdd(st.ann[rows, cols]),
        "f_ann_date": yyyymmdd(f_ann),
        "end_date": yyyymmdd(st.end_dates[cols]),
        "report_type": np.full(len(rows), "1", dtype=object),
        "comp_type": np.full(len(rows), "1", dtype=object),
        "end_type": (cols % 4 + 1).astype(str).astype(object),
        "update_flag": np.where(newest, "1", "0").astype(object),
    }

    def line(name: str) -> np.ndarray:
        if name == "total_share":
            return shares[rows, cols]
        if name in ("basic_eps", "diluted_eps"):
            ni = np.where(
                ver == 1, st.values[1]["n_income_attr_p"][rows, cols], st.values[0]["n_income_attr_p"][rows, cols]
            )
            return np.round(ni / shares[rows, cols], 4)
        return np.where(ver == 1, st.values[1][name][rows, cols], st.values[0][name][rows, cols])

    return {
        table: {**keys, **{name: line(name) for name in lines}}
        for table, lines in (("income", INCOME_LINES), ("balancesheet", BALANCE_LINES), ("cashflow", CASHFLOW_LINES))
    }
