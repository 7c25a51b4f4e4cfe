"""Spec test B8, no look-ahead: exposures (and every input model) dated D do not change when the
data dated after D changes: prices after D, and statements that became known on D or later
(usable only from the next trading day). Both markets are built in full, with no as-of date."""

from __future__ import annotations

import shutil
from pathlib import Path

import duckdb
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from ingest.demo import generate_demo_market
from ops.build import build
from tests.conftest import market_paths

pytestmark = pytest.mark.dbt

PRICE_FACTOR = 1.05  # every price after D, five percent higher
STATEMENT_FACTOR = 1.3  # every amount of a statement known on D or later
MODELS = [
    ("intermediate", "int_barra__universe"),
    ("intermediate", "int_barra__market_return"),
    ("intermediate", "int_barra__fundamentals"),
    ("intermediate", "int_barra__return_windows"),
    ("intermediate", "int_barra__descriptors"),
    ("marts", "fct_barra_exposures"),
]


def _rewrite(raw: Path, name: str, change) -> None:
    """Apply `change` (a function of a pandas frame) to every file of a raw table, keeping its schema."""
    for path in sorted((raw / "tushare" / name).glob("*.parquet")):
        table = pq.read_table(path)
        frame = change(table.to_pandas())
        pq.write_table(pa.Table.from_pandas(frame, schema=table.schema, preserve_index=False), path)


def perturb_after(raw: Path, day: str) -> None:
    """Scale prices after `day` (YYYYMMDD) and statements known on `day` or later, in place,
    keeping every identity the staging tests check (pre_close, pct_chg, change, vwap)."""

    def daily(f: pd.DataFrame) -> pd.DataFrame:
        f = f.sort_values(["ts_code", "trade_date"]).reset_index(drop=True)
        after = f["trade_date"].astype(str) > day
        previous_after = (f["ts_code"] == f["ts_code"].shift()) & (f["trade_date"].astype(str).shift() > day)
        for column in ("open", "high", "low", "close", "amount"):
            f.loc[after, column] *= PRICE_FACTOR
        # pre_close moves too, except on a stock's first row after the day (its previous close is
        # on or before the day): there the move shows as a return.
        f.loc[previous_after, "pre_close"] *= PRICE_FACTOR
        f["change"] = f["close"] - f["pre_close"]
        f["pct_chg"] = (f["close"] / f["pre_close"] - 1.0) * 100.0
        return f

    def daily_basic(f: pd.DataFrame) -> pd.DataFrame:
        after = f["trade_date"].astype(str) > day
        for column in ("close", "total_mv", "circ_mv"):
            f.loc[after, column] *= PRICE_FACTOR
        return f

    def statement(f: pd.DataFrame) -> pd.DataFrame:
        known = f["f_ann_date"].fillna(f["ann_date"]).astype(str)
        late = known >= day
        amounts = [c for c in f.columns if f[c].dtype.kind == "f" and not c.endswith("_eps")]
        f.loc[late, amounts] *= STATEMENT_FACTOR
        return f

    _rewrite(raw, "daily", daily)
    _rewrite(raw, "daily_basic", daily_basic)
    for name in ("income", "balancesheet", "cashflow"):
        _rewrite(raw, name, statement)


def rows(db: Path, schema: str, table: str, condition: str) -> set[tuple]:
    with duckdb.connect(str(db), read_only=True) as con:
        return set(con.execute(f"select * from {schema}.{table} where {condition}").fetchall())


def test_exposures_of_d_ignore_everything_after_d(tmp_path_factory):
    original = market_paths(tmp_path_factory.mktemp("original"))
    generate_demo_market(original.raw_dir, 30, 420, 5)
    perturbed = market_paths(tmp_path_factory.mktemp("perturbed"))
    shutil.copytree(original.raw_dir, perturbed.raw_dir)
    with duckdb.connect() as con:
        # D: a trading day late in the history on which an income statement became known, so that
        # a one-day look-ahead (using a statement on its own announcement day) would show.
        (day,) = con.execute(
            """
            with days as (
                select cal_date from read_parquet(?) where is_open = 1 order by cal_date limit 1 offset 350
            )
            select min(coalesce(i.f_ann_date, i.ann_date))
            from read_parquet(?) as i, days as d
            where coalesce(i.f_ann_date, i.ann_date) >= d.cal_date
                and coalesce(i.f_ann_date, i.ann_date) in (select cal_date from read_parquet(?) where is_open = 1)
            """,
            [
                str(original.raw_dir / "tushare" / "trade_cal" / "*.parquet"),
                str(original.raw_dir / "tushare" / "income" / "*.parquet"),
                str(original.raw_dir / "tushare" / "trade_cal" / "*.parquet"),
            ],
        ).fetchone()
    perturb_after(perturbed.raw_dir, day)

    for paths, target in ((original, "t_original"), (perturbed, "t_perturbed")):
        build(paths, full_refresh=True, run_tests=False, target_path=tmp_path_factory.mktemp(target), echo=False)

    until = f"trade_date <= strptime('{day}', '%Y%m%d')::date"
    after = f"trade_date > strptime('{day}', '%Y%m%d')::date"
    for schema, table in MODELS:
        before_original = rows(original.duckdb_path, schema, table, until)
        assert len(before_original) > 100, f"{table}: too few rows to prove anything"
        assert rows(perturbed.duckdb_path, schema, table, until) == before_original, (
            f"{table} changed on or before {day}"
        )
    # The perturbation is real: exposures after the day do change.
    assert rows(perturbed.duckdb_path, "marts", "fct_barra_exposures", after) != rows(
        original.duckdb_path, "marts", "fct_barra_exposures", after
    )
