"""The prefix property: a warehouse built incrementally day by day holds exactly the rows of a
full build ending on the same day, for every incremental model."""

from __future__ import annotations

import json

import duckdb
import pytest

from ops.build import build
from ops.settings import Paths
from riskmodel.chunked import chunk_days
from riskmodel.params import DEFAULT
from tests.incremental_harness import compare, incremental_models

pytestmark = pytest.mark.dbt


def trading_days(paths) -> list[str]:
    with duckdb.connect() as con:
        rows = con.execute(
            "select strptime(cal_date, '%Y%m%d')::date from read_parquet(?) where is_open = 1 order by 1",
            [str(paths.raw_dir / "tushare" / "trade_cal" / "*.parquet")],
        ).fetchall()
    return [r[0].isoformat() for r in rows]


def incremental_steps(paths, days: list[str]) -> tuple[str, list[str]]:
    """An initial full build's end date and the end dates of the incremental runs after it.

    The steps straddle the days where incremental logic is most likely to break: the return
    of the long-suspended and of the relisted stock, an IPO and a delisting (from the planted
    truth), then single days, a multi-day catch-up and the last day.
    """
    meta = json.loads((paths.truth_dir / "meta.json").read_text())
    events = sorted({d for d in _event_dates(meta) if days[len(days) // 3] < d < days[-3]})
    steps = []
    for d in events[:4]:  # the event day alone; the next step catches up from the day after it
        i = days.index(d)
        steps += [days[i - 1], days[i]]
    steps += [days[-3], days[-1]]  # two single days apart: the last step catches up two days
    # the risk models restart their running sums at each chunk of trading days: the chunk's first day
    # alone, then its second day alone
    chunk = chunk_days(DEFAULT)
    steps += [days[chunk - 1], days[chunk], days[chunk + 1]]
    steps = sorted(set(steps))
    first_full = days[days.index(steps[0]) - 1]
    return first_full, steps


def _event_dates(meta: dict) -> list[str]:
    """Event dates recorded in the truth metadata (ISO strings or YYYYMMDD), wherever they sit."""
    found = []

    def walk(x):
        if isinstance(x, dict):
            for v in x.values():
                walk(v)
        elif isinstance(x, list):
            for v in x:
                walk(v)
        elif isinstance(x, str) and len(x) in (8, 10) and x[:2] in ("19", "20"):
            s = x.replace("-", "")
            if s.isdigit():
                found.append(f"{s[:4]}-{s[4:6]}-{s[6:]}")

    walk(meta.get("traps", meta))
    return found


def test_incremental_build_equals_full_build(market, tmp_path):
    days = trading_days(market)
    first_full, steps = incremental_steps(market, days)
    assert len(steps) >= 3

    full = Paths(data_dir=market.data_dir, duckdb_path=tmp_path / "full.duckdb")
    build(
        full,
        full_refresh=True,
        end_date=days[-1],
        run_tests=False,
        target_path=tmp_path / "t_full",
        echo=False,
    )

    inc = Paths(data_dir=market.data_dir, duckdb_path=tmp_path / "incremental.duckdb")
    build(
        inc,
        full_refresh=True,
        end_date=first_full,
        run_tests=False,
        target_path=tmp_path / "t_inc",
        echo=False,
    )
    for end_date in steps:
        build(inc, end_date=end_date, run_tests=False, target_path=tmp_path / "t_inc", echo=False)

    models = incremental_models(tmp_path / "t_full")
    assert {m.name for m in models} >= {
        "int_prices__daily",
        "int_returns__daily",
        "int_market__daily_return",
        "int_security__trading_gaps",
        "int_risk__factor_covariance_eigen",
        "int_risk__specific_volatility",
        "fct_factor_covariance",
        "fct_specific_risk",
    }
    differences = [compare(full.duckdb_path, inc.duckdb_path, m) for m in models]
    for d in differences:
        assert d.rows_full > 0, f"{d.relation.name} is empty: the comparison would prove nothing"
    broken = [d for d in differences if not d.identical]
    assert not broken, "\n".join(
        f"{d.relation.name}: full {d.rows_full} rows, incremental {d.rows_incremental}; "
        f"{d.only_in_full} only in full, {d.only_in_incremental} only in incremental; e.g. {d.examples}"
        for d in broken
    )


def test_carried_ema_state_equals_full_build_across_block_boundaries(tiny_raw, tmp_path):
    """The EMA models carry exact block sums from the stock's last rows. With blocks of a few rows
    every incremental day starts a block, ends one or sits inside one, so each carrying path runs."""
    small_blocks = ["--vars", json.dumps({"ema_block_rows": 7, "fast_ema_block_rows": 5, "signal_block_rows": 3})]
    market = Paths(data_dir=tiny_raw.parent, duckdb_path=tmp_path / "unused.duckdb")
    days = trading_days(market)
    # only the EMA models and what they read: the rest of the project has its own harness above
    common = {
        "run_tests": False,
        "echo": False,
        "extra_args": small_blocks,
        "select": "+int_features__smoothed +int_features__macd_signal",
    }

    full = Paths(data_dir=market.data_dir, duckdb_path=tmp_path / "full.duckdb")
    build(full, full_refresh=True, end_date=days[-1], target_path=tmp_path / "t_full", **common)

    inc = Paths(data_dir=market.data_dir, duckdb_path=tmp_path / "incremental.duckdb")
    build(inc, full_refresh=True, end_date=days[-12], target_path=tmp_path / "t_inc", **common)
    for end_date in [*days[-11:-3], days[-1]]:  # single days, then a three-day catch-up
        build(inc, end_date=end_date, target_path=tmp_path / "t_inc", **common)

    for name in ("int_features__smoothed", "int_features__macd_signal"):
        (model,) = [m for m in incremental_models(tmp_path / "t_full") if m.name == name]
        d = compare(full.duckdb_path, inc.duckdb_path, model)
        assert d.rows_full > 0
        assert d.identical, f"{name}: {d.only_in_full} vs {d.only_in_incremental} differing rows; {d.examples}"
