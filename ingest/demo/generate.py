"""Orchestration: draw the universe and statements, simulate the market year by year, write everything.

Random streams: one ``numpy.random.SeedSequence(seed)`` spawns independent generators for the universe, the
statements, the factor parameters and the simulation, so the output is a pure function of
(n_stocks, n_days, seed, start). Year files are written by one background thread while the next year is
simulated (at most one year waits), which bounds memory and overlaps compression with simulation.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pyarrow as pa

from . import planted as pl
from . import reference as ref
from .calendar import open_days_from, parse_yyyymmdd, to_yyyymmdd, trade_cal_columns
from .fundamentals import generate_statements, shares_at_period_end, statement_tables
from .market import BASIC_COLUMNS, FACTORS, INDEX_COLUMNS, INDEXES, SimulationLog, YearBlock, simulate
from .pit import pit_events
from .universe import (
    LISTING_SUSPENSION,
    SUSPENSION,
    Universe,
    build_universe,
    final_status,
    index_classify_columns,
    index_member_all_columns,
    stock_basic_columns,
)
from .write import TRUTH_DIR, clear_outputs, contract_table, dictionary, plain_table, write_parquet

META_VERSION = 1


def generate_demo_market(
    raw_root: Path,
    n_stocks: int,
    n_days: int,
    seed: int,
    start: str = "20100104",
    progress: Callable[[str], None] | None = None,
) -> dict:
    """Generate a demo A-share market under ``raw_root`` (see the package docstring); return a summary."""
    raw_root = Path(raw_root)
    say = progress or (lambda _msg: None)
    streams = [np.random.default_rng(s) for s in np.random.SeedSequence(seed).spawn(4)]
    rng_universe, rng_statements, rng_params, rng_market = streams
    open_days = open_days_from(parse_yyyymmdd(start), n_days)
    t_days = len(open_days)
    clear_outputs(raw_root)
    tushare = raw_root / "tushare"
    truth = raw_root / TRUTH_DIR

    say("drawing the universe")
    uni = build_universe(rng_universe, n_stocks, open_days)
    say("drawing the statements")
    statements = generate_statements(rng_statements, uni, open_days)
    events = pit_events(statements, open_days)
    params = pl.draw_factor_params(rng_params, len(ref.SW2021_L1))
    log = SimulationLog(factor_returns=np.full((t_days, len(FACTORS)), np.nan))

    rows: dict[str, int] = {}
    ts_values = pa.array(list(uni.ts_code), pa.string())
    with ThreadPoolExecutor(max_workers=1) as pool:
        pending: Future | None = None
        for block in simulate(uni, open_days, events, statements.dividends, params, rng_market, log, say):
            if pending is not None:
                _add(rows, pending.result())
            pending = pool.submit(_write_year, tushare, truth, block, ts_values)
        if pending is not None:
            _add(rows, pending.result())
    del events

    say("writing statements and reference tables")
    if log.splits:
        s_stock = np.array([s for s, _ in log.splits], dtype=np.int64)
        s_date = open_days[np.array([d for _, d in log.splits])]
    else:
        s_stock, s_date = np.empty(0, dtype=np.int64), np.empty(0, dtype="datetime64[D]")
    shares = shares_at_period_end(statements, uni, s_stock, s_date)
    for table, cols in statement_tables(statements, uni, shares).items():
        rows[table] = _write(tushare, table, table, cols)
    rows["trade_cal"] = _write(tushare, "trade_cal", "trade_cal", trade_cal_columns(parse_yyyymmdd(start), open_days))
    rows["stock_basic"] = _write(tushare, "stock_basic", "stock_basic", stock_basic_columns(uni, open_days))
    rows["index_classify"] = _write(tushare, "index_classify", "index_classify", index_classify_columns())
    rows["index_member_all"] = _write(
        tushare, "index_member_all", "index_member_all", index_member_all_columns(uni, open_days)
    )

    say("writing the ground truth")
    _write_truth(truth, uni, open_days, log, params, statements.traps, seed, n_stocks, n_days, start)
    total_bytes = sum(
        f.stat().st_size
        for f in raw_root.rglob("*")
        if f.is_file() and (f.is_relative_to(tushare) or f.is_relative_to(truth))
    )
    return {
        "raw_root": str(raw_root),
        "tushare_dir": str(tushare),
        "truth_dir": str(truth),
        "n_stocks": n_stocks,
        "n_days": t_days,
        "first_date": str(to_yyyymmdd(open_days[:1])[0]),
        "last_date": str(to_yyyymmdd(open_days[-1:])[0]),
        "rows": dict(sorted(rows.items())),
        "bytes": int(total_bytes),
    }


def _add(rows: dict[str, int], counts: dict[str, int]) -> None:
    for k, v in counts.items():
        rows[k] = rows.get(k, 0) + v


def _write(tushare: Path, table: str, file_stem: str, cols: dict) -> int:
    t = contract_table(table, cols)
    write_parquet(t, tushare / table / f"{file_stem}.parquet")
    return t.num_rows


def _write_year(tushare: Path, truth: Path, block: YearBlock, ts_values: pa.Array) -> dict[str, int]:
    """Write one calendar year of daily, daily_basic, adj_factor, index_daily and the truth panels."""
    year = str(block.year)
    dates = pa.array(list(to_yyyymmdd(block.days)), pa.string())
    counts: dict[str, int] = {}

    def keys(mask: np.ndarray) -> tuple[np.ndarray, np.ndarray, dict]:
        di, si = np.nonzero(mask)
        return (
            di,
            si,
            {
                "ts_code": pa.DictionaryArray.from_arrays(pa.array(si.astype(np.int32)), ts_values),
                "trade_date": pa.DictionaryArray.from_arrays(pa.array(di.astype(np.int32)), dates),
            },
        )

    di, si, k = keys(block.trading)
    if len(di):
        px = {c: v[di, si] for c, v in block.px.items()}
        close, pre = px["close"], px["pre_close"]
        daily = {
            **k,
            "open": px["open"],
            "high": px["high"],
            "low": px["low"],
            "close": close,
            "pre_close": pre,
            "change": np.round(close - pre, 2),
            "pct_chg": np.round(100.0 * (close / pre - 1.0), 4),
            "vol": px["vol"],
            "amount": px["amount"],
        }
        counts["daily"] = _write(tushare, "daily", year, daily)
        del daily
        basic = {c: v[di, si] for c, v in block.basic.items()}
        db = {**k, "close": close}
        for c in BASIC_COLUMNS:
            db[c] = basic[c]
        db["total_mv"] = close * basic["total_share"]
        db["circ_mv"] = close * basic["float_share"]
        counts["daily_basic"] = _write(tushare, "daily_basic", year, db)
        del db, basic, px
        l1_values = pa.array([code for code, *_ in ref.SW2021_L1], pa.string())
        date32 = pa.array(block.days[di])
        expo = {
            "trade_date": date32,
            "ts_code": k["ts_code"],
            "l1_code": pa.DictionaryArray.from_arrays(pa.array(block.l1[di, si].astype(np.int32)), l1_values),
        }
        x = block.exposures[di, si]
        for j, name in enumerate(pl.STYLES):
            expo[name] = x[:, j]
        write_parquet(plain_table(expo), truth / "exposures" / f"{year}.parquet")
        del expo, x
        spec = {
            "trade_date": date32,
            "ts_code": k["ts_code"],
            "specific_return": block.specific_return[di, si],
            "specific_vol": block.specific_vol[di, si],
            "modeled": block.modeled[di, si],
            "clipped": block.clipped[di, si],
        }
        write_parquet(plain_table(spec), truth / "specific" / f"{year}.parquet")
        counts["truth_rows"] = len(di)
    di, si, k = keys(block.listed)
    if len(di):
        counts["adj_factor"] = _write(tushare, "adj_factor", year, {**k, "adj_factor": block.adj[di, si]})

    n_days = len(block.days)
    codes = [s.ts_code for s in INDEXES]
    order_code = np.tile(np.arange(len(codes)), n_days)
    order_day = np.repeat(np.arange(n_days), len(codes))
    idx = {c: np.stack([block.index[code][c] for code in codes], axis=1).ravel() for c in INDEX_COLUMNS}
    index_cols = {
        "ts_code": dictionary(order_code, np.array(codes)),
        "trade_date": pa.DictionaryArray.from_arrays(pa.array(order_day.astype(np.int32)), dates),
        "close": idx["close"],
        "open": idx["open"],
        "high": idx["high"],
        "low": idx["low"],
        "pre_close": idx["pre_close"],
        "change": np.round(idx["close"] - idx["pre_close"], 4),
        "pct_chg": np.round(100.0 * (idx["close"] / idx["pre_close"] - 1.0), 4),
        "vol": idx["vol"],
        "amount": idx["amount"],
    }
    counts["index_daily"] = _write(tushare, "index_daily", year, index_cols)
    return counts


def _date(open_days: np.ndarray, t: int) -> str:
    return str(to_yyyymmdd(open_days[t : t + 1])[0])


def _write_truth(
    truth: Path,
    uni: Universe,
    open_days: np.ndarray,
    log: SimulationLog,
    params: pl.FactorParams,
    statement_traps: dict,
    seed: int,
    n_stocks: int,
    n_days: int,
    start: str,
) -> None:
    t_days = len(open_days)
    # factor returns, long format, from day 1; an industry without members on t-1 has weight 0 in the
    # constraint but still a return (a stock resuming with its stale industry uses it)
    fr = log.factor_returns
    day_i, fac_i = np.nonzero(np.isfinite(fr))
    write_parquet(
        plain_table(
            {
                "trade_date": pa.array(open_days[day_i]),
                "factor": dictionary(fac_i, np.array(FACTORS)),
                "value": fr[day_i, fac_i],
            }
        ),
        truth / "factor_returns.parquet",
    )

    status = final_status(uni, t_days)
    first_l1 = uni.industries.l1[np.searchsorted(uni.industries.stock, np.arange(uni.n))]
    delist = np.full(uni.n, None, dtype=object)
    d = np.flatnonzero(uni.delisted)
    delist[d] = to_yyyymmdd(open_days[uni.end_idx[d]])
    write_parquet(
        plain_table(
            {
                "ts_code": uni.ts_code,
                "board": np.array([ref.BOARDS[b].key for b in uni.board], dtype=object),
                "list_date": to_yyyymmdd(uni.list_date),
                "delist_date": delist,
                "list_status": status,
                "first_l1_code": np.array([ref.SW2021_L1[i][0] for i in first_l1], dtype=object),
                "beta": uni.beta,
                "spec_vol": uni.spec_vol,
                "turnover": uni.turnover,
                "growth": uni.growth,
                "margin": uni.margin,
                "leverage": uni.leverage,
                "cap0": uni.cap0,
                "price0": uni.price0,
                "shares0": uni.shares0,
                "float_frac": uni.float_frac,
                "free_frac": uni.free_frac,
                "adj0": uni.adj0,
                "ipo_pop": uni.ipo_pop,
                "pay_prob": uni.pay_prob,
                "payout": uni.payout,
                "split_price": uni.split_price,
            }
        ),
        truth / "stocks.parquet",
    )

    actions_stock = [s for s, _ in log.splits] + [s for s, _, _ in log.dividends]
    actions_day = [t for _, t in log.splits] + [t for _, t, _ in log.dividends]
    kinds = ["split"] * len(log.splits) + ["dividend"] * len(log.dividends)
    cash = [np.nan] * len(log.splits) + [v for _, _, v in log.dividends]
    order = (
        np.lexsort(
            (
                np.array(kinds, dtype=object).astype(str),
                np.array(actions_stock, dtype=np.int64),
                np.array(actions_day, dtype=np.int64),
            )
        )
        if kinds
        else np.empty(0, dtype=np.int64)
    )
    write_parquet(
        plain_table(
            {
                "trade_date": pa.array(open_days[np.array(actions_day, dtype=np.int64)[order]], pa.date32())
                if kinds
                else pa.array([], pa.date32()),
                "ts_code": np.array([uni.ts_code[actions_stock[i]] for i in order], dtype=object),
                "action": np.array([kinds[i] for i in order], dtype=object),
                "cash_per_share": np.array([cash[i] for i in order], dtype=float),
            }
        ),
        truth / "corporate_actions.parquet",
    )

    lo, hi = pl.regime_bounds(t_days)
    meta = {
        "generator": "ingest.demo",
        "version": META_VERSION,
        "seed": seed,
        "n_stocks": n_stocks,
        "n_days": n_days,
        "start": start,
        "first_date": _date(open_days, 0),
        "last_date": _date(open_days, t_days - 1),
        "risk_free_annual": pl.RISK_FREE_ANNUAL,
        "risk_free_daily": pl.RF_DAILY,
        "regime": {
            "multiplier": pl.REGIME_MULTIPLIER,
            "first_date": _date(open_days, min(lo, t_days - 1)),
            "last_date": _date(open_days, max(min(hi, t_days) - 1, 0)),
            "first_index": lo,
            "end_index": hi,
        },
        "factors": list(FACTORS),
        "styles": list(pl.STYLES),
        "industries": {code: name for code, name, *_ in ref.SW2021_L1},
        "factor_params": params.as_dict(),
        "constants": {
            "beta_coupling": pl.BETA_COUPLING,
            "specific_reversion": pl.SPECIFIC_REVERSION,
            "country_reversion": pl.COUNTRY_REVERSION,
            "industry_reversion": pl.INDUSTRY_REVERSION,
            "specific_t_dof": pl.T_DOF,
            "clip": pl.CLIP,
            "momentum_half_life": pl.MOMENTUM_HALF_LIFE,
            "momentum_lag": pl.MOMENTUM_LAG,
            "momentum_window": pl.MOMENTUM_WINDOW,
            "earnings_yield_weights": pl.EARNINGS_YIELD_WEIGHTS,
            "growth_weights": pl.GROWTH_WEIGHTS,
            "leverage_weights": pl.LEVERAGE_WEIGHTS,
        },
        "definitions": _DEFINITIONS,
        "traps": _trap_listing(uni, open_days, log),
        "statement_traps": {k: {"count": len(v), "rows": v[:50]} for k, v in statement_traps.items()},
        "counts": {
            "ipos_in_history": int((uni.list_idx >= 0).sum()),
            "delisted": int(uni.delisted.sum()),
            "listing_suspended_at_end": int((status == "P").sum()),
            "splits": len(log.splits),
            "dividends": len(log.dividends),
            "limit_clipped_model_rows": log.limit_hits,
            "floor_clipped_rows": log.floor_hits,
            "modeled_rows": log.modeled_rows,
            "industry_changes": int((uni.industries.start >= 0).sum()),
        },
        "files": {
            "factor_returns": "factor_returns.parquet",
            "exposures": "exposures/<YYYY>.parquet",
            "specific": "specific/<YYYY>.parquet",
            "stocks": "stocks.parquet",
            "corporate_actions": "corporate_actions.parquet",
        },
    }
    (truth / "meta.json").write_text(
        json.dumps(meta, ensure_ascii=False, indent=1, sort_keys=True) + "\n", encoding="utf-8"
    )


def _trap_listing(uni: Universe, open_days: np.ndarray, log: SimulationLog) -> dict[str, list[dict]]:
    """Every planted trap with its ts_code and dates (YYYYMMDD), forced ones first under their own names."""
    t_days = len(open_days)
    code = uni.ts_code
    out: dict[str, list[dict]] = {}

    def on(t: int) -> str:
        return _date(open_days, min(max(t, 0), t_days - 1))

    sp = uni.spells
    for name, idx in uni.traps.items():
        i = idx[0]
        entry: dict = {"ts_code": str(code[i])}
        mine = sp.stock == i
        if name.startswith("ipo"):
            entry.update(list_date=on(uni.list_idx[i]), board=ref.BOARDS[uni.board[i]].key)
        elif name == "delisting":
            entry.update(last_trade_date=on(uni.end_idx[i] - 1), delist_date=on(uni.end_idx[i]))
        elif name in ("long_suspension", "relisting", "listing_suspended_at_end"):
            kind = SUSPENSION if name == "long_suspension" else LISTING_SUSPENSION
            j = np.flatnonzero(mine & (sp.kind == kind))[0]
            entry.update(first_missing_date=on(sp.start[j]), days=int(min(sp.end[j], t_days) - sp.start[j]))
            if sp.end[j] < t_days:
                entry["resumed_date"] = on(sp.end[j])
        elif name == "split":
            entry["ex_dates"] = [on(t) for s, t in log.splits if s == i]
        elif name == "dividend":
            entry["ex_dates"] = [on(t) for s, t, _ in log.dividends if s == i]
        elif name == "price_limit":
            entry["shock_dates"] = [on(t) for s, t, _ in uni.forced_shock if s == i]
        elif name == "industry_change":
            ind = uni.industries
            j = np.flatnonzero(ind.stock == i)
            entry.update(
                date=on(ind.start[j[-1]]), from_l1=ref.SW2021_L1[ind.l1[j[0]]][0], to_l1=ref.SW2021_L1[ind.l1[j[-1]]][0]
            )
        out[name] = [entry]
    out["all_ipos"] = [
        {"ts_code": str(code[i]), "list_date": on(uni.list_idx[i])} for i in np.flatnonzero(uni.list_idx >= 0)
    ]
    out["all_delistings"] = [
        {"ts_code": str(code[i]), "delist_date": on(uni.end_idx[i])} for i in np.flatnonzero(uni.delisted)
    ]
    long = sp.end - sp.start >= 20
    out["all_long_spells"] = [
        {
            "ts_code": str(code[s]),
            "kind": "listing_suspension" if k else "suspension",
            "first_missing_date": on(a),
            "resumed_date": on(b) if b < t_days else None,
        }
        for s, a, b, k in zip(sp.stock[long], sp.start[long], sp.end[long], sp.kind[long], strict=True)
    ]
    ind = uni.industries
    out["all_industry_changes"] = [
        {"ts_code": str(code[s]), "date": on(a)}
        for s, a in zip(ind.stock[ind.start >= 0], ind.start[ind.start >= 0], strict=True)
    ]
    return out


_DEFINITIONS = {
    "return_equation": "r - rf = f_country + f_industry(l1 at the stock's previous trading row) + "
    "sum_s X_s(previous trading row) * f_s + specific_return, simple daily returns "
    "close/pre_close - 1; rows with modeled=false (a stock's first row) have no model return, "
    "rows with clipped=true had the model return clipped by the price limit or the 1.00 floor",
    "standardize": "per date over the stocks trading that day: (x - total-cap-weighted mean) / equal-weighted "
    "population std, clip at +-3, then the same standardization once more",
    "orthogonalize": "residual of a sqrt(total cap)-weighted least-squares regression with an intercept",
    "composite": "standardize each descriptor, average the present ones with weights rescaled to sum to 1, "
    "0 when none is present, standardize the result",
    "size": "ln(close * total shares), CNY",
    "beta": "planted per-stock beta b_n (stocks.parquet beta); the time-series beta of a stock on the "
    "cap-weighted market is about 1 + beta_coupling * X_beta",
    "momentum": "sum over the stock's own trading rows i = 21..524 back of 0.5**((i-21)/126) * "
    "(ln(close/pre_close) - ln(1+rf)), a stock's first row contributing no return and rows before it "
    "counting as 0, divided by sum_{i<504} 0.5**(i/126)",
    "volatility": "ln(planted specific vol, stocks.parquet spec_vol), orthogonalized on [1, beta, size]",
    "non_linear_size": "size**3 orthogonalized on [1, size]",
    "liquidity": "ln(planted float turnover level, stocks.parquet turnover), orthogonalized on [1, size]",
    "point_in_time": "a statement version is usable from the first trading day after coalesce(f_ann_date, "
    "ann_date); take the newest period announced, each period at its newest usable version",
    "book_to_price": "BE / ME with BE = total_hldr_eqy_exc_min_int - oth_eqt_tools_p_shr, ME = close * total shares",
    "earnings_yield": "composite of ETOP = TTM n_income_attr_p / ME (0.11) and CETOP = TTM n_cashflow_act / ME "
    "(0.21); TTM = last FY + current YTD - prior-year YTD (the FY itself at a FY; the YTD "
    "annualized when a component is missing)",
    "growth": "composite of EGRO (0.24) and SGRO (0.47): OLS slope of the newest announced FY and up to four "
    "before it (n_income_attr_p, total_revenue; at least 3 present) on the fiscal year, divided by "
    "the mean absolute value (equal to split-adjusted per-share growth)",
    "leverage": "composite of MLEV = (ME + PE + LD) / ME (0.38), DTOA = (LD + total_cur_liab) / total_assets "
    "(0.35), BLEV = (BE + PE + LD) / BE (0.27; missing when BE <= 0), LD = total_ncl, "
    "PE = oth_eqt_tools_p_shr",
    "industry_constraint": "sum_i w_i f_i = 0 with w the total-cap weights of the industries over the stocks "
    "trading on the previous day",
    "factor_returns": "drawn returns (factor_params; the beta style return also carries beta_coupling times the "
    "country shock) plus the part of the specific mean-reversion pull spanned by the day's "
    "exposures (sqrt-cap-weighted regression on industries and styles), so that "
    "specific_return is orthogonal to the exposures apart from its noise",
    "specific_return": "regime * spec_vol * unit-variance t(5) noise + the residual of the pull "
    "-specific_reversion * (cumulative specific log return); forced shocks of the price_limit "
    "trap are added; null where modeled is false",
}
