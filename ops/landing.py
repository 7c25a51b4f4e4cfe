"""Simulate a daily landing on a generated market: hold the last trading day back, land it later.

The benchmark builds the history without the last day, then lands that day as Tushare's daily
downloads arrive (one file per table and day, beside the yearly history files) and times the
incremental build that follows: the real shape of a daily update.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

DAILY_TABLES = ("daily", "daily_basic", "adj_factor", "index_daily")


def hold_back_last_day(raw_dir: Path, holding_dir: Path, tables: tuple[str, ...] = DAILY_TABLES) -> str:
    """Move the newest trade_date's rows of each table out of raw_dir into per-day files in
    holding_dir; return that date (YYYYMMDD)."""
    newest = {}
    for table in tables:
        last_file = sorted((raw_dir / "tushare" / table).glob("*.parquet"))[-1]
        dates = pq.read_table(last_file, columns=["trade_date"])["trade_date"].cast(pa.string())
        newest[table] = (last_file, pc.max(dates).as_py())
    day = max(d for _, d in newest.values())
    for table, (path, _) in newest.items():
        data = pq.read_table(path)
        is_day = pc.equal(data["trade_date"].cast(pa.string()), day)
        (holding_dir / table).mkdir(parents=True, exist_ok=True)
        pq.write_table(data.filter(is_day), holding_dir / table / f"{day}.parquet")
        tmp = path.with_suffix(".tmp")
        pq.write_table(data.filter(pc.invert(is_day)), tmp)
        tmp.replace(path)
    return day


def land(holding_dir: Path, raw_dir: Path) -> list[Path]:
    """Move every held-back file into raw_dir, table by table."""
    landed = []
    for file in sorted(holding_dir.glob("*/*.parquet")):
        target = raw_dir / "tushare" / file.parent.name / file.name
        shutil.move(file, target)
        landed.append(target)
    return landed


if __name__ == "__main__":
    import sys

    for path in land(Path(sys.argv[1]), Path(sys.argv[2])):
        print(f"landed {path}")
