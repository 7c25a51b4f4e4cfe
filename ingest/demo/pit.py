"""Point-in-time fundamentals: what a correct pipeline knows about each stock on each trading day.

Rules (data-sources.md): a statement version is usable from the first trading day strictly after
``coalesce(f_ann_date, ann_date)``. As of a day, take the newest *period* already announced and, for every
period used, its newest usable version (a late restatement of an old period never replaces a newer period, but
it does revise the old period wherever that period is used, e.g. as the prior fiscal year of a TTM sum).

Per stock and day the state is a vector of ``PIT_FIELDS`` (CNY unless noted):

- ``be`` book common equity = total_hldr_eqy_exc_min_int - oth_eqt_tools_p_shr of the newest period;
  ``pe`` preferred equity (oth_eqt_tools_p_shr); ``eq`` total_hldr_eqy_exc_min_int; ``ncl`` total_ncl (long-term
  debt LD); ``tcl`` total_cur_liab; ``ta`` total_assets.
- ``ttm_ni``, ``ttm_cfo``, ``ttm_rev``: trailing twelve months of n_income_attr_p, n_cashflow_act and
  total_revenue: the period itself if it is a FY, else last FY + current YTD - prior-year same YTD; when one of
  those is missing, the current YTD annualized (x 4 / quarters).
- ``fy_ni``, ``fy_rev``: the newest announced fiscal year's values.
- ``egro``, ``sgro``: OLS slope of the newest announced FY and up to four FYs before it (n_income_attr_p,
  total_revenue) on the fiscal year, divided by the mean absolute value, using the FYs available (at least 3).
  Totals instead of per-share values: the ratio is scale-free, so this equals split-adjusted EPS / sales per share.

The state changes only on days when some version becomes usable, so it is computed once per (stock, day)
event, vectorized over all events, before the price simulation.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .fundamentals import Statements

PIT_FIELDS = ("be", "pe", "eq", "ncl", "tcl", "ta", "ttm_ni", "ttm_cfo", "ttm_rev", "fy_ni", "fy_rev", "egro", "sgro")
GROWTH_YEARS = 5
GROWTH_MIN_YEARS = 3


@dataclass
class PitEvents:
    """State changes sorted by (day, stock): from ``day`` on, stock ``stock`` has state ``values[i]``."""

    day: np.ndarray  # (E,) int64 trading-day index
    stock: np.ndarray  # (E,) int64
    values: np.ndarray  # (E, len(PIT_FIELDS)) float64, NaN where unknown


def usable_day(dates: np.ndarray, open_days: np.ndarray) -> np.ndarray:
    """Index of the first open day strictly after each date (``len(open_days)`` or more: not in the history;
    NaT -> len(open_days) + 1). Dates before the history map to 0."""
    out = np.searchsorted(open_days, dates, side="right").astype(np.int64)
    return np.where(np.isnat(dates), len(open_days) + 1, out)


def _latest(
    stock: np.ndarray, day: np.ndarray, k: np.ndarray, n_k: int, span: int, q_stock: np.ndarray, q_day: np.ndarray
) -> np.ndarray:
    """For each query (q_stock, q_day): the largest k among rows of that stock with day <= q_day, else -1."""
    order = np.lexsort((day, stock))
    key = stock[order] * span + day[order]
    running = np.maximum.accumulate(stock[order] * n_k + k[order])
    pos = np.searchsorted(key, q_stock * span + q_day, side="right") - 1
    ok = pos >= 0
    ok[ok] &= stock[order][pos[ok]] == q_stock[ok]
    out = np.full(len(q_stock), -1, dtype=np.int64)
    out[ok] = running[pos[ok]] - q_stock[ok] * n_k
    return out


def pit_events(st: Statements, open_days: np.ndarray) -> PitEvents:
    """All point-in-time state changes of every stock inside the history (day 0 holds the initial state)."""
    n, n_k = st.exists.shape
    t_days = len(open_days)
    span = t_days + 2
    u0 = np.where(st.exists, usable_day(st.known0, open_days), span)
    u1 = np.where(st.exists, usable_day(st.f_ann1, open_days), span)
    stock_grid = np.broadcast_to(np.arange(n)[:, None], (n, n_k))
    k_grid = np.broadcast_to(np.arange(n_k)[None, :], (n, n_k))

    # events: every (stock, day) on which a version becomes usable, plus day 0 for every stock
    keys = np.concatenate(
        [
            (stock_grid * span + np.minimum(u0, span - 1))[u0 < t_days],
            (stock_grid * span + np.minimum(u1, span - 1))[u1 < t_days],
            np.arange(n) * span,
        ]
    )
    keys = np.unique(keys)
    e_stock, e_day = keys // span, keys % span

    ex = st.exists
    latest = _latest(stock_grid[ex], u0[ex], k_grid[ex], n_k, span, e_stock, e_day)
    fy = ex & (k_grid % 4 == 3)
    latest_fy = _latest(stock_grid[fy], u0[fy], k_grid[fy], n_k, span, e_stock, e_day)

    v0, v1 = st.values

    def get(line: str, k: np.ndarray) -> np.ndarray:
        ok = (k >= 0) & (k < n_k)
        kc = np.clip(k, 0, n_k - 1)
        ok &= u0[e_stock, kc] <= e_day
        val = np.where(u1[e_stock, kc] <= e_day, v1[line][e_stock, kc], v0[line][e_stock, kc])
        return np.where(ok, val, np.nan)

    def ttm(line: str) -> np.ndarray:
        q = latest % 4
        cur = get(line, latest)
        full = get(line, latest - q - 1) + cur - get(line, latest - 4)
        annualized = cur * 4.0 / (q + 1)
        out = np.where(q == 3, cur, np.where(np.isnan(full), annualized, full))
        return np.where(latest >= 0, out, np.nan)

    def growth(line: str) -> np.ndarray:
        ys = np.stack([get(line, latest_fy - 4 * j) for j in range(GROWTH_YEARS)], axis=1)
        ys[latest_fy < 0] = np.nan
        xs = -np.arange(GROWTH_YEARS, dtype=float)[None, :] * np.ones_like(ys)
        m = ~np.isnan(ys)
        cnt = m.sum(axis=1)
        with np.errstate(invalid="ignore", divide="ignore"):
            xbar = np.where(m, xs, 0).sum(axis=1) / cnt
            ybar = np.where(m, ys, 0).sum(axis=1) / cnt
            dx = np.where(m, xs - xbar[:, None], 0.0)
            dy = np.where(m, ys - ybar[:, None], 0.0)
            slope = (dx * dy).sum(axis=1) / (dx * dx).sum(axis=1)
            scale = np.where(m, np.abs(ys), 0).sum(axis=1) / cnt
            out = slope / scale
        return np.where((cnt >= GROWTH_MIN_YEARS) & (scale > 0), out, np.nan)

    eq = get("total_hldr_eqy_exc_min_int", latest)
    pe = get("oth_eqt_tools_p_shr", latest)
    cols = {
        "be": eq - pe,
        "pe": pe,
        "eq": eq,
        "ncl": get("total_ncl", latest),
        "tcl": get("total_cur_liab", latest),
        "ta": get("total_assets", latest),
        "ttm_ni": ttm("n_income_attr_p"),
        "ttm_cfo": ttm("n_cashflow_act"),
        "ttm_rev": ttm("total_revenue"),
        "fy_ni": get("n_income_attr_p", latest_fy),
        "fy_rev": get("total_revenue", latest_fy),
        "egro": growth("n_income_attr_p"),
        "sgro": growth("total_revenue"),
    }
    values = np.stack([cols[f] for f in PIT_FIELDS], axis=1)
    order = np.lexsort((e_stock, e_day))
    return PitEvents(day=e_day[order], stock=e_stock[order], values=values[order])
