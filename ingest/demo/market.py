"""The day-by-day market simulation: prices, corporate actions, volumes, valuations, exposures and indices.

One loop over trading days, vectorized over stocks. It yields one ``YearBlock`` per calendar year (dense
``(days, stocks)`` matrices plus masks), so a caller can write each year and drop it: memory stays bounded by
one or two years whatever the length of the history.

Conventions (Tushare units are applied by the writer, see ``generate.py``):

- prices in CNY with 2 decimals, rounded half up; the daily limit price is ``round(pre_close * (1 ± limit), 2)``
  and a close outside it is clipped (``clipped``); closes never go below 1.00 (also ``clipped``);
- ``pre_close`` is the previous close adjusted for the day's ex-rights: a 10-for-10 bonus issue halves it
  (shares double), a cash dividend d per share subtracts d; ``adj_factor`` is multiplied by
  ``previous close / pre_close`` on that day, so ``close * adj_factor`` moves exactly by ``close / pre_close``;
- a stock's first row has no factor-model return (``modeled`` False): day 0 of the history (a small random move),
  or an IPO (issue price as pre_close, a first-day pop capped at +44% on the main board; STAR and ChiNext
  have no limit for their first 5 rows, BJ for its first row);
- volumes: daily float turnover = tau_n * lognormal noise * (1 + 4|r|), lower on limit-locked days;
  vol = turnover * float shares in lots of 100 (at least 1 lot); amount = vol * 100 * vwap / 1000 with
  vwap = (open + high + low + close) / 4, strictly inside [low, high] unless high == low.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

import numpy as np

from . import planted as pl
from . import reference as ref
from .pit import PIT_FIELDS, PitEvents
from .universe import LISTING_SUSPENSION, Universe

N_IND = len(ref.SW2021_L1)
FACTORS = ("country", *tuple(code for code, *_ in ref.SW2021_L1), *pl.STYLES)
PRICE_COLUMNS = ("open", "high", "low", "close", "pre_close", "vol", "amount")
BASIC_COLUMNS = (
    "turnover_rate",
    "turnover_rate_f",
    "volume_ratio",
    "pe",
    "pe_ttm",
    "pb",
    "ps",
    "ps_ttm",
    "dv_ratio",
    "dv_ttm",
    "total_share",
    "float_share",
    "free_share",
)
LOCKUP_DAYS = 250  # trading days after an IPO until the locked shares float
SPLIT_COOLDOWN = 120  # trading days between two bonus issues of a stock
SPLIT_PROB = 0.05  # per day, once the close is above the stock's split_price
DIVIDEND_MIN_PRICE_AFTER = 1.2  # CNY; a dividend that would leave a lower pre_close is skipped
LOCKED_PROB = 0.35  # probability that a limit close trades at one price all day (一字板)
FIRST_ROW_VOL = 0.015  # daily vol of a pre-listed stock's first (unmodeled) row


@dataclass(frozen=True)
class IndexSpec:
    ts_code: str
    base: float
    members: str  # 'sse', 'szse', 'chinext' or 'top' (largest caps, reconstituted in January and July)


INDEXES = (
    IndexSpec("000001.SH", 3243.76, "sse"),
    IndexSpec("000300.SH", 3535.23, "top"),
    IndexSpec("399001.SZ", 13699.97, "szse"),
    IndexSpec("399006.SZ", 1000.0, "chinext"),
)
INDEX_COLUMNS = ("close", "open", "high", "low", "pre_close", "vol", "amount")


def round2(x: np.ndarray) -> np.ndarray:
    """Round half up to 2 decimals (with a tiny guard so decimal halves like 11.055 round up)."""
    return np.floor(x * 100.0 + 0.5 + 1e-7) / 100.0


def limit_prices(pre_close: np.ndarray, limit: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Daily (down, up) limit prices: round(pre_close * (1 -/+ limit), 2), the down limit at least 0.01."""
    return np.maximum(round2(pre_close * (1.0 - limit)), 0.01), round2(pre_close * (1.0 + limit))


@dataclass
class YearBlock:
    """One calendar year of simulated rows. Matrices are (D, N) for D days of the year and N stocks."""

    year: int
    first_day: int  # index of the block's first day in the history
    days: np.ndarray  # (D,) datetime64[D]
    trading: np.ndarray  # bool: a daily / daily_basic / exposure row exists
    listed: np.ndarray  # bool: an adj_factor row exists
    px: dict[str, np.ndarray]  # PRICE_COLUMNS; CNY, vol in lots, amount in thousand CNY
    basic: dict[str, np.ndarray]  # BASIC_COLUMNS; percent, ratios, shares in 10k
    adj: np.ndarray
    exposures: np.ndarray  # (D, N, 10) float32
    l1: np.ndarray  # (D, N) int16 industry at the close
    specific_return: np.ndarray
    specific_vol: np.ndarray
    modeled: np.ndarray  # bool: the return comes from the factor model
    clipped: np.ndarray  # bool: the model return was clipped by the price limit or the 1.00 floor
    index: dict[str, dict[str, np.ndarray]]  # index code -> INDEX_COLUMNS -> (D,)


@dataclass
class SimulationLog:
    """What the simulation decided, for the statements (share counts) and the ground truth."""

    factor_returns: np.ndarray  # (T, len(FACTORS)); NaN on day 0 (no returns yet)
    splits: list[tuple[int, int]] = field(default_factory=list)  # (stock, day)
    dividends: list[tuple[int, int, float]] = field(default_factory=list)  # (stock, day, CNY per share)
    limit_hits: int = 0
    floor_hits: int = 0
    modeled_rows: int = 0


class Bucketed:
    """Events sorted by day index; ``at(t)`` gives the payload arrays of the events of day t."""

    def __init__(self, days: np.ndarray, t_days: int, **payload: np.ndarray) -> None:
        days = np.asarray(days, dtype=np.int64)
        order = np.argsort(days, kind="stable")
        self.bounds = np.searchsorted(days[order], np.arange(t_days + 1), side="left")
        self.payload = {k: np.asarray(v)[order] for k, v in payload.items()}

    def at(self, t: int) -> dict[str, np.ndarray]:
        a, b = self.bounds[t], self.bounds[t + 1]
        return {k: v[a:b] for k, v in self.payload.items()}


@dataclass
class Schedule:
    """Every event known before the simulation, bucketed by trading day."""

    listing: Bucketed  # stock, delta (+1 listed from this day, -1 not listed from this day)
    suspension: Bucketed  # stock, delta
    industry: Bucketed  # stock, l1
    lockup: Bucketed  # stock
    fundamentals: Bucketed  # stock, values (pit.PIT_FIELDS)
    dividend: Bucketed  # stock, amount (CNY to distribute at the stock's next trading row)
    forced_split: Bucketed  # stock
    forced_dividend: Bucketed  # stock, frac (of the previous close, per share)
    shock: Bucketed  # stock, size (added to u)


def build_schedule(
    uni: Universe, open_days: np.ndarray, pit: PitEvents, planned_dividends: tuple[np.ndarray, np.ndarray, np.ndarray]
) -> Schedule:
    """Bucket listing spans, spells, industry changes, lock-ups, statements and corporate actions by day."""
    n, t_days = uni.n, len(open_days)
    sp = uni.spells
    p = sp.kind == LISTING_SUSPENSION
    d_stock, d_date, d_amount = planned_dividends
    d_day = np.searchsorted(open_days, d_date, side="left")
    keep = (d_date >= open_days[0]) & (d_day < t_days) & (d_day > uni.list_idx[d_stock])
    ipo = np.flatnonzero(uni.list_idx >= 0)
    changes = uni.industries.start >= 0

    def forced(events: list[tuple], **names: int) -> Bucketed:
        cols = list(zip(*events, strict=True)) if events else [()] * 3  # (stock, day[, value])
        return Bucketed(
            np.array(cols[1], dtype=np.int64),
            t_days,
            stock=np.array(cols[0], dtype=np.int64),
            **{k: np.array(cols[i], dtype=float) for k, i in names.items()},
        )

    one, one_p = np.ones(n, dtype=np.int64), np.ones(int(p.sum()), dtype=np.int64)
    return Schedule(
        listing=Bucketed(
            np.concatenate([np.maximum(uni.list_idx, 0), uni.end_idx, sp.start[p], sp.end[p]]),
            t_days,
            stock=np.concatenate([np.arange(n), np.arange(n), sp.stock[p], sp.stock[p]]),
            delta=np.concatenate([one, -one, -one_p, one_p]),
        ),
        suspension=Bucketed(
            np.concatenate([sp.start[~p], sp.end[~p]]),
            t_days,
            stock=np.concatenate([sp.stock[~p], sp.stock[~p]]),
            delta=np.concatenate([np.ones((~p).sum()), -np.ones((~p).sum())]).astype(np.int64),
        ),
        industry=Bucketed(
            uni.industries.start[changes], t_days, stock=uni.industries.stock[changes], l1=uni.industries.l1[changes]
        ),
        lockup=Bucketed(uni.list_idx[ipo] + LOCKUP_DAYS, t_days, stock=ipo),
        fundamentals=Bucketed(pit.day, t_days, stock=pit.stock, values=pit.values),
        dividend=Bucketed(d_day[keep], t_days, stock=d_stock[keep], amount=d_amount[keep]),
        forced_split=forced(uni.forced_split),
        forced_dividend=forced(uni.forced_dividend, frac=2),
        shock=forced(uni.forced_shock, size=2),
    )


# ---------------------------------------------------------------------------------------------------------
# pure per-day helpers (1-D arrays over the stocks trading that day)


def ex_rights(
    prev_close: np.ndarray,
    shares: np.ndarray,
    pending_cny: np.ndarray,
    pending_frac: np.ndarray,
    pending_split: np.ndarray,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Apply pending cash dividends and 10-for-10 bonus issues on an ex date.

    Returns (pre_close, dividend per share (CNY), paid, split). A dividend is ``pending_frac`` of the previous
    close when set, else ``pending_cny`` over the shares (3 decimals), at most 20% of the price and skipped if
    it would leave a pre_close under DIVIDEND_MIN_PRICE_AFTER.
    """
    dps = np.where(pending_frac > 0, round2(pending_frac * prev_close), np.round(pending_cny / shares, 3))
    dps = np.minimum(dps, round2(0.2 * prev_close))
    paid = ((pending_cny > 0) | (pending_frac > 0)) & (dps >= 0.001) & (prev_close - dps >= DIVIDEND_MIN_PRICE_AFTER)
    pre = np.where(paid, prev_close - dps, prev_close)
    pre = np.where(pending_split, pre / 2.0, pre)
    return np.maximum(round2(pre), 0.01), dps, paid, pending_split


def close_price(
    pre: np.ndarray, r: np.ndarray, lo: np.ndarray, hi: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Close = round(pre * (1 + r), 2) clipped to [lo, hi], never below 1.00: (close, at_limit, floored)."""
    raw = round2(pre * (1.0 + r))
    in_limits = np.clip(raw, lo, hi)
    floored = in_limits < 1.0
    return np.maximum(in_limits, 1.0), in_limits != raw, floored


def price_bar(
    pre: np.ndarray,
    close: np.ndarray,
    lo: np.ndarray,
    hi: np.ndarray,
    sd_day: np.ndarray,
    z_open: np.ndarray,
    z_high: np.ndarray,
    z_low: np.ndarray,
    u_lock: np.ndarray,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(open, high, low) consistent with the close: low <= open, close <= high, all inside [lo, hi], > 0.

    The open follows a third of the day's move plus noise; high and low extend the open-close range by
    half-normal noise of scale sd_day / 2. A close at a limit is locked at one price all day with
    probability LOCKED_PROB.
    """
    r = close / pre - 1.0
    floor = np.maximum(lo, 0.01)
    opn = np.clip(round2(pre * (1.0 + 0.35 * r + 0.3 * sd_day * z_open)), floor, hi)
    top, bottom = np.maximum(opn, close), np.minimum(opn, close)
    high = np.minimum(
        np.maximum(round2(top * (1.0 + 0.5 * sd_day * np.abs(z_high)) + 0.0049), top), np.maximum(hi, close)
    )
    low = np.minimum(np.maximum(round2(bottom * (1.0 - 0.5 * sd_day * np.abs(z_low)) - 0.0049), floor), bottom)
    locked = ((close == hi) | (close == lo)) & (u_lock < LOCKED_PROB)
    return np.where(locked, close, opn), np.where(locked, close, high), np.where(locked, close, low)


def valuation(cap: np.ndarray, fund: np.ndarray, fund_index: dict[str, int]) -> dict[str, np.ndarray]:
    """daily_basic pe, pe_ttm, pb, ps, ps_ttm from the cap (CNY) and point-in-time fundamentals (NaN when the
    denominator is not positive: pe is empty for losses)."""
    out = {}
    with np.errstate(invalid="ignore", divide="ignore"):
        for name, field_name in (
            ("pe", "fy_ni"),
            ("pe_ttm", "ttm_ni"),
            ("pb", "eq"),
            ("ps", "fy_rev"),
            ("ps_ttm", "ttm_rev"),
        ):
            den = fund[:, fund_index[field_name]]
            out[name] = np.where(den > 0, np.round(cap / den, 4), np.nan)
    return out


def simulate(
    uni: Universe,
    open_days: np.ndarray,
    pit: PitEvents,
    planned_dividends: tuple[np.ndarray, np.ndarray, np.ndarray],
    params: pl.FactorParams,
    rng: np.random.Generator,
    log: SimulationLog,
    progress: Callable[[str], None] | None = None,
) -> Iterator[YearBlock]:
    """Run the market over ``open_days``; yield one YearBlock per calendar year, fill ``log``."""
    n, t_days = uni.n, len(open_days)
    rf = pl.RF_DAILY
    regime = pl.regime_multiplier(t_days)
    fund_index = {name: i for i, name in enumerate(PIT_FIELDS)}
    ipo = uni.list_idx >= 0
    board_keys = np.array([ref.BOARDS[b].key for b in uni.board])
    main_board = np.isin(board_keys, ["sh_main", "sz_main"])
    sched = build_schedule(uni, open_days, pit, planned_dividends)
    cp = params
    ind_mean, ind_vol = np.array(cp.industry_mean), np.array(cp.industry_vol)
    sty_mean, sty_vol = np.array(cp.style_mean), np.array(cp.style_vol)
    years = open_days.astype("datetime64[Y]").astype(np.int64) + 1970
    indices = IndexBook(uni, open_days)

    # ---- state (arrays over all N stocks) ----
    listed_cnt = np.zeros(n, dtype=np.int64)
    susp_cnt = np.zeros(n, dtype=np.int64)
    cur_ind = uni.industries.l1[np.searchsorted(uni.industries.stock, np.arange(n))].copy()
    prev_close = np.where(ipo, np.nan, uni.price0)
    adj = uni.adj0.astype(float).copy()
    shares = uni.shares0.astype(float).copy()
    float_frac = np.where(ipo, uni.ipo_float_frac, uni.float_frac)
    n_rows = np.zeros(n, dtype=np.int64)  # trading rows so far
    last_exp = np.zeros((n, len(pl.STYLES)))  # exposures at the stock's last trading row (float32 values)
    last_ind = cur_ind.copy()  # industry at the stock's last trading row
    spec_level = np.zeros(n)  # cumulative specific log return (incl. the whole pull)
    vol_hist = np.zeros((5, n))  # the last five volumes, newest first
    fund = np.full((n, len(PIT_FIELDS)), np.nan)
    pending_div = np.zeros(n)
    pending_div_frac = np.zeros(n)
    pending_split = np.zeros(n, dtype=bool)
    last_split = np.full(n, -(10**9), dtype=np.int64)
    dps_last = np.zeros(n)
    dps_date = np.full(n, np.datetime64("NaT"), dtype="datetime64[D]")
    mom = pl.MomentumState(n)
    country_dev = 0.0  # cumulative log country return minus its trend
    ind_level = np.zeros(N_IND)
    w_prev = np.zeros(N_IND)  # total-cap industry weights of the stocks trading on the previous day

    block: YearBlock | None = None
    for t in range(t_days):
        if block is None or years[t] != block.year:
            if block is not None:
                yield block
            d_len = int(np.searchsorted(years, years[t], side="right") - t)
            block = _new_block(int(years[t]), t, open_days[t : t + d_len], n)
            if progress is not None:
                progress(f"simulating {years[t]}")
        row = t - block.first_day

        # ---------- scheduled events ----------
        e = sched.listing.at(t)
        np.add.at(listed_cnt, e["stock"], e["delta"])
        e = sched.suspension.at(t)
        np.add.at(susp_cnt, e["stock"], e["delta"])
        e = sched.industry.at(t)
        cur_ind[e["stock"]] = e["l1"]
        e = sched.lockup.at(t)
        float_frac[e["stock"]] = uni.float_frac[e["stock"]]
        e = sched.fundamentals.at(t)
        fund[e["stock"]] = e["values"]
        e = sched.dividend.at(t)
        np.add.at(pending_div, e["stock"], e["amount"])
        pending_split[sched.forced_split.at(t)["stock"]] = True
        e = sched.forced_dividend.at(t)
        pending_div_frac[e["stock"]] = e["frac"]
        e = sched.shock.at(t)
        shock_today = np.zeros(n)
        np.add.at(shock_today, e["stock"], e["size"])

        listed = listed_cnt > 0
        tr = np.flatnonzero(listed & (susp_cnt == 0))
        pending_div[~listed] = 0.0
        reg = regime[t]
        indices.rebalance(t, listed, prev_close * shares)

        # ---------- random draws (fixed sizes: the stream does not depend on who trades) ----------
        z_f = rng.standard_normal(1 + N_IND + len(pl.STYLES))
        e_spec = pl.student_t_unit(rng, n)
        z_open, z_high, z_low, z_vol, z_first = rng.standard_normal((5, n))
        u_draw = rng.random((3, n))

        block.listed[row] = listed
        block.adj[row] = adj
        if len(tr) == 0:
            w_prev = np.zeros(N_IND)
            indices.flat_day(block, row)
            continue

        # ---------- corporate actions and pre_close ----------
        has_prev = n_rows[tr] > 0
        prev_shares = shares[tr]  # a copy: shares change on a bonus issue below
        act = tr[has_prev]
        pre_act, dps, paid, split = ex_rights(
            prev_close[act], shares[act], pending_div[act], pending_div_frac[act], pending_split[act]
        )
        moved = paid | split
        adj[act[moved]] *= prev_close[act[moved]] / pre_act[moved]
        shares[act[split]] *= 2.0
        dps_last[act[split]] /= 2.0
        dps_last[act[paid]] = dps[paid]
        dps_date[act[paid]] = open_days[t]
        last_split[act[split]] = t
        log.dividends += [(int(s), t, float(v)) for s, v in zip(act[paid], dps[paid], strict=True)]
        log.splits += [(int(s), t) for s in act[split]]
        pending_div[act] = 0.0
        pending_div_frac[act] = 0.0
        pending_split[act] = False
        pre = uni.price0[tr].copy()  # first rows: the issue price or the close before the history
        pre[has_prev] = pre_act
        first_ipo = ~has_prev & ipo[tr] & (uni.list_idx[tr] == t)

        # ---------- factor returns ----------
        f_c = cp.country_mean - pl.COUNTRY_REVERSION * country_dev + reg * cp.country_vol * z_f[0]
        g = ind_mean - pl.INDUSTRY_REVERSION * ind_level + reg * ind_vol * z_f[1 : 1 + N_IND]
        f_ind = g - np.dot(w_prev, g) if w_prev.sum() > 0 else g - g.mean()
        f_sty = sty_mean + reg * sty_vol * z_f[1 + N_IND :]
        f_sty[pl.S["beta"]] += pl.BETA_COUPLING * (f_c - cp.country_mean)

        # ---------- specific returns; the factor-spanned part of the pull goes to the factors ----------
        modeled = has_prev  # a stock's first row has no model return (and t == 0 has only first rows)
        m = tr[modeled]
        pull = -pl.SPECIFIC_REVERSION * spec_level[m]
        residual_pull = pull
        if len(m) > len(pl.STYLES) + N_IND:
            a_ind, b_sty, residual_pull = pl.factor_projection(
                pull, last_ind[m], last_exp[m], np.sqrt(pre[modeled] * shares[m]), N_IND
            )
            a_c = np.dot(w_prev, a_ind) if w_prev.sum() > 0 else a_ind.mean()
            f_c, f_ind, f_sty = f_c + a_c, f_ind + a_ind - a_c, f_sty + b_sty
        noise = reg * uni.spec_vol[m] * e_spec[m] + shock_today[m]
        u_m = noise + residual_pull
        spec_level[m] += np.log1p(np.maximum(noise + pull, -0.99))
        if t > 0:
            country_dev += np.log1p(f_c) - (cp.country_mean - 0.5 * cp.country_vol**2)
            ind_level += f_ind
            log.factor_returns[t] = np.concatenate([[f_c], f_ind, f_sty])
        r = np.where(first_ipo, uni.ipo_pop[tr], FIRST_ROW_VOL * z_first[tr])
        r[modeled] = rf + f_c + f_ind[last_ind[m]] + last_exp[m] @ f_sty + u_m

        # ---------- limits, close, bar ----------
        unlimited = ipo[tr] & (n_rows[tr] < uni.unlimited_days[tr])
        lo, hi = limit_prices(pre, uni.limit[tr])
        ipo_main = first_ipo & main_board[tr]
        hi = np.where(ipo_main, round2(pre * (1.0 + ref.MAIN_BOARD_IPO_CAP)), np.where(unlimited, np.inf, hi))
        lo = np.where(ipo_main, round2(pre * (1.0 - ref.MAIN_BOARD_IPO_CAP)), np.where(unlimited, 0.01, lo))
        close, at_limit, floored = close_price(pre, r, lo, hi)
        log.limit_hits += int((at_limit & modeled).sum())
        log.floor_hits += int(floored.sum())
        log.modeled_rows += int(modeled.sum())
        sd_day = np.where(first_ipo, 0.05, reg * np.sqrt(cp.country_vol**2 + uni.spec_vol[tr] ** 2))
        opn, high, low = price_bar(pre, close, lo, hi, sd_day, z_open[tr], z_high[tr], z_low[tr], u_draw[0, tr])
        r_real = close / pre - 1.0

        # ---------- volume, turnover, amount ----------
        float_sh = np.floor(shares[tr] * float_frac[tr] / 100.0) * 100.0
        free_sh = np.maximum(np.floor(float_sh * uni.free_frac[tr] / 100.0) * 100.0, 100.0)
        turnover = uni.turnover[tr] * np.exp(0.4 * z_vol[tr] - 0.08) * (1.0 + 4.0 * np.abs(r_real))
        turnover = np.where(high == low, 0.15 * turnover, np.where(unlimited, 3.0 * turnover, turnover))
        ipo_turnover = np.where(ipo_main, 0.002 + 0.018 * u_draw[1, tr], 0.4 + 0.4 * u_draw[1, tr])
        turnover = np.minimum(np.where(first_ipo, ipo_turnover, turnover), 0.9)
        vol = np.maximum(1.0, np.round(turnover * float_sh / 100.0))
        amount = vol * 100.0 * (opn + high + low + close) / 4.0 / 1000.0
        prior = np.minimum(n_rows[tr], 5)
        with np.errstate(invalid="ignore", divide="ignore"):
            vol_ratio = np.where(prior > 0, np.round(vol * prior / vol_hist[:, tr].sum(axis=0), 2), np.nan)
        vol_hist[1:, tr] = vol_hist[:-1, tr]
        vol_hist[0, tr] = vol

        # ---------- valuation, momentum and exposures at the close ----------
        cap = close * shares[tr]  # CNY
        val = valuation(cap, fund[tr], fund_index)
        age = (open_days[t] - dps_date[tr]).astype(np.int64)
        dv = np.where(np.isnat(dps_date[tr]), np.nan, np.round(dps_last[tr] / close * 100.0, 4))
        mom.push(tr[has_prev], np.log(close[has_prev] / pre[has_prev]) - np.log1p(rf))
        x32 = pl.style_exposures(
            cap, uni.beta[tr], mom.raw(tr), uni.spec_vol[tr], uni.turnover[tr], fund[tr], fund_index
        ).astype(np.float32)
        last_exp[tr] = x32
        last_ind[tr] = cur_ind[tr]
        w_prev = np.bincount(cur_ind[tr], weights=cap, minlength=N_IND) / cap.sum()

        # ---------- record ----------
        block.trading[row, tr] = True
        for name, val_ in (
            ("open", opn),
            ("high", high),
            ("low", low),
            ("close", close),
            ("pre_close", pre),
            ("vol", vol),
            ("amount", amount),
        ):
            block.px[name][row, tr] = val_
        for name, val_ in (
            ("turnover_rate", np.round(vol * 100.0 / float_sh * 100.0, 4)),
            ("turnover_rate_f", np.round(vol * 100.0 / free_sh * 100.0, 4)),
            ("volume_ratio", vol_ratio),
            *val.items(),
            ("dv_ratio", np.where(age <= 550, dv, np.nan)),
            ("dv_ttm", np.where(age <= 365, dv, np.nan)),
            ("total_share", shares[tr] / 1e4),
            ("float_share", float_sh / 1e4),
            ("free_share", free_sh / 1e4),
        ):
            block.basic[name][row, tr] = val_
        block.adj[row] = adj  # after today's ex-rights
        block.exposures[row, tr] = x32
        block.l1[row, tr] = cur_ind[tr]
        block.specific_return[row, m] = u_m
        block.specific_vol[row, tr] = reg * uni.spec_vol[tr]
        block.modeled[row, m] = True
        block.clipped[row, m] = (at_limit | floored)[modeled]
        indices.day(
            block,
            row,
            tr,
            weighted=~first_ipo,
            prev_cap=prev_close[tr] * prev_shares,
            shares=shares[tr],
            close=close,
            opn=opn,
            high=high,
            low=low,
            vol=vol,
            amount=amount,
        )

        # ---------- carry state ----------
        prev_close[tr] = close
        n_rows[tr] += 1
        trigger = (close > uni.split_price[tr]) & (t - last_split[tr] > SPLIT_COOLDOWN) & (u_draw[2, tr] < SPLIT_PROB)
        pending_split[tr[trigger]] = True
    if block is not None:
        yield block


def _new_block(year: int, first_day: int, days: np.ndarray, n: int) -> YearBlock:
    d = len(days)

    def nan() -> np.ndarray:
        return np.full((d, n), np.nan)

    return YearBlock(
        year=year,
        first_day=first_day,
        days=days,
        trading=np.zeros((d, n), dtype=bool),
        listed=np.zeros((d, n), dtype=bool),
        px={c: nan() for c in PRICE_COLUMNS},
        basic={c: nan() for c in BASIC_COLUMNS},
        adj=nan(),
        exposures=np.zeros((d, n, len(pl.STYLES)), dtype=np.float32),
        l1=np.zeros((d, n), dtype=np.int16),
        specific_return=nan(),
        specific_vol=nan(),
        modeled=np.zeros((d, n), dtype=bool),
        clipped=np.zeros((d, n), dtype=bool),
        index={s.ts_code: {c: np.full(d, np.nan) for c in INDEX_COLUMNS} for s in INDEXES},
    )


class IndexBook:
    """Levels and memberships of the cap-weighted price indices.

    A day's index return is sum(close * shares) / sum(previous close * previous shares) - 1 over the members
    that traded (a stock joins the day after its IPO): a bonus issue leaves the index unchanged, a cash dividend
    lowers it, as for a real price index. Open, high and low likewise; vol and amount are sums. 000300.SH holds
    the largest caps (at most 300, 6% of the listed non-BJ stocks, at least 10), chosen on the first day and on
    the first trading day of January and July.
    """

    def __init__(self, uni: Universe, open_days: np.ndarray) -> None:
        board_keys = np.array([ref.BOARDS[b].key for b in uni.board])
        exch = np.array([ref.BOARDS[b].exchange for b in uni.board])
        self.level = np.array([s.base for s in INDEXES])
        self.members = np.zeros((len(INDEXES), uni.n), dtype=bool)
        self.top = -1
        for j, spec in enumerate(INDEXES):
            if spec.members == "top":
                self.top = j
            else:
                self.members[j] = {"sse": exch == "SSE", "szse": exch == "SZSE", "chinext": board_keys == "chinext"}[
                    spec.members
                ]
        self.eligible = board_keys != "bj"
        months = open_days.astype("datetime64[M]").astype(np.int64) % 12 + 1
        self.rebalance_day = np.r_[True, (months[1:] != months[:-1]) & np.isin(months[1:], [1, 7])]

    def rebalance(self, t: int, listed: np.ndarray, prev_cap: np.ndarray) -> None:
        if not self.rebalance_day[t] or self.top < 0:
            return
        cand = np.flatnonzero(listed & self.eligible & np.isfinite(prev_cap))
        k = int(min(300, max(10, np.ceil(0.06 * len(cand)))))
        self.members[self.top] = False
        self.members[self.top, cand[np.argsort(-prev_cap[cand], kind="stable")[:k]]] = True

    def flat_day(self, block: YearBlock, row: int) -> None:
        for j, spec in enumerate(INDEXES):
            out = block.index[spec.ts_code]
            for key in ("open", "high", "low", "close", "pre_close"):
                out[key][row] = self.level[j]
            out["vol"][row] = out["amount"][row] = 0.0

    def day(
        self,
        block: YearBlock,
        row: int,
        tr: np.ndarray,
        weighted: np.ndarray,
        prev_cap: np.ndarray,
        shares: np.ndarray,
        **bar: np.ndarray,
    ) -> None:
        for j, spec in enumerate(INDEXES):
            out = block.index[spec.ts_code]
            prev = self.level[j]
            mem = self.members[j, tr]
            sel = mem & weighted
            vals = {"open": prev, "high": prev, "low": prev, "close": prev}
            if sel.any():
                base = prev_cap[sel].sum()
                rel = {
                    k: prev * float(np.dot(shares[sel], bar[src][sel])) / base
                    for k, src in (("open", "opn"), ("high", "high"), ("low", "low"), ("close", "close"))
                }
                vals = {
                    "open": rel["open"],
                    "close": rel["close"],
                    "high": max(rel["high"], rel["open"], rel["close"]),
                    "low": min(rel["low"], rel["open"], rel["close"]),
                }
            for key, v in vals.items():
                out[key][row] = round(v, 4)
            out["pre_close"][row] = prev
            out["vol"][row] = float(bar["vol"][mem].sum())
            out["amount"][row] = float(bar["amount"][mem].sum())
            self.level[j] = out["close"][row]
