"""The Barra by_date files: exposures (barra_factors/by_date) and raw descriptors (barra_descriptors/by_date).

Reads the marts (read-only connection, values passed as parameters) and turns one date's rows into one
Parquet file's bytes. Which dates to write, the gates and the manifests are exporters/publish.py's job.

Rows of a date's factor file: every stock with a row in fct_barra_exposures that day AND a factor industry
(the stocks the risk model can price: a stock without an industry has no industry exposure, so the one-hot
contract cannot hold for it; the manifest counts those rows per date). Styles can be null outside the
estimation universe; inside it they never are (the exposures gate). Dates: from the first date on which
every style has a value for some ESTU member (before it the descriptors are still warming up: no ESTU, or
BETA's 63 observations not reached), to the last date of the mart. Descriptor files cover the same dates,
every row of fct_barra_descriptors (no industry filter: raw descriptors need none).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from riskmodel.daily import STYLES

EXPOSURES = "marts.fct_barra_exposures"
DESCRIPTORS_VIEW = "marts.fct_barra_descriptors"
UNIVERSE = "intermediate.int_barra__universe"
INDUSTRY_MAP = "staging.industry_factor_map"

# The 17 raw descriptors in the column order of int_barra__descriptors (docs/cne5-choices.md).
DESCRIPTORS = (
    "lncap",
    "beta",
    "hsigma",
    "dastd",
    "cmra",
    "rstr",
    "stom",
    "stoq",
    "stoa",
    "etop",
    "cetop",
    "btop",
    "egro",
    "sgro",
    "mlev",
    "dtoa",
    "blev",
)
# Extra columns after the contract's, in this order.
FACTOR_EXTRAS = ("in_estu", "regression_weight")
DESCRIPTOR_EXTRAS = ("industry", "in_estu", "regression_weight", "total_mv")
INDUSTRY_PREFIX = "ind_"

# Where the files go, under the exports root (Paths.exports_dir).
FACTORS_DIR = Path("barra_factors/by_date")
DESCRIPTORS_DIR = Path("barra_descriptors/by_date")


@dataclass(frozen=True)
class DateFile:
    """One date's file as it will be published: its name, date, row count and bytes."""

    name: str
    date: dt.date
    rows: int
    data: bytes


def yyyymmdd(date: dt.date) -> str:
    return date.strftime("%Y%m%d")


def from_yyyymmdd(text: str) -> dt.date:
    """A manifest's date key back as a date (the inverse of ``yyyymmdd``)."""
    return dt.datetime.strptime(text, "%Y%m%d").date()


def industry_columns(industries: Sequence[str]) -> list[str]:
    return [INDUSTRY_PREFIX + name for name in sorted(industries)]


def factor_file_columns(industries: Sequence[str]) -> list[str]:
    """The by_date contract: ts_code, the ten styles, one ind_ column per industry (sorted), then extras."""
    return ["ts_code", *STYLES, *industry_columns(industries), *FACTOR_EXTRAS]


def descriptor_file_columns() -> list[str]:
    return ["ts_code", *DESCRIPTORS, *DESCRIPTOR_EXTRAS]


# ---------------------------------------------------------------- reading the warehouse


def read_industries(con: duckdb.DuckDBPyConnection) -> list[str]:
    """Every factor industry of the seed industry_factor_map, sorted (the ind_ columns of every date)."""
    rows = con.execute(f"select distinct factor_industry from {INDUSTRY_MAP} order by 1").fetchall()
    industries = [r[0] for r in rows]
    if not industries:
        raise ValueError(f"{INDUSTRY_MAP} is empty: run `dbt seed` (invoke build) before exporting")
    return industries


def publishable_dates(con: duckdb.DuckDBPyConnection, published_first: dt.date | None = None) -> list[dt.date]:
    """Dates of fct_barra_exposures from the first one on which every style has a value in the ESTU.

    ``published_first``, the first date already published, spares reading every style of the whole history:
    only the dates before it are judged (a few, and the mart is stored by date), and from it on every date
    counts, as when it was published (a history rewritten since needs a full export).
    """
    present = " and ".join(f"count({s}) > 0" for s in STYLES)
    bound = "trade_date < ?" if published_first else "true"
    (first,) = con.execute(
        f"select min(trade_date) from (select trade_date from {EXPOSURES} where in_estu and {bound} "
        f"group by trade_date having {present})",
        [published_first] if published_first else [],
    ).fetchone()
    first = first or published_first
    if first is None:
        return []
    rows = con.execute(
        f"select distinct trade_date from {EXPOSURES} where trade_date >= ? order by 1", [first]
    ).fetchall()
    return [r[0] for r in rows]


def _dates_filter(dates: Sequence[dt.date]) -> tuple[str, list]:
    """A WHERE clause on trade_date for a set of dates: the range lets DuckDB skip row groups."""
    return "trade_date between ? and ? and list_contains(?, trade_date)", [min(dates), max(dates), list(dates)]


def read_exposures(con: duckdb.DuckDBPyConnection, dates: Sequence[dt.date]) -> pd.DataFrame:
    """The mart's rows of these dates, sorted by date and ts_code (styles float64 as stored)."""
    where, params = _dates_filter(dates)
    columns = ", ".join(["trade_date", "ts_code", *STYLES, "industry", "in_estu", "regression_weight", "total_mv"])
    sql = f"select {columns} from {EXPOSURES} where {where} order by trade_date, ts_code"
    return con.execute(sql, params).to_arrow_table().to_pandas()


def read_descriptors(con: duckdb.DuckDBPyConnection, dates: Sequence[dt.date]) -> pd.DataFrame:
    where, params = _dates_filter(dates)
    columns = ", ".join(["trade_date", *descriptor_file_columns()])
    sql = f"select {columns} from {DESCRIPTORS_VIEW} where {where} order by trade_date, ts_code"
    return con.execute(sql, params).to_arrow_table().to_pandas()


def read_estu_counts(con: duckdb.DuckDBPyConnection, dates: Sequence[dt.date]) -> pd.DataFrame:
    """ESTU size per date in int_barra__universe: what the published files must cover."""
    where, params = _dates_filter(dates)
    sql = (
        f"select trade_date, count(*) filter (where in_estu) as n_estu_universe from {UNIVERSE} "
        f"where {where} group by trade_date order by trade_date"
    )
    return con.execute(sql, params).to_arrow_table().to_pandas()


# ---------------------------------------------------------------- shaping


def factor_frame(exposures: pd.DataFrame, industries: Sequence[str]) -> pd.DataFrame:
    """The published rows in file order, with trade_date first and the gates' helper columns last.

    Rows without an industry are dropped (module docstring). An industry not in ``industries`` gives a row
    of zeros, which the exposures gate rejects (one industry per row). Helper columns (not published):
    ``industry``, ``total_mv``.
    """
    rows = exposures[exposures["industry"].notna()].reset_index(drop=True)
    names = sorted(industries)
    position = {name: i for i, name in enumerate(names)}
    codes = rows["industry"].map(position).fillna(-1).to_numpy(dtype=np.int64)  # -1: not a seed industry
    one_hot = np.zeros((len(rows), len(names)), dtype=np.int32)
    known = codes >= 0
    one_hot[np.flatnonzero(known), codes[known]] = 1
    flags = pd.DataFrame(one_hot, columns=industry_columns(names), index=rows.index)
    return pd.concat(
        [rows[["trade_date", "ts_code", *STYLES]], flags, rows[[*FACTOR_EXTRAS, "industry", "total_mv"]]], axis=1
    )


def rows_without_industry(exposures: pd.DataFrame) -> dict[dt.date, int]:
    counts = exposures.loc[exposures["industry"].isna(), "trade_date"].value_counts()
    return {d: int(n) for d, n in counts.items()}


def date_bounds(dates: np.ndarray) -> list[tuple[dt.date, int, int]]:
    """(date, start, stop) of each run of equal dates in a date-sorted array."""
    if len(dates) == 0:
        return []
    starts = np.flatnonzero(np.r_[True, dates[1:] != dates[:-1]])
    stops = np.r_[starts[1:], len(dates)]
    return [(dates[a], int(a), int(b)) for a, b in zip(starts, stops, strict=True)]


def _arrow_table(rows: pd.DataFrame, schema: pa.Schema) -> pa.Table:
    """Columns straight from the arrays (no pandas metadata, so equal rows give equal bytes)."""
    arrays = [pa.array(rows[c].to_numpy(), type=schema.field(c).type, from_pandas=True) for c in schema.names]
    return pa.Table.from_arrays(arrays, schema=schema)


def factor_schema(industries: Sequence[str]) -> pa.Schema:
    fields = [pa.field("ts_code", pa.string())]
    fields += [pa.field(s, pa.float64()) for s in STYLES]
    fields += [pa.field(c, pa.int32()) for c in industry_columns(industries)]
    fields += [pa.field("in_estu", pa.bool_()), pa.field("regression_weight", pa.float64())]
    return pa.schema(fields)


def descriptor_schema() -> pa.Schema:
    fields = [pa.field("ts_code", pa.string())]
    fields += [pa.field(d, pa.float64()) for d in DESCRIPTORS]
    fields += [
        pa.field("industry", pa.string()),
        pa.field("in_estu", pa.bool_()),
        pa.field("regression_weight", pa.float64()),
        pa.field("total_mv", pa.float64()),
    ]
    return pa.schema(fields)


def parquet_bytes(table: pa.Table) -> bytes:
    sink = pa.BufferOutputStream()
    pq.write_table(table, sink)
    return sink.getvalue().to_pybytes()


def _date_files(frame: pd.DataFrame, schema: pa.Schema) -> Iterator[DateFile]:
    """One file per date: the chunk converted to Arrow once, then sliced per date (zero-copy)."""
    table = _arrow_table(frame, schema)
    for date, start, stop in date_bounds(frame["trade_date"].to_numpy()):
        data = parquet_bytes(table.slice(start, stop - start))
        yield DateFile(f"{yyyymmdd(date)}.parquet", date, stop - start, data)


def factor_files(frame: pd.DataFrame, industries: Sequence[str]) -> Iterator[DateFile]:
    """One DateFile per date of a ``factor_frame``."""
    return _date_files(frame, factor_schema(industries))


def descriptor_files(descriptors: pd.DataFrame) -> Iterator[DateFile]:
    """One DateFile per date of ``read_descriptors`` rows."""
    return _date_files(descriptors, descriptor_schema())
