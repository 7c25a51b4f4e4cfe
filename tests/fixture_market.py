"""Hand fixtures for the descriptor tests of spec section 12 (B1 to B7, C3), planted in a small demo market.

`build_fixture_market(root)` generates a 30-stock x 600-day demo market, builds the market return of its
estimation universe with dbt, then adds fixture stocks and builds the whole warehouse once more. Every fixture
stock is a Beijing Stock Exchange code (`83xxxx.BJ`, exchange BSE), so it is never in the estimation universe
(docs/cne5-choices.md, ESTU rule 5): it cannot move the market return, the cross-sectional statistics or the
fill regressions, yet it gets every raw descriptor, and styles when it has an industry. That keeps the expected
values exact: the market return the fixtures are built from is the one the final build uses.

The fixture stocks are written as extra Parquet files (`raw/tushare/<table>/fixtures.parquet`) beside the demo's
files, in each table's own columns (the staging views read `<table>/*.parquet` by name). Their prices keep every
identity the staging tests check: pre_close is the previous close (adj_factor is 1 throughout), change and
pct_chg follow close and pre_close, the bar bounds open and close, vwap = amount / volume lies in the bar, and
total_mv = close x total_share. Prices are not rounded to the cent, so the returns the models compute are the
planted ones to about 1e-16.

Two kinds of fixtures:
- series stocks (B1 to B7), built from planted excess returns or excess log returns on every market day, with
  chosen share counts, volumes and statements;
- clones (C3) of one demo stock X of the estimation universe: its daily rows, adj_factor, industry spells and a
  chosen subset of its statements under a new code, so that their descriptors are X's (central values of the
  real cross-section) with some descriptors removed.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import yaml

from ingest.demo import generate_demo_market
from ops.build import build
from ops.settings import Paths

PROJECT_ROOT = Path(__file__).resolve().parents[1]
VARS = yaml.safe_load((PROJECT_ROOT / "dbt_project.yml").read_text(encoding="utf-8"))["vars"]
RF = (1.0 + VARS["risk_free_rate_annual"]) ** (1.0 / 252.0) - 1.0  # daily risk-free return (choices page)

MARKET_STOCKS, MARKET_DAYS, MARKET_SEED = 30, 600, 11  # 600 days: RSTR's 504 + 21 days and the 252-day windows fit
FIXTURE_SEED = 20240611
FIXTURE_FILE = "fixtures.parquet"

# Every fixture stock, by role. The codes are not in the demo market (checked when planting).
CODES = {
    "B1_EXACT": "830101.BJ",  # e = 1.5 x market excess return, exactly
    "B1_NOISY": "830102.BJ",  # e = 1.5 x market + N(0, s^2)
    "B2_CONSTANT": "830201.BJ",  # constant excess return
    "B2_BASE": "830202.BJ",  # random excess returns
    "B2_SCALED": "830203.BJ",  # k x B2_BASE's excess returns
    "B3_BASE": "830301.BJ",  # random excess log returns
    "B3_LAST_MONTH": "830302.BJ",  # B3_BASE but for its last 21 returns
    "B3_LAG_21": "830303.BJ",  # B3_BASE with one return changed: lag 21 at the last date
    "B3_LAG_524": "830304.BJ",  # ... lag 524 at the last date (the oldest RSTR term)
    "B3_LAG_525": "830305.BJ",  # ... lag 525 at the last date (just outside the window)
    "B4_TURNOVER": "830401.BJ",  # constant daily float turnover
    "B5_RISING": "830501.BJ",  # positive excess log return every day
    "B5_FALLING": "830502.BJ",  # about -0.6% a day: Z(T) <= -1 for T >= 8 months
    "B6_ZERO": "830601.BJ",  # balance sheet with preferred equity 0 and non-current liabilities 0
    "B6_NULL": "830602.BJ",  # preferred equity null, non-current liabilities 0
    "B6_CONTROL": "830603.BJ",  # preferred equity and non-current liabilities present
    "B7_LINEAR": "830701.BJ",  # fiscal-year net profit and revenue linear in the year, 7 years
    "B7_SPARSE": "830702.BJ",  # the same line, fiscal years 2007, 2008 and 2011 only
    "C3_FULL": "830801.BJ",  # clone of X, every statement
    "C3_NO_CASHFLOW": "830802.BJ",  # clone of X without cash-flow statements: CETOP missing
    "C3_NO_INCOME": "830803.BJ",  # clone of X without income statements: ETOP, EGRO, SGRO missing
    "C3_NONE": "830804.BJ",  # clone of X without income and cash flow: Earnings Yield and Growth all missing
    "C3_NO_INDUSTRY": "830805.BJ",  # as C3_NONE, without industry membership
}

# Planted parameters the tests check against.
B1_NOISE_SD = 0.02  # s, daily
B2_SCALE = 2.5  # k
B2_CONSTANT_EXCESS = 0.002
B3_CHANGE = 0.05  # added to one excess log return
B4_TURNOVER = 0.0123  # tau: volume / float shares, per day
B4_FLOAT_SHARE, B4_TOTAL_SHARE = 40_000.0, 100_000.0  # 10k shares (Tushare units); total != float on purpose
B7_BASE_YEAR = 2005
B7_PROFIT = (100_000_000.0, 15_000_000.0)  # net profit of fiscal year Y = a + b (Y - 2005), CNY
B7_REVENUE = (1_200_000_000.0, 80_000_000.0)
B7_YEARS = {"B7_LINEAR": tuple(range(2005, 2012)), "B7_SPARSE": (2007, 2008, 2011)}
B6_ANNOUNCEMENT_INDEX = 300  # trading_day_index of the day the balance sheets are announced
B6_SHEETS = {
    # total_assets, total_cur_liab, total_ncl, oth_eqt_tools_p_shr, total_hldr_eqy_exc_min_int (CNY)
    "B6_ZERO": (2.0e9, 5.0e8, 0.0, 0.0, 1.5e9),
    "B6_NULL": (2.0e9, 5.0e8, 0.0, None, 1.5e9),
    "B6_CONTROL": (2.5e9, 4.0e8, 3.0e8, 2.0e8, 1.5e9),
}
GENERIC_SHARES = (100_000.0, 60_000.0)  # total and float shares of the series stocks, 10k shares
GENERIC_VOLUME = 30_000.0  # lots per day


@dataclass
class FixtureMarket:
    paths: Paths  # the planted market, fully built
    unplanted_db: Path  # the build of the demo market alone, through int_barra__market_return
    dates: list[str]  # trading days YYYYMMDD, position = trading_day_index
    market_return: np.ndarray  # market excess return per trading_day_index (NaN where none), unplanted build
    clone_source: str = ""  # X, the demo stock the C3 fixtures are cloned from
    excess_return: dict[str, np.ndarray] = field(default_factory=dict)  # planted e per day (series stocks)
    excess_log_return: dict[str, np.ndarray] = field(default_factory=dict)  # planted l per day
    changed_day: dict[str, int] = field(default_factory=dict)  # B3: the day whose l was changed by B3_CHANGE
    closes: dict[str, np.ndarray] = field(default_factory=dict)
    total_share: dict[str, float] = field(default_factory=dict)  # 10k shares
    announcement: dict[int, int] = field(default_factory=dict)  # B7: fiscal year -> trading_day_index (or -1)

    @property
    def last(self) -> int:
        return len(self.dates) - 1

    def total_mv_cny(self, name: str) -> np.ndarray:
        return self.closes[name] * self.total_share[name] * 1e4


def b7_value(line: tuple[float, float], year: int) -> float:
    a, b = line
    return a + b * (year - B7_BASE_YEAR)


# ---------------------------------------------------------------- raw files


def _read(raw: Path, table: str) -> pd.DataFrame:
    frame = pd.concat([pq.read_table(p).to_pandas() for p in sorted((raw / "tushare" / table).glob("*.parquet"))])
    for column in frame.columns:
        if isinstance(frame[column].dtype, pd.CategoricalDtype):
            frame[column] = frame[column].astype(str)
    return frame.reset_index(drop=True)


def _write(raw: Path, table: str, rows: pd.DataFrame) -> None:
    """Write rows as raw/tushare/<table>/fixtures.parquet with the columns and types of the table's files
    (dictionary-encoded strings written as plain strings; columns the rows lack are null)."""
    folder = raw / "tushare" / table
    template = pq.read_schema(next(p for p in sorted(folder.glob("*.parquet")) if p.name != FIXTURE_FILE))
    schema = pa.schema(
        [pa.field(f.name, f.type.value_type if pa.types.is_dictionary(f.type) else f.type) for f in template]
    )
    frame = rows.reindex(columns=schema.names)
    for f in schema:
        if pa.types.is_string(f.type):
            frame[f.name] = frame[f.name].astype(object).where(frame[f.name].notna(), None)
        elif pa.types.is_floating(f.type):
            frame[f.name] = frame[f.name].astype("float64")
    pq.write_table(pa.Table.from_pandas(frame, schema=schema, preserve_index=False), folder / FIXTURE_FILE)


def _trading_days(raw: Path) -> list[str]:
    cal = _read(raw, "trade_cal")
    return sorted(cal.loc[cal["is_open"] == 1, "cal_date"].astype(str))


def _first_day_on_or_after(dates: list[str], day: str) -> int:
    return next(i for i, d in enumerate(dates) if d >= day)


# ---------------------------------------------------------------- series stocks


def closes_from_excess(e: np.ndarray, start: float) -> np.ndarray:
    """Closes whose simple excess return on day t >= 1 is e[t] (e[0] unused: the first row has no return)."""
    growth = 1.0 + RF + np.asarray(e, float)
    growth[0] = 1.0
    return start * np.cumprod(growth)


def closes_from_log(l: np.ndarray, start: float) -> np.ndarray:  # noqa: E741
    """Closes whose excess log return ln(close_t / close_t-1) - ln(1 + rf) on day t >= 1 is l[t]."""
    steps = np.asarray(l, float) + np.log1p(RF)
    steps[0] = 0.0
    return start * np.exp(np.cumsum(steps))


def _price_rows(code: str, dates: list[str], close: np.ndarray, volume_lots: np.ndarray, shares: tuple[float, float]):
    total_share, float_share = shares
    pre_close = np.concatenate([[close[0]], close[:-1]])
    open_ = pre_close
    vwap = (open_ + close) / 2.0
    daily = pd.DataFrame(
        {
            "ts_code": code,
            "trade_date": dates,
            "open": open_,
            "high": np.maximum(open_, close),
            "low": np.minimum(open_, close),
            "close": close,
            "pre_close": pre_close,
            "change": np.round(close - pre_close, 2),
            "pct_chg": np.round(100.0 * (close / pre_close - 1.0), 4),
            "vol": volume_lots,
            "amount": volume_lots * 100.0 * vwap / 1000.0,  # thousand CNY
        }
    )
    turnover_percent = volume_lots * 100.0 / (float_share * 1e4) * 100.0
    basic = pd.DataFrame(
        {
            "ts_code": code,
            "trade_date": dates,
            "close": close,
            "turnover_rate": turnover_percent,
            "turnover_rate_f": turnover_percent,
            "total_share": total_share,
            "float_share": float_share,
            "free_share": float_share,
            "total_mv": close * total_share,  # 10k CNY
            "circ_mv": close * float_share,
        }
    )
    adj = pd.DataFrame({"ts_code": code, "trade_date": dates, "adj_factor": 1.0})
    return daily, basic, adj


def _statement(code: str, end_date: str, ann_date: str, **amounts) -> dict:
    return {
        "ts_code": code,
        "ann_date": ann_date,
        "f_ann_date": ann_date,
        "end_date": end_date,
        "report_type": "1",
        "comp_type": "1",
        "end_type": str(int(end_date[4:6]) // 3),
        "update_flag": "1",
        **amounts,
    }


# ---------------------------------------------------------------- the clone source


def choose_clone_source(raw: Path, dates: list[str]) -> str:
    """X: a Shanghai or Shenzhen stock with income and cash-flow statements, trading on the first and the last
    day, in an industry with at least two other such stocks (peers for the fill), whose P/E (TTM) on the last
    day is the closest to the median of those stocks (central earnings yield: not an outlier, not clipped)."""
    basic = _read(raw, "stock_basic")
    daily = _read(raw, "daily")
    first, last = (set(daily.loc[daily["trade_date"] == d, "ts_code"]) for d in (dates[0], dates[-1]))
    members = _read(raw, "index_member_all")
    current = members[members["out_date"].isna()].set_index("ts_code")["l1_code"]
    with_statements = set(_read(raw, "income")["ts_code"]) & set(_read(raw, "cashflow")["ts_code"])
    listed = basic[basic["exchange"].isin(["SSE", "SZSE"]) & (basic["list_status"] == "L")]["ts_code"]
    candidates = [c for c in listed if c in first and c in last and c in with_statements and c in current.index]
    industry = current.loc[candidates]
    candidates = [c for c in candidates if (industry == industry[c]).sum() >= 3]
    valuation = _read(raw, "daily_basic")
    pe = valuation[(valuation["trade_date"] == dates[-1]) & valuation["ts_code"].isin(candidates)]
    pe = pe.set_index("ts_code")["pe_ttm"].dropna()
    assert len(pe) >= 3, "the demo market has no industry with three candidate stocks; change MARKET_SEED"
    return str((pe - pe.median()).abs().idxmin())


def _clone(raw: Path, source: str, code: str, keep: tuple[str, ...], industry: bool) -> dict[str, pd.DataFrame]:
    """The rows of `source` under `code`: prices, adjustment factors, industry spells (if `industry`) and the
    statement tables in `keep` (the clone's own stock_basic row, a Beijing listing, comes from `listing`)."""
    rows: dict[str, pd.DataFrame] = {}
    for table in ("daily", "daily_basic", "adj_factor", *keep, *(("index_member_all",) if industry else ())):
        frame = _read(raw, table)
        rows[table] = frame[frame["ts_code"] == source].assign(ts_code=code)
    return rows


# ---------------------------------------------------------------- planting


def plant(raw: Path, market: FixtureMarket) -> None:
    """Write every fixture stock of CODES into raw/tushare/*/fixtures.parquet and record what was planted."""
    rng = np.random.default_rng(FIXTURE_SEED)
    dates, n = market.dates, len(market.dates)
    existing = set(_read(raw, "stock_basic")["ts_code"])
    assert not existing & set(CODES.values()), "a fixture code collides with a demo stock"
    tables: dict[str, list[pd.DataFrame]] = {}

    def add(table: str, frame: pd.DataFrame) -> None:
        tables.setdefault(table, []).append(frame)

    members = _read(raw, "index_member_all")
    x = market.clone_source = choose_clone_source(raw, dates)
    x_industry = members[(members["ts_code"] == x) & members["out_date"].isna()].iloc[0]

    def listing(name: str, with_industry: bool = True) -> None:
        """A Beijing listing since 2005 and, for the series stocks, X's current industry (from 2005)."""
        code = CODES[name]
        add(
            "stock_basic",
            pd.DataFrame(
                [
                    {
                        "ts_code": code,
                        "symbol": code[:6],
                        "name": f"夹具{name}",
                        "area": "北京",
                        "industry": "夹具",
                        "market": "北交所",
                        "exchange": "BSE",
                        "list_status": "L",
                        "list_date": "20050104",
                    }
                ]
            ),
        )
        if with_industry:
            spell = x_industry.copy()
            spell["ts_code"], spell["name"], spell["in_date"] = code, f"夹具{name}", "20050104"
            add("index_member_all", spell.to_frame().T)

    def series(name: str, close: np.ndarray, volume: np.ndarray | None = None, shares=GENERIC_SHARES) -> None:
        listing(name)
        volume = np.full(n, GENERIC_VOLUME) if volume is None else volume
        for table, frame in zip(
            ("daily", "daily_basic", "adj_factor"), _price_rows(CODES[name], dates, close, volume, shares), strict=True
        ):
            add(table, frame)
        market.closes[name], market.total_share[name] = close, shares[0]

    def from_excess(name: str, e: np.ndarray, start: float = 20.0, **kw) -> None:
        market.excess_return[name] = e
        series(name, closes_from_excess(e, start), **kw)

    def from_log(name: str, l: np.ndarray, start: float = 20.0, **kw) -> None:  # noqa: E741
        market.excess_log_return[name] = l
        series(name, closes_from_log(l, start), **kw)

    # B1: on days with a market return, e = 1.5 m (exactly) or 1.5 m + N(0, s^2); other days filler.
    m = market.market_return
    filler = rng.normal(0.0, 0.01, n)
    exact = np.where(np.isnan(m), filler, 1.5 * np.nan_to_num(m))
    from_excess("B1_EXACT", exact)
    from_excess("B1_NOISY", exact + rng.normal(0.0, B1_NOISE_SD, n))

    # B2: a constant excess return; a random series and k times it.
    from_excess("B2_CONSTANT", np.full(n, B2_CONSTANT_EXCESS))
    base = rng.normal(0.0, 0.015, n)
    from_excess("B2_BASE", base)
    from_excess("B2_SCALED", B2_SCALE * base)

    # B3: one series of excess log returns and four variants of it.
    l3 = rng.normal(0.0004, 0.018, n)
    from_log("B3_BASE", l3)
    last_month = l3.copy()
    last_month[n - 21 :] = rng.normal(0.0, 0.03, 21)
    from_log("B3_LAST_MONTH", last_month)
    for name, lag in (("B3_LAG_21", 21), ("B3_LAG_524", 524), ("B3_LAG_525", 525)):
        changed = l3.copy()
        changed[n - 1 - lag] += B3_CHANGE
        market.changed_day[name] = n - 1 - lag
        from_log(name, changed)

    # B4: volume (lots) = tau x float shares every day.
    lots = np.full(n, B4_TURNOVER * B4_FLOAT_SHARE * 1e4 / 100.0)
    from_excess("B4_TURNOVER", rng.normal(0.0, 0.015, n), volume=lots, shares=(B4_TOTAL_SHARE, B4_FLOAT_SHARE))

    # B5: monotone cumulative returns.
    from_log("B5_RISING", rng.uniform(0.0005, 0.004, n))
    from_log("B5_FALLING", -rng.uniform(0.004, 0.008, n), start=200.0)

    # B6: one balance sheet (period 2010-12-31), announced on B6_ANNOUNCEMENT_INDEX.
    announced = dates[B6_ANNOUNCEMENT_INDEX]
    for name, (assets, current, non_current, preferred, parent) in B6_SHEETS.items():
        from_log(name, rng.normal(0.0002, 0.015, n), start=15.0)
        sheet = {
            "total_share": GENERIC_SHARES[0] * 1e4,
            "total_assets": assets,
            "total_cur_liab": current,
            "total_ncl": non_current,
            "total_liab": current + non_current,
            "oth_eqt_tools_p_shr": preferred,
            "total_hldr_eqy_exc_min_int": parent,
        }
        add("balancesheet", pd.DataFrame([_statement(CODES[name], "20101231", announced, **sheet)]))

    # B7: fiscal-year statements only, announced on the first trading day on or after 15 April of the next
    # year (before the first market day: on 15 April itself).
    for year in range(B7_BASE_YEAR, 2012):
        day = f"{year + 1}0415"
        market.announcement[year] = _first_day_on_or_after(dates, day) if day >= dates[0] else -1
    for name, years in B7_YEARS.items():
        from_log(name, rng.normal(0.0002, 0.015, n), start=12.0)
        rows = []
        for year in years:
            index = market.announcement[year]
            rows.append(
                _statement(
                    CODES[name],
                    f"{year}1231",
                    dates[index] if index >= 0 else f"{year + 1}0415",
                    n_income_attr_p=b7_value(B7_PROFIT, year),
                    n_income=b7_value(B7_PROFIT, year),
                    total_revenue=b7_value(B7_REVENUE, year),
                    revenue=b7_value(B7_REVENUE, year),
                )
            )
        add("income", pd.DataFrame(rows))

    # C3: clones of X.
    clones = {
        "C3_FULL": (("income", "balancesheet", "cashflow"), True),
        "C3_NO_CASHFLOW": (("income", "balancesheet"), True),
        "C3_NO_INCOME": (("balancesheet", "cashflow"), True),
        "C3_NONE": (("balancesheet",), True),
        "C3_NO_INDUSTRY": (("balancesheet",), False),
    }
    for name, (keep, industry) in clones.items():
        listing(name, with_industry=False)
        for table, frame in _clone(raw, x, CODES[name], keep, industry).items():
            add(table, frame)

    for table, frames in tables.items():
        _write(raw, table, pd.concat(frames, ignore_index=True))


# ---------------------------------------------------------------- the two builds


def build_fixture_market(root: Path) -> FixtureMarket:
    """Generate the demo market, build its market return, plant the fixtures, build everything."""
    paths = Paths.from_env(data_dir=root / "data", duckdb_path=root / "data" / "warehouse.duckdb")
    generate_demo_market(paths.raw_dir, MARKET_STOCKS, MARKET_DAYS, MARKET_SEED)
    dates = _trading_days(paths.raw_dir)

    unplanted = Paths.from_env(data_dir=paths.data_dir, duckdb_path=root / "unplanted.duckdb")
    build(
        unplanted,
        select="+int_barra__market_return",
        full_refresh=True,
        run_tests=False,
        target_path=root / "target_unplanted",
        echo=False,
    )
    with duckdb.connect(str(unplanted.duckdb_path), read_only=True) as con:
        returns = con.execute(
            "select trading_day_index, market_excess_return from intermediate.int_barra__market_return"
        ).fetchall()
    market_return = np.full(len(dates), np.nan)
    for index, value in returns:
        market_return[index] = value

    market = FixtureMarket(paths=paths, unplanted_db=unplanted.duckdb_path, dates=dates, market_return=market_return)
    plant(paths.raw_dir, market)
    build(paths, full_refresh=True, run_tests=False, target_path=root / "target", echo=False)
    return market
