"""The demo universe: securities, listing spans, suspensions, traps, industries and planted characteristics.

Everything is indexed by stock position ``n`` (stocks sorted by ts_code) and by trading-day index ``t`` (0 is
the first open day of the history, ``T`` the number of open days). Spans are half-open ``[start, end)`` in
day indices. A stock listed before the history has ``list_idx == -1``.

Two kinds of spells take a listed stock out of trading:

- kind 0, an ordinary suspension (停牌): the stock stays listed, ``daily``/``daily_basic`` have no rows,
  ``adj_factor`` keeps a row every open day;
- kind 1, a listing suspension (暂停上市, list_status P while it lasts): the stock is not listed, no row in any
  daily table. A stock whose last spell of kind 1 runs to the end of the history ends with list_status P.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from . import reference as ref
from .calendar import open_days_between, to_yyyymmdd

SUSPENSION, LISTING_SUSPENSION = 0, 1
EARLIEST_LIST_DATE = np.datetime64("1990-12-19")


@dataclass
class Spells:
    """Day-index spells ``[start, end)`` of one stock each; kind 0 suspension, 1 listing suspension."""

    stock: np.ndarray
    start: np.ndarray
    end: np.ndarray
    kind: np.ndarray


@dataclass
class IndustrySpells:
    """Industry membership spells: from day ``start`` (-1: before the history) until the next spell."""

    stock: np.ndarray
    start: np.ndarray
    l1: np.ndarray  # index into reference.SW2021_L1
    l2: np.ndarray  # 0..N_L2_PER_L1-1
    l3: np.ndarray  # 0..N_L3_PER_L2-1


@dataclass
class Universe:
    """All per-stock facts fixed before the price simulation. Arrays have shape (N,) unless noted."""

    ts_code: np.ndarray  # object 'NNNNNN.XX', sorted
    board: np.ndarray  # int index into reference.BOARDS
    limit: np.ndarray  # daily price limit as a fraction (0.1, 0.2, 0.3)
    unlimited_days: np.ndarray  # trading rows without a limit after an IPO inside the history
    list_date: np.ndarray  # datetime64[D], first trading day
    list_idx: np.ndarray  # day index of the IPO, -1 when listed before the history
    end_idx: np.ndarray  # exclusive end of the listing in day indices (T unless delisted)
    delisted: np.ndarray  # bool
    spells: Spells
    industries: IndustrySpells
    # planted characteristics
    beta: np.ndarray  # planted market beta b_n (around 1)
    spec_vol: np.ndarray  # planted daily specific volatility sigma_n (fraction)
    turnover: np.ndarray  # planted daily turnover level tau_n (fraction of float shares)
    growth: np.ndarray  # planted annual log sales growth g_n
    margin: np.ndarray  # planted mean net margin (attributable net income / sales)
    leverage: np.ndarray  # planted total assets / total equity
    cap0: np.ndarray  # market cap at the start of the history or at the IPO, CNY
    price0: np.ndarray  # pre_close of the first row: price before the history, or the IPO issue price, CNY
    shares0: np.ndarray  # total shares on the first row (after the IPO issue for IPOs), shares (int64)
    new_share_frac: np.ndarray  # fraction of shares0 issued at an IPO inside the history (else 0)
    float_frac: np.ndarray  # float / total shares once lock-ups expired
    ipo_float_frac: np.ndarray  # float / total shares during the first year after an IPO in the history
    free_frac: np.ndarray  # free float / float
    adj0: np.ndarray  # adj_factor on the first row (1.0 for IPOs in the history)
    ipo_pop: np.ndarray  # first-day return of an IPO (before the main-board cap)
    ps0: np.ndarray  # price / sales at the reference date
    pb0: np.ndarray  # price / book at the reference date
    pay_prob: np.ndarray  # probability of a cash dividend after a profitable year
    payout: np.ndarray  # dividend / attributable net income when paying
    split_price: np.ndarray  # a 10-for-10 bonus issue becomes likely above this close, CNY
    has_preferred: np.ndarray  # bool, issues preferred equity instruments
    # descriptive stock_basic columns
    name: np.ndarray
    fullname: np.ndarray
    enname: np.ndarray
    cnspell: np.ndarray
    area: np.ndarray
    act_name: np.ndarray
    act_ent_type: np.ndarray
    is_hs: np.ndarray
    # forced events (day indices): bonus issues, cash dividends (fraction of the previous close), u shocks
    forced_split: list[tuple[int, int]] = field(default_factory=list)
    forced_dividend: list[tuple[int, int, float]] = field(default_factory=list)
    forced_shock: list[tuple[int, int, float]] = field(default_factory=list)
    traps: dict[str, list[int]] = field(default_factory=dict)  # trap name -> stock indices

    @property
    def n(self) -> int:
        return len(self.ts_code)


def _draw_boards(rng: np.random.Generator, n: int) -> np.ndarray:
    shares = np.array([b.share for b in ref.BOARDS])
    counts = np.floor(shares * n).astype(int)
    if n >= 20:
        counts = np.maximum(counts, 1)
    while counts.sum() < n:
        counts[np.argmax(shares * n - counts)] += 1
    while counts.sum() > n:
        counts[np.argmax(counts)] -= 1
    boards = np.repeat(np.arange(len(ref.BOARDS)), counts)
    return rng.permutation(boards)


def _draw_codes(rng: np.random.Generator, boards: np.ndarray) -> np.ndarray:
    codes = np.empty(len(boards), dtype=object)
    for b, board in enumerate(ref.BOARDS):
        idx = np.flatnonzero(boards == b)
        capacity = len(board.prefixes) * 1000
        if len(idx) > capacity:
            raise ValueError(f"too many {board.key} stocks: {len(idx)} > {capacity}")
        pick = rng.choice(capacity, size=len(idx), replace=False)
        for i, p in zip(idx, pick, strict=True):
            prefix = board.prefixes[p // 1000]
            codes[i] = f"{prefix}{p % 1000:03d}.{board.suffix}"
    return codes


def _names(rng: np.random.Generator, l1: np.ndarray, area: np.ndarray) -> tuple[np.ndarray, ...]:
    n = len(l1)
    name = np.empty(n, dtype=object)
    fullname = np.empty(n, dtype=object)
    enname = np.empty(n, dtype=object)
    cnspell = np.empty(n, dtype=object)
    seen: set[str] = set()
    for i in range(n):
        code = ref.SW2021_L1[l1[i]][0]
        suffixes = ref.NAME_SUFFIX_BY_L1.get(code, ()) + ref.NAME_SUFFIX_GENERIC
        for attempt in range(100):
            f = ref.NAME_FIRST[rng.integers(len(ref.NAME_FIRST))]
            s = ref.NAME_SECOND[rng.integers(len(ref.NAME_SECOND))]
            if code in ref.NAME_SUFFIX_BY_L1 and rng.random() < 0.7:
                x = suffixes[rng.integers(len(ref.NAME_SUFFIX_BY_L1[code]))]
            else:
                x = suffixes[rng.integers(len(suffixes))]
            short = f[0] + s[0] + x[0]
            if short not in seen or attempt == 99:
                break
        if short in seen:
            short = f"{short}{i}"
        seen.add(short)
        name[i] = short
        fullname[i] = f"{area[i]}{short.removesuffix('股份')}股份有限公司"
        enname[i] = " ".join(w for w in (f[1] + s[1], x[2]) if w) + " Co., Ltd."
        cnspell[i] = (f[1][0] + s[1][0]).lower() + x[1]
    return name, fullname, enname, cnspell


def _scaled(length: int, frac: float, t: int, minimum: int = 2) -> int:
    """A spell length of ``length`` days, at most ``frac`` of a ``t``-day history, at least ``minimum``."""
    return int(max(minimum, min(length, round(frac * t))))


def build_universe(rng: np.random.Generator, n_stocks: int, open_days: np.ndarray) -> Universe:
    """Draw the universe for a history of ``open_days`` (datetime64[D], length T).

    Traps are guaranteed when ``n_stocks >= 20`` and ``T >= 60`` and placed where possible otherwise.
    """
    t_days = len(open_days)
    n = n_stocks
    if n < 1 or t_days < 2:
        raise ValueError("need at least 1 stock and 2 trading days")
    boards = _draw_boards(rng, n)
    codes = _draw_codes(rng, boards)
    order = np.argsort(codes.astype(str), kind="stable")
    codes, boards = codes[order], boards[order]
    limit = np.array([ref.BOARDS[b].limit for b in boards])

    # --- industries (uneven sizes, like the real SW2021 counts) ---
    weights = np.array([row[3] for row in ref.SW2021_L1], dtype=float)
    l1 = rng.choice(len(weights), size=n, p=weights / weights.sum())
    l2 = rng.integers(ref.N_L2_PER_L1, size=n)
    l3 = rng.integers(ref.N_L3_PER_L2, size=n)
    is_bank = np.array([ref.SW2021_L1[i][0] == ref.BANK_L1 for i in l1])

    # --- traps: distinct stocks chosen first, their boards respected ---
    traps: dict[str, list[int]] = {}
    guaranteed = n >= 20 and t_days >= 60
    free = list(rng.permutation(n))
    main = {i for i in range(n) if ref.BOARDS[boards[i]].key in ("sh_main", "sz_main")}
    growth_board = {i for i in range(n) if ref.BOARDS[boards[i]].key in ("star", "chinext")}

    def take(name: str, pool: set[int] | None = None) -> int | None:
        for i in free:
            if pool is None or i in pool:
                free.remove(i)
                traps[name] = [int(i)]
                return int(i)
        return None

    trap_order = [
        "ipo_main_board",
        "ipo_growth_board",
        "delisting",
        "long_suspension",
        "relisting",
        "listing_suspended_at_end",
        "split",
        "dividend",
        "price_limit",
        "industry_change",
    ]
    if n >= 3:
        for name in trap_order:
            pool = (
                main
                if name in ("ipo_main_board", "price_limit")
                else (growth_board if name == "ipo_growth_board" else None)
            )
            if pool is not None and not (pool & set(free)):
                pool = None
            if not free:
                break
            take(name, pool)
    trap_stock = np.zeros(n, dtype=bool)
    for v in traps.values():
        trap_stock[v] = True

    # --- listing dates ---
    ipo = rng.random(n) < 0.30
    for name in ("ipo_main_board", "ipo_growth_board"):
        if name in traps:
            ipo[traps[name][0]] = True
    for name in trap_order[2:]:
        if name in traps:
            ipo[traps[name][0]] = False
    list_idx = np.full(n, -1, dtype=np.int64)
    list_idx[ipo] = rng.integers(1, max(2, t_days - 1), size=int(ipo.sum()))
    if "ipo_main_board" in traps:
        list_idx[traps["ipo_main_board"][0]] = max(1, round(0.3 * t_days))
    if "ipo_growth_board" in traps:
        list_idx[traps["ipo_growth_board"][0]] = max(1, round(0.4 * t_days))
    start = open_days[0]
    earliest = min(EARLIEST_LIST_DATE, start - 365)
    before = open_days_between(max(earliest, start - 365 * 21), start - 1)
    max_years = min(20.0, float((start - earliest).astype(np.int64)) / 365.25 - 0.1)
    years_before = 0.5 + (max_years - 0.5) * rng.random(n) ** 1.6
    target = start - (years_before * 365.25).astype(np.int64)
    pos = np.clip(np.searchsorted(before, target), 0, len(before) - 1)
    list_date = np.where(ipo, open_days[np.clip(list_idx, 0, t_days - 1)], before[pos])

    # --- delistings (about 5% of the universe) ---
    end_idx = np.full(n, t_days, dtype=np.int64)
    first_row = np.maximum(list_idx, 0)
    n_delist = max(1 if guaranteed else 0, round(0.05 * n)) - (1 if "delisting" in traps else 0)
    cand = np.flatnonzero(~trap_stock & (first_row < 0.8 * t_days))
    for i in rng.permutation(cand)[: max(0, n_delist)]:
        lo = int(first_row[i] + min(60, max(5, t_days // 10)))
        if lo < t_days - 1:
            end_idx[i] = rng.integers(lo, t_days - 1)
    if "delisting" in traps:
        end_idx[traps["delisting"][0]] = round(0.7 * t_days)
    delisted = end_idx < t_days

    # --- spells ---
    sp_stock: list[np.ndarray] = []
    sp_start: list[np.ndarray] = []
    sp_end: list[np.ndarray] = []
    sp_kind: list[np.ndarray] = []

    def add_spell(i: int, a: int, b: int, kind: int) -> None:
        sp_stock.append(np.array([i]))
        sp_start.append(np.array([a]))
        sp_end.append(np.array([b]))
        sp_kind.append(np.array([kind]))

    long_len = _scaled(120, 0.2, t_days)
    if "long_suspension" in traps:
        a = round(0.25 * t_days)
        add_spell(traps["long_suspension"][0], a, min(a + long_len, t_days - 1), SUSPENSION)
    relist_len = _scaled(250, 0.25, t_days, 3)
    if "relisting" in traps:
        a = round(0.45 * t_days)
        add_spell(traps["relisting"][0], a, min(a + relist_len, t_days - 2), LISTING_SUSPENSION)
    if "listing_suspended_at_end" in traps:
        add_spell(traps["listing_suspended_at_end"][0], round(0.8 * t_days), t_days, LISTING_SUSPENSION)
    # natural long suspensions (1%), relistings (0.3%), listing suspensions at the end (0.2%)
    others = np.flatnonzero(~trap_stock & ~delisted)
    for frac, kind, length_range, to_end in (
        (0.01, SUSPENSION, (60, 250), False),
        (0.003, LISTING_SUSPENSION, (120, 500), False),
        (0.002, LISTING_SUSPENSION, None, True),
    ):
        k = int(rng.binomial(len(others), frac)) if len(others) else 0
        chosen = rng.choice(others, size=k, replace=False) if k else np.empty(0, dtype=int)
        others = np.setdiff1d(others, chosen)
        for i in chosen:
            lo = int(first_row[i]) + 5
            if to_end:
                a = max(lo, round(0.5 * t_days)) + int(rng.integers(max(1, round(0.4 * t_days))))
                if a < t_days - 1:
                    add_spell(int(i), a, t_days, kind)
                continue
            length = _scaled(int(rng.integers(*length_range)), 0.25, t_days)
            if lo + length < t_days - 2:
                a = int(rng.integers(lo, t_days - 1 - length))
                add_spell(int(i), a, a + length, kind)
    # short suspensions: about 0.5 spells per stock-year, mean length about 3 days
    normal = np.flatnonzero(~trap_stock)
    years = t_days / 242.0
    k = rng.poisson(0.5 * years, size=len(normal))
    s_stock = np.repeat(normal, k)
    lo = first_row[s_stock] + 1
    hi = end_idx[s_stock] - 1
    ok = hi > lo
    s_stock, lo, hi = s_stock[ok], lo[ok], hi[ok]
    s_start = lo + (rng.random(len(s_stock)) * (hi - lo)).astype(np.int64)
    s_len = np.minimum(rng.geometric(0.35, size=len(s_stock)), 30)
    s_end = np.minimum(s_start + s_len, end_idx[s_stock])
    spells = Spells(
        stock=np.concatenate([*sp_stock, s_stock]).astype(np.int64),
        start=np.concatenate([*sp_start, s_start]).astype(np.int64),
        end=np.concatenate([*sp_end, s_end]).astype(np.int64),
        kind=np.concatenate([*sp_kind, np.zeros(len(s_stock), dtype=np.int64)]).astype(np.int64),
    )

    # --- industry changes (about 3% of stocks, once) ---
    ind_stock = [np.arange(n)]
    ind_start = [np.full(n, -1, dtype=np.int64)]
    ind_l1 = [l1.copy()]
    ind_l2 = [l2.copy()]
    ind_l3 = [l3.copy()]
    changers = (
        list(
            rng.choice(
                np.flatnonzero(~trap_stock), size=int(rng.binomial(int((~trap_stock).sum()), 0.03)), replace=False
            )
        )
        if (~trap_stock).any()
        else []
    )
    change_day = {int(i): None for i in changers}
    if "industry_change" in traps:
        change_day[traps["industry_change"][0]] = round(0.5 * t_days)
    for i, day in change_day.items():
        lo_d, hi_d = int(first_row[i]) + 5, int(end_idx[i]) - 5
        if day is None:
            if hi_d <= lo_d:
                continue
            day = int(rng.integers(lo_d, hi_d))
        new_l1 = (l1[i] + 1 + rng.integers(len(weights) - 1)) % len(weights)
        ind_stock.append(np.array([i]))
        ind_start.append(np.array([day]))
        ind_l1.append(np.array([new_l1]))
        ind_l2.append(rng.integers(ref.N_L2_PER_L1, size=1))
        ind_l3.append(rng.integers(ref.N_L3_PER_L2, size=1))
    industries = IndustrySpells(
        *(np.concatenate(a).astype(np.int64) for a in (ind_stock, ind_start, ind_l1, ind_l2, ind_l3))
    )
    o = np.lexsort((industries.start, industries.stock))
    industries = IndustrySpells(
        *(a[o] for a in (industries.stock, industries.start, industries.l1, industries.l2, industries.l3))
    )

    # --- planted characteristics ---
    ln_cap = rng.normal(np.log(4e9), 1.0, size=n) + np.where(is_bank, np.log(8.0), 0.0)
    ln_cap = np.where(ipo, ln_cap - 0.5, ln_cap)
    cap0 = np.exp(np.clip(ln_cap, np.log(4e8), np.log(3e12)))
    size_z = (np.log(cap0) - np.log(cap0).mean()) / max(np.log(cap0).std(), 1e-9)
    ln_sig = np.log(0.017) - 0.18 * size_z + rng.normal(0, 0.28, size=n)
    spec_vol = np.clip(np.exp(ln_sig), 0.008, 0.04)
    sig_z = (np.log(spec_vol) - np.log(spec_vol).mean()) / max(np.log(spec_vol).std(), 1e-9)
    turnover = np.clip(np.exp(np.log(0.012) - 0.2 * size_z + 0.25 * sig_z + rng.normal(0, 0.5, size=n)), 0.001, 0.15)
    beta = np.clip(1.0 + 0.3 * rng.normal(size=n) - np.where(is_bank, 0.3, 0.0), 0.2, 2.0)
    growth = np.clip(rng.normal(0.08, 0.10, size=n), -0.2, 0.4)
    margin = np.where(is_bank, rng.normal(0.30, 0.05, size=n), np.clip(rng.normal(0.08, 0.07, size=n), -0.08, 0.35))
    lev_ind = np.array([ref.SW2021_L1[i][4] for i in l1])
    leverage = np.maximum(1.05, lev_ind * np.exp(rng.normal(0, np.where(is_bank, 0.1, 0.25), size=n)))
    price0 = np.where(
        ipo,
        np.clip(np.exp(rng.normal(np.log(14.0), 0.5, size=n)), 3.0, 90.0),
        np.clip(np.exp(rng.normal(np.log(11.0), 0.55, size=n)), 2.5, 80.0),
    )
    if "split" in traps:
        price0[traps["split"][0]] = 40.0 + 20.0 * rng.random()
    price0 = np.round(price0, 2)
    shares0 = np.maximum(np.round(cap0 / price0 / 100.0) * 100.0, 1e7).astype(np.int64)
    cap0 = shares0 * price0
    new_share_frac = np.where(ipo, 0.25, 0.0)
    float_frac = rng.uniform(0.45, 1.0, size=n)
    ipo_float_frac = np.where(ipo, 0.25 * rng.uniform(0.7, 1.0, size=n), float_frac)
    free_frac = rng.uniform(0.45, 0.95, size=n)
    adj0 = np.where(ipo, 1.0, np.round(np.exp(rng.uniform(0.0, 2.5, size=n)), 3))
    key = np.array([ref.BOARDS[b].key for b in boards])
    pop = np.where(rng.random(n) < 0.85, ref.MAIN_BOARD_IPO_CAP, rng.uniform(0.05, 0.44, size=n))
    pop = np.where(
        np.isin(key, ["star", "chinext"]), np.clip(np.exp(rng.normal(np.log(0.9), 0.6, size=n)), 0.05, 5.0), pop
    )
    pop = np.where(key == "bj", np.clip(np.exp(rng.normal(np.log(0.4), 0.6, size=n)), 0.02, 3.0), pop)
    unlimited_days = np.where(ipo, [ref.BOARDS[b].ipo_first_days_unlimited for b in boards], 0)
    ps0 = np.exp(rng.normal(np.log(2.5), 0.6, size=n))
    pb0 = np.where(is_bank, np.exp(rng.normal(np.log(0.8), 0.2, size=n)), np.exp(rng.normal(np.log(2.2), 0.5, size=n)))
    pay_prob = rng.uniform(0.3, 0.95, size=n)
    payout = rng.uniform(0.15, 0.5, size=n)
    split_price = rng.uniform(60.0, 120.0, size=n)
    has_preferred = is_bank | (rng.random(n) < 0.02)

    # --- descriptive columns ---
    area = np.array(ref.AREAS, dtype=object)[rng.integers(len(ref.AREAS), size=n)]
    name, fullname, enname, cnspell = _names(rng, l1, area)
    ent = np.array(ref.ACT_ENT_TYPES, dtype=object)[
        rng.choice(len(ref.ACT_ENT_TYPES), size=n, p=np.array(ref.ACT_ENT_PROBS) / sum(ref.ACT_ENT_PROBS))
    ]
    person = np.array(
        [
            ref.SURNAMES[a] + ref.GIVEN[b]
            for a, b in zip(rng.integers(len(ref.SURNAMES), size=n), rng.integers(len(ref.GIVEN), size=n), strict=True)
        ],
        dtype=object,
    )
    act_name = np.where(
        ent == "地方国企",
        area + "国资委",
        np.where(ent == "中央国企", "国务院国资委", np.where(np.isin(ent, ["公众企业", "无"]), None, person)),
    )
    big = np.log(cap0) >= np.quantile(np.log(cap0), 0.6)
    exch = np.array([ref.BOARDS[b].exchange for b in boards])
    is_hs = np.where(big & (exch == "SSE"), "H", np.where(big & (exch == "SZSE"), "S", "N")).astype(object)

    uni = Universe(
        ts_code=codes,
        board=boards,
        limit=limit,
        unlimited_days=unlimited_days.astype(np.int64),
        list_date=list_date.astype("datetime64[D]"),
        list_idx=list_idx,
        end_idx=end_idx,
        delisted=delisted,
        spells=spells,
        industries=industries,
        beta=beta,
        spec_vol=spec_vol,
        turnover=turnover,
        growth=growth,
        margin=margin,
        leverage=leverage,
        cap0=cap0,
        price0=price0,
        shares0=shares0,
        new_share_frac=new_share_frac,
        float_frac=float_frac,
        ipo_float_frac=ipo_float_frac,
        free_frac=free_frac,
        adj0=adj0,
        ipo_pop=pop,
        ps0=ps0,
        pb0=pb0,
        pay_prob=pay_prob,
        payout=payout,
        split_price=split_price,
        has_preferred=has_preferred,
        name=name,
        fullname=fullname,
        enname=enname,
        cnspell=cnspell,
        area=area,
        act_name=act_name,
        act_ent_type=ent,
        is_hs=is_hs,
        traps=traps,
    )
    if "split" in traps:
        uni.forced_split.append((traps["split"][0], round(0.5 * t_days)))
    if "dividend" in traps:
        uni.forced_dividend.append((traps["dividend"][0], round(0.55 * t_days), 0.03))
    if "price_limit" in traps:
        i = traps["price_limit"][0]
        uni.forced_shock += [(i, round(0.35 * t_days), 0.30), (i, round(0.65 * t_days), -0.30)]
    return uni


def final_status(uni: Universe, t_days: int) -> np.ndarray:
    """stock_basic list_status at the end of the history: D delisted, P listing suspended, else L."""
    status = np.where(uni.delisted, "D", "L").astype(object)
    sp = uni.spells
    p_end = sp.stock[(sp.kind == LISTING_SUSPENSION) & (sp.end >= t_days)]
    status[p_end] = "P"
    return status


def stock_basic_columns(uni: Universe, open_days: np.ndarray) -> dict[str, np.ndarray]:
    """Tushare ``stock_basic`` columns (all list statuses), one row per stock."""
    t_days = len(open_days)
    boards = [ref.BOARDS[b] for b in uni.board]
    current_l1 = uni.industries.l1[np.searchsorted(uni.industries.stock, np.arange(uni.n), side="right") - 1]
    delist = np.full(uni.n, None, dtype=object)
    d = np.flatnonzero(uni.delisted)
    delist[d] = to_yyyymmdd(open_days[uni.end_idx[d]])
    return {
        "ts_code": uni.ts_code,
        "symbol": np.array([c[:6] for c in uni.ts_code], dtype=object),
        "name": uni.name,
        "area": uni.area,
        "industry": np.array([ref.SW2021_L1[i][2] for i in current_l1], dtype=object),
        "fullname": uni.fullname,
        "enname": uni.enname,
        "cnspell": uni.cnspell,
        "market": np.array([b.market for b in boards], dtype=object),
        "exchange": np.array([b.exchange for b in boards], dtype=object),
        "curr_type": np.full(uni.n, "CNY", dtype=object),
        "list_status": final_status(uni, t_days),
        "list_date": to_yyyymmdd(uni.list_date),
        "delist_date": delist,
        "is_hs": uni.is_hs,
        "act_name": uni.act_name,
        "act_ent_type": uni.act_ent_type,
    }


def l2_code(l1: int, j: int) -> str:
    """Synthetic SW L2 code under an L1: 801010.SI -> 801011.SI, 801012.SI."""
    return f"{ref.SW2021_L1[l1][0][:5]}{j + 1}.SI"


def l3_code(l1: int, j: int, k: int) -> str:
    """Synthetic SW L3 code: 85 + the L1's two middle digits + L2 and L3 ordinals (801010.SI -> 850111.SI)."""
    return f"85{ref.SW2021_L1[l1][0][3:5]}{j + 1}{k + 1}.SI"


def _industry_code(l1: int, j: int | None = None, k: int | None = None) -> str:
    base = 11 + l1
    return f"{base}{(j + 1) if j is not None else 0:02d}{(k + 1) if k is not None else 0:02d}"


def index_classify_columns() -> dict[str, np.ndarray]:
    """Tushare ``index_classify`` (src SW2021): the 31 real L1 industries, synthetic L2 and L3 children."""
    rows = []
    for i, (code, name, *_rest) in enumerate(ref.SW2021_L1):
        rows.append((code, name, "L1", _industry_code(i), "1", "0", "SW2021"))
        for j in range(ref.N_L2_PER_L1):
            rows.append(
                (l2_code(i, j), f"{name}Ⅱ{j + 1}", "L2", _industry_code(i, j), "1", _industry_code(i), "SW2021")
            )
            for k in range(ref.N_L3_PER_L2):
                rows.append(
                    (
                        l3_code(i, j, k),
                        f"{name}Ⅲ{j + 1}{k + 1}",
                        "L3",
                        _industry_code(i, j, k),
                        "1",
                        _industry_code(i, j),
                        "SW2021",
                    )
                )
    cols = ["index_code", "industry_name", "level", "industry_code", "is_pub", "parent_code", "src"]
    return {c: np.array([r[i] for r in rows], dtype=object) for i, c in enumerate(cols)}


def index_member_all_columns(uni: Universe, open_days: np.ndarray) -> dict[str, np.ndarray]:
    """Tushare ``index_member_all``: one row per membership spell, in_date/out_date/is_new.

    A spell ends the open day before the next spell begins; a delisted stock's last spell ends on its delisting
    date (is_new N); the current spell of a listed stock has out_date null and is_new Y.
    """
    ind = uni.industries
    n_rows = len(ind.stock)
    last_of_stock = np.r_[ind.stock[1:] != ind.stock[:-1], True]
    in_date = np.where(
        ind.start < 0, to_yyyymmdd(uni.list_date[ind.stock]), to_yyyymmdd(open_days[np.clip(ind.start, 0, None)])
    )
    out_date = np.full(n_rows, None, dtype=object)
    nxt = np.flatnonzero(~last_of_stock)
    out_date[nxt] = to_yyyymmdd(open_days[ind.start[nxt + 1] - 1])
    dl = np.flatnonzero(last_of_stock & uni.delisted[ind.stock])
    out_date[dl] = to_yyyymmdd(open_days[uni.end_idx[ind.stock[dl]]])
    is_new = np.where(out_date == None, "Y", "N").astype(object)  # noqa: E711 (elementwise)
    l1n = np.array([ref.SW2021_L1[i][1] for i in ind.l1], dtype=object)
    return {
        "l1_code": np.array([ref.SW2021_L1[i][0] for i in ind.l1], dtype=object),
        "l1_name": l1n,
        "l2_code": np.array([l2_code(a, b) for a, b in zip(ind.l1, ind.l2, strict=True)], dtype=object),
        "l2_name": np.array([f"{nm}Ⅱ{b + 1}" for nm, b in zip(l1n, ind.l2, strict=True)], dtype=object),
        "l3_code": np.array([l3_code(a, b, c) for a, b, c in zip(ind.l1, ind.l2, ind.l3, strict=True)], dtype=object),
        "l3_name": np.array(
            [f"{nm}Ⅲ{b + 1}{c + 1}" for nm, b, c in zip(l1n, ind.l2, ind.l3, strict=True)], dtype=object
        ),
        "ts_code": uni.ts_code[ind.stock],
        "name": uni.name[ind.stock],
        "in_date": in_date,
        "out_date": out_date,
        "is_new": is_new,
    }
