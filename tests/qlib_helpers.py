"""Helpers of the Qlib export tests: read a provider directory with the real Qlib, compute what it must hold
straight from the marts (independently of the exporter), build a warehouse day by day with exports between.
"""

from __future__ import annotations

import filecmp
import json
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd

from exporters.qlib import CRASH_ENV, export_qlib
from ops.build import build
from ops.settings import PROJECT_ROOT, Paths
from riskmodel.daily import STYLES

QLIB_FIELDS = ["open", "high", "low", "close", "vwap", "volume", "factor", "amount", "change"]


def to_qlib(ts_code: str) -> str:
    """600000.SH -> SH600000, written here again so the tests do not trust the exporter's own mapping."""
    digits, exchange = ts_code.split(".")
    return exchange + digits


# --- reading with Qlib ---------------------------------------------------------------------------------------


def qlib_init(root: Path) -> None:
    """Point Qlib at ``root``. qlib.init clears its in-memory caches (calendar, instruments), so re-initialising
    for another directory in the same process reads that directory afresh."""
    import qlib

    qlib.init(provider_uri=str(root), region="cn", expression_cache=None, dataset_cache=None, kernels=1)


def qlib_features(root: Path, instruments, fields: list[str]) -> pd.DataFrame:
    """D.features over the whole calendar; ``instruments`` is a market name or a list of symbols."""
    from qlib.data import D

    qlib_init(root)
    query = D.instruments(instruments) if isinstance(instruments, str) else instruments
    frame = D.features(query, [f"${f}" for f in fields])
    return frame.sort_index()


def qlib_calendar(root: Path) -> list[pd.Timestamp]:
    from qlib.data import D

    qlib_init(root)
    return list(D.calendar())


# --- what the export must hold, from the marts ------------------------------------------------------------------


def feature_columns(con: duckdb.DuckDBPyConnection) -> list[str]:
    rows = con.execute(
        "select column_name from information_schema.columns where table_schema = 'marts' "
        "and table_name = 'fct_daily_features' order by ordinal_position"
    ).fetchall()
    return [r[0] for r in rows if r[0] not in ("ts_code", "trade_date", "stock_row_number")]


def _mart_expected(con: duckdb.DuckDBPyConnection, table: str, fields: list[str], calendar: pd.DatetimeIndex):
    """Per symbol, every calendar day from its first to its last row in ``table``: the value as float32 (numpy's
    rounding of the stored double), NaN where the row is missing or the value NULL."""
    columns = ", ".join(f'"{f}"' for f in fields)
    frame = con.execute(f"select ts_code, trade_date, {columns} from marts.{table}").df()
    frame["datetime"] = pd.to_datetime(frame["trade_date"]).astype("datetime64[ns]")
    pieces = []
    for ts_code, rows in frame.groupby("ts_code"):
        days = calendar[(calendar >= rows["datetime"].min()) & (calendar <= rows["datetime"].max())]
        values = rows.set_index("datetime")[fields].astype("float64").reindex(days)
        values.index.name = "datetime"
        pieces.append(values.assign(instrument=to_qlib(ts_code)))
    out = pd.concat(pieces).reset_index().set_index(["instrument", "datetime"])
    return out[fields].astype(np.float32)


def expected_features(duckdb_path: Path, calendar: list[pd.Timestamp]) -> pd.DataFrame:
    """Every field of both marts, columns ``$field``, index (instrument, datetime), for a list-of-symbols query."""
    cal = pd.DatetimeIndex(calendar).astype("datetime64[ns]")
    with duckdb.connect(str(duckdb_path), read_only=True) as con:
        features = _mart_expected(con, "fct_daily_features", feature_columns(con), cal)
        styles = _mart_expected(con, "fct_barra_exposures", list(STYLES), cal)
    both = features.join(styles, how="outer")
    both.columns = [f"${c}" for c in both.columns]
    return both.sort_index()


def listing_spans(duckdb_path: Path) -> dict[str, list[tuple[pd.Timestamp, pd.Timestamp]]]:
    with duckdb.connect(str(duckdb_path), read_only=True) as con:
        rows = con.execute(
            "select ts_code, span_start, span_end from marts.dim_security_listing_spans order by ts_code, span_start"
        ).fetchall()
    spans: dict[str, list] = {}
    for code, start, end in rows:
        spans.setdefault(to_qlib(code), []).append((pd.Timestamp(start), pd.Timestamp(end)))
    return spans


def within_spans(frame: pd.DataFrame, spans: dict[str, list]) -> pd.DataFrame:
    """The rows a market query keeps: each instrument's dates inside one of its spans."""
    instruments = frame.index.get_level_values("instrument")
    dates = frame.index.get_level_values("datetime")
    keep = np.zeros(len(frame), dtype=bool)
    for symbol, symbol_spans in spans.items():
        mine = np.asarray(instruments == symbol)
        for start, end in symbol_spans:
            keep |= mine & np.asarray((dates >= start) & (dates <= end))
    return frame[keep]


def assert_bitwise_equal(actual: pd.DataFrame, expected: pd.DataFrame) -> None:
    """Same index, same columns, same float32 bits (NaN where the other has NaN)."""
    assert list(actual.columns) == list(expected.columns)
    assert actual.index.equals(expected.index), (
        f"rows differ: {len(actual)} vs {len(expected)}; "
        f"only in Qlib {actual.index.difference(expected.index)[:5].tolist()}, "
        f"only expected {expected.index.difference(actual.index)[:5].tolist()}"
    )
    for column in expected.columns:
        a = actual[column].to_numpy(dtype=np.float32)
        e = expected[column].to_numpy(dtype=np.float32)
        nan_a, nan_e = np.isnan(a), np.isnan(e)
        differ = (nan_a != nan_e) | (~nan_a & ~nan_e & (a.view(np.uint32) != e.view(np.uint32)))
        assert not differ.any(), (
            f"{column}: {int(differ.sum())} values differ, e.g. at {expected.index[np.argmax(differ)]}: "
            f"Qlib {a[np.argmax(differ)]!r}, mart {e[np.argmax(differ)]!r}"
        )


def assert_same_values(actual: pd.DataFrame, expected: pd.DataFrame) -> None:
    """Bitwise equal on every (instrument, date) either frame has, a row missing on one side counting as NaN.

    Between a crashed append and its repair, a stock that resumes trading in the new dates has its files padded
    with NaN over its halt, which runs into the published calendar: a reader then gets rows of NaN it did not get
    before (the same rows the new publication will show). Those rows must be all NaN; every value must be the old.
    """
    extra = actual.index.difference(expected.index)
    missing = expected.index.difference(actual.index)
    assert actual.loc[extra].isna().all().all(), f"rows only Qlib returns carry values: {extra[:5].tolist()}"
    assert expected.loc[missing].isna().all().all(), f"rows Qlib no longer returns had values: {missing[:5].tolist()}"
    union = actual.index.union(expected.index)
    assert_bitwise_equal(actual.reindex(union), expected.reindex(union))


# --- directories ---------------------------------------------------------------------------------------------


def tree_differences(a: Path, b: Path, ignore: tuple[str, ...] = ()) -> list[str]:
    """Relative paths whose bytes differ or that exist on one side only (``ignore``: relative paths to skip)."""
    files_a = {p.relative_to(a).as_posix() for p in a.rglob("*") if p.is_file()} - set(ignore)
    files_b = {p.relative_to(b).as_posix() for p in b.rglob("*") if p.is_file()} - set(ignore)
    differ = sorted(files_a ^ files_b)
    for name in sorted(files_a & files_b):
        if not filecmp.cmp(a / name, b / name, shallow=False):
            differ.append(name)
    return differ


def manifest_without_run(root: Path) -> dict:
    payload = json.loads((root / "manifest.json").read_text())
    payload.pop("last_run")
    return payload


def trading_days(raw_dir: Path) -> list[str]:
    with duckdb.connect() as con:
        rows = con.execute(
            "select strptime(cal_date, '%Y%m%d')::date from read_parquet(?) where is_open = 1 order by 1",
            [str(raw_dir / "tushare" / "trade_cal" / "*.parquet")],
        ).fetchall()
    return [r[0].isoformat() for r in rows]


def iso(yyyymmdd: str) -> str:
    return f"{yyyymmdd[:4]}-{yyyymmdd[4:6]}-{yyyymmdd[6:]}"


def run_export_process(duckdb_path: Path, out_dir: Path, *, full: bool, crash_at: str | None) -> int:
    """Run export_qlib in a child process (optionally told to die at a crash point); returns its exit code."""
    env = {k: v for k, v in os.environ.items() if k != CRASH_ENV}
    if crash_at is not None:
        env[CRASH_ENV] = crash_at
    code = (
        "import sys; from pathlib import Path; from exporters.qlib import export_qlib; "
        "export_qlib(Path(sys.argv[1]), Path(sys.argv[2]), full=sys.argv[3] == 'full')"
    )
    mode = "full" if full else "append"
    done = subprocess.run(
        [sys.executable, "-c", code, str(duckdb_path), str(out_dir), mode],
        cwd=PROJECT_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    if done.returncode not in (0, 86):
        raise AssertionError(f"export process failed ({done.returncode}):\n{done.stderr[-3000:]}")
    return done.returncode


# --- a warehouse built day by day, exported after each build ---------------------------------------------------


@dataclass(frozen=True)
class ExportChain:
    """A warehouse built to ``end_dates[0]`` then one trading day at a time to ``end_dates[-1]``, exported after
    each build (``snapshots[i]``: the export directory after build i), and a full export of the final warehouse."""

    duckdb_path: Path
    end_dates: list[str]
    snapshots: list[Path]
    appended: Path
    full: Path
    resumed: str  # the long-suspended stock's ts_code, trading again on end_dates[2]
    new_symbol: str  # a stock whose first trading day is among the appended dates


_CHAIN: dict[str, ExportChain] = {}


def export_chain(market: Paths, root: Path) -> ExportChain:
    """Built once per test process (both Qlib test modules use it). The appended dates are chosen around the
    demo market's long-suspension trap: the stock resumes on the second appended day (its files are padded with
    NaN over the whole halt), and the market seeded by tests/conftest.py lists an IPO that same day."""
    if "chain" in _CHAIN:
        return _CHAIN["chain"]
    meta = json.loads((market.truth_dir / "meta.json").read_text())
    (long_suspension,) = meta["traps"]["long_suspension"]
    resume_day = iso(long_suspension["resumed_date"])
    days = trading_days(market.raw_dir)
    i = days.index(resume_day)
    end_dates = days[i - 2 : i + 2]  # N-3 (full), N-2, N-1 (the resumption), N
    ipos = [ipo["ts_code"] for ipo in meta["traps"]["all_ipos"] if iso(ipo["list_date"]) in end_dates[1:]]
    assert ipos, f"the demo market lists no IPO on {end_dates[1:]}: the chain would not create a symbol"

    paths = Paths(data_dir=market.data_dir, duckdb_path=root / "chain.duckdb")
    appended, snapshots = root / "qlib", []
    for step, end_date in enumerate(end_dates):
        build(
            paths, full_refresh=step == 0, end_date=end_date, run_tests=False, target_path=root / "target", echo=False
        )
        export_qlib(paths.duckdb_path, appended)
        snapshots.append(root / f"after_{end_date}")
        shutil.copytree(appended, snapshots[-1])
    full = root / "full"
    export_qlib(paths.duckdb_path, full, full=True)
    chain = ExportChain(paths.duckdb_path, end_dates, snapshots, appended, full, long_suspension["ts_code"], ipos[0])
    _CHAIN["chain"] = chain
    return chain
