"""The bad-input corpus: each broken raw input stops the build with an error that names the
table (or file), the key and the rule. A clean copy of the same market builds: the errors come
from the damage, not from the market."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from ingest.raw_contract import RawContractError
from ops.build import build
from ops.dbt_runner import DbtFailed
from ops.settings import Paths

pytestmark = pytest.mark.dbt


# ---------------------------------------------------------------- helpers on raw files


def table_files(paths: Paths, table: str) -> list[Path]:
    return sorted((paths.raw_dir / "tushare" / table).glob("*.parquet"))


def read(path: Path) -> pd.DataFrame:
    t = pq.read_table(path)
    plain = pa.schema([f.with_type(f.type.value_type) if pa.types.is_dictionary(f.type) else f for f in t.schema])
    return t.cast(plain).to_pandas()


def write(path: Path, df: pd.DataFrame) -> None:
    pq.write_table(pa.Table.from_pandas(df, preserve_index=False), path)


def traded_row(df: pd.DataFrame, n_following: int = 1) -> int:
    """Index of a row in the middle of the file whose stock trades again afterwards."""
    counts = df.groupby("ts_code")["trade_date"].transform("count")
    ranks = df.groupby("ts_code")["trade_date"].rank()
    candidates = df.index[(counts > 10) & (ranks > 3) & (ranks < counts - n_following)]
    return int(candidates[len(candidates) // 2])


def iso(yyyymmdd: str) -> str:
    return dt.datetime.strptime(yyyymmdd, "%Y%m%d").date().isoformat()


def assert_build_fails(paths: Paths, tmp_path: Path, *fragments: str) -> str:
    with pytest.raises((DbtFailed, RawContractError)) as err:
        build(paths, full_refresh=True, target_path=tmp_path / "target", echo=False)
    message = str(err.value)
    for fragment in fragments:
        assert fragment in message, f"{fragment!r} not in error:\n{message}"
    return message


# ---------------------------------------------------------------- the control


def test_undamaged_copy_builds(tiny_copy, tmp_path):
    build(tiny_copy, full_refresh=True, target_path=tmp_path / "target", echo=False)


# ---------------------------------------------------------------- damaged rows in daily


def _daily_row_case(mutate: Callable[[pd.DataFrame, int], None]) -> Callable[[Paths], tuple[str, str]]:
    def apply(paths: Paths) -> tuple[str, str]:
        path = table_files(paths, "daily")[0]
        df = read(path)
        i = traded_row(df)
        mutate(df, i)
        write(path, df)
        return df.at[i, "ts_code"], iso(df.at[i, "trade_date"])

    return apply


def _duplicate(df: pd.DataFrame, i: int) -> None:
    df.loc[len(df)] = df.loc[i]


def _set(**values) -> Callable[[pd.DataFrame, int], None]:
    def mutate(df: pd.DataFrame, i: int) -> None:
        for k, v in values.items():
            df.at[i, k] = v

    return mutate


def _unexplained_jump(df: pd.DataFrame, i: int) -> None:
    """A 500% one-day return in close that adj_factor does not explain (high, change and
    pct_chg made consistent, as a vendor error would be)."""
    close = df.at[i, "close"] * 6
    df.at[i, "close"] = close
    df.at[i, "high"] = max(df.at[i, "high"], close)
    df.at[i, "change"] = round(close - df.at[i, "pre_close"], 2)
    df.at[i, "pct_chg"] = round(100 * (close / df.at[i, "pre_close"] - 1), 4)


def _on_a_sunday(df: pd.DataFrame, i: int) -> None:
    d = dt.datetime.strptime(df.at[i, "trade_date"], "%Y%m%d").date()
    sunday = d + dt.timedelta(days=6 - d.weekday())
    df.at[i, "trade_date"] = sunday.strftime("%Y%m%d")


@pytest.mark.parametrize(
    ("mutate", "rule"),
    [
        pytest.param(_duplicate, "unique_key_stg_tushare__daily", id="duplicate-key"),
        pytest.param(_set(close=-5.0), "stg_tushare__daily__prices_positive", id="negative-price"),
        pytest.param(_set(open=0.0), "stg_tushare__daily__prices_positive", id="zero-price"),
        pytest.param(_unexplained_jump, "int_returns__daily__return_explained_by_adj_factor", id="500pct-return"),
        pytest.param(_on_a_sunday, "on_trading_day_stg_tushare__daily", id="date-on-closed-day"),
    ],
)
def test_damaged_daily_row_names_key_and_rule(tiny_copy, tmp_path, mutate, rule):
    ts_code, trade_date = _daily_row_case(mutate)(tiny_copy)
    if mutate is _on_a_sunday:
        d = dt.date.fromisoformat(trade_date)
        trade_date = (d + dt.timedelta(days=6 - d.weekday())).isoformat()
    assert_build_fails(tiny_copy, tmp_path, rule, f"ts_code={ts_code}", f"trade_date={trade_date}")


def test_amount_in_cny_instead_of_thousands(tiny_copy, tmp_path):
    path = table_files(tiny_copy, "daily")[0]
    df = read(path)
    df["amount"] = df["amount"] * 1000  # a dump that forgot Tushare's unit
    write(path, df)
    assert_build_fails(
        tiny_copy,
        tmp_path,
        "stg_tushare__daily__vwap_inside_bar",
        "on table stg_tushare__daily",
        "ts_code=",
        f"source_file={path}",
    )


def test_volume_in_shares_instead_of_lots(tiny_copy, tmp_path):
    path = table_files(tiny_copy, "daily")[0]
    df = read(path)
    df["vol"] = df["vol"] * 100
    write(path, df)
    assert_build_fails(tiny_copy, tmp_path, "stg_tushare__daily__vwap_inside_bar", "ts_code=")


# ---------------------------------------------------------------- adjustment factors


def test_missing_adj_factor_for_a_traded_day(tiny_copy, tmp_path):
    daily = read(table_files(tiny_copy, "daily")[0])
    i = traded_row(daily)
    ts_code, trade_date = daily.at[i, "ts_code"], daily.at[i, "trade_date"]
    path = table_files(tiny_copy, "adj_factor")[0]
    adj = read(path)
    adj = adj[~((adj.ts_code == ts_code) & (adj.trade_date == trade_date))]
    write(path, adj)
    assert_build_fails(
        tiny_copy,
        tmp_path,
        "not_null_int_prices__daily_adj_factor",
        f"ts_code={ts_code}",
        f"trade_date={iso(trade_date)}",
    )


def test_adj_factor_jump_without_ex_rights(tiny_copy, tmp_path):
    """A vendor adj_factor that doubles with no ex-rights in the prices (tushare issues 1165/1166)."""
    daily = read(table_files(tiny_copy, "daily")[0])
    i = traded_row(daily)
    ts_code, trade_date = daily.at[i, "ts_code"], daily.at[i, "trade_date"]
    path = table_files(tiny_copy, "adj_factor")[0]
    adj = read(path)
    later = (adj.ts_code == ts_code) & (adj.trade_date >= trade_date)
    adj.loc[later, "adj_factor"] *= 2
    write(path, adj)
    assert_build_fails(
        tiny_copy,
        tmp_path,
        "assert_pre_close_matches_adjusted_previous_close",
        f"ts_code={ts_code}",
        f"trade_date={iso(trade_date)}",
    )


# ---------------------------------------------------------------- dates out of order


def test_delist_date_before_list_date(tiny_copy, tmp_path):
    path = table_files(tiny_copy, "stock_basic")[0]
    df = read(path)
    ts_code = df.at[0, "ts_code"]
    df.at[0, "delist_date"] = "19900101"
    write(path, df)
    assert_build_fails(tiny_copy, tmp_path, "stg_tushare__stock_basic__delist_after_list", f"ts_code={ts_code}")


def test_statement_announced_before_its_period_ends(tiny_copy, tmp_path):
    path = table_files(tiny_copy, "income")[0]
    df = read(path)
    i = len(df) // 2
    end = dt.datetime.strptime(df.at[i, "end_date"], "%Y%m%d").date()
    df.at[i, "ann_date"] = (end - dt.timedelta(days=30)).strftime("%Y%m%d")
    df.at[i, "f_ann_date"] = df.at[i, "ann_date"]
    write(path, df)
    assert_build_fails(
        tiny_copy,
        tmp_path,
        "stg_tushare__income_ann_date",
        f"ts_code={df.at[i, 'ts_code']}",
        f"end_date={end.isoformat()}",
    )


# ---------------------------------------------------------------- broken files


@pytest.mark.parametrize(
    ("damage", "rule"),
    [
        pytest.param(
            lambda df: df.drop(columns=["vol"]),
            "rule 'required column' failed: column 'vol'",
            id="missing-column",
        ),
        pytest.param(
            lambda df: df.assign(close=df["close"].astype(str)),
            "rule 'column type' failed: column 'close'",
            id="wrong-type",
        ),
        pytest.param(lambda df: df.iloc[0:0], "rule 'non-empty file' failed", id="empty-file"),
    ],
)
def test_broken_daily_file_names_file_and_rule(tiny_copy, tmp_path, damage, rule):
    path = table_files(tiny_copy, "daily")[0]
    write(path, damage(read(path)))
    assert_build_fails(tiny_copy, tmp_path, str(path), "table daily", rule)


def test_truncated_parquet_file(tiny_copy, tmp_path):
    path = table_files(tiny_copy, "daily")[0]
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    assert_build_fails(tiny_copy, tmp_path, str(path), "table daily", "rule 'readable parquet' failed")
