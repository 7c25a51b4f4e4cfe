"""What the Qlib export reads from the warehouse: the calendar, the spans, per-symbol extents and column batches.

Every query is a constant SQL text with bound parameters; the only names put into SQL are column names read
from the warehouse's own schema and checked to be lower-case identifiers (``qlib_layout.check_field_name``).
One read-only connection serves a whole export, so every read sees the same snapshot of the warehouse.
"""

from __future__ import annotations

import datetime as dt
import os
from dataclasses import dataclass
from pathlib import Path

import duckdb
import numpy as np
import pyarrow as pa

from riskmodel.daily import STYLES

from .qlib_layout import QlibExportError, check_field_name

MARTS_SCHEMA = "marts"
KEY_COLUMNS = ("ts_code", "trade_date")
# Columns of fct_daily_features that are bookkeeping, not fields: the stock's row ordinal.
NOT_FIELDS = ("stock_row_number",)
# The ten CNE5 styles of fct_barra_exposures (ARCHITECTURE.md "Contracts"), exported as $size, $beta, ...
STYLE_FIELDS = STYLES
EPOCH = np.datetime64("1970-01-01", "D")
DEFAULT_MEMORY_LIMIT = "6GB"  # profiles.yml's default for dbt


@dataclass(frozen=True)
class Mart:
    """A mart keyed by (ts_code, trade_date) and the columns of it that become Qlib fields."""

    table: str
    fields: tuple[str, ...]

    @property
    def relation(self) -> str:
        return f"{MARTS_SCHEMA}.{self.table}"


@dataclass(frozen=True)
class Extents:
    """Per symbol (sorted by ts_code): first and last calendar date of its rows in one mart and the row count."""

    ts_codes: np.ndarray  # object (str)
    first_date: np.ndarray  # datetime64[D]
    last_date: np.ndarray  # datetime64[D]
    n_rows: np.ndarray  # int64
    n_dates: np.ndarray  # int64: distinct dates; fewer than n_rows means duplicated keys


def connect(duckdb_path: Path) -> duckdb.DuckDBPyConnection:
    """Read-only, with dbt's memory limit (FW_DUCKDB_MEMORY_LIMIT, default 6GB): sorting a mart for the export
    spills to disk beyond it instead of taking most of the machine (DuckDB's default is 80% of RAM)."""
    if not Path(duckdb_path).exists():
        raise QlibExportError(f"no warehouse at {duckdb_path}: build it first")
    memory_limit = os.environ.get("FW_DUCKDB_MEMORY_LIMIT") or DEFAULT_MEMORY_LIMIT
    return duckdb.connect(str(duckdb_path), read_only=True, config={"memory_limit": memory_limit})


def table_columns(con: duckdb.DuckDBPyConnection, table: str) -> list[tuple[str, str]]:
    """(name, type) of a mart's columns in table order; a clear error when the mart is missing."""
    rows = con.execute(
        "select column_name, data_type from information_schema.columns "
        "where table_catalog = current_database() and table_schema = ? and table_name = ? "
        "order by ordinal_position",
        [MARTS_SCHEMA, table],
    ).fetchall()
    if not rows:
        raise QlibExportError(f"the warehouse has no {MARTS_SCHEMA}.{table}: build the marts first")
    return rows


NUMERIC_TYPES = ("DOUBLE", "FLOAT", "REAL", "BIGINT", "INTEGER", "SMALLINT", "TINYINT", "HUGEINT")


def export_marts(con: duckdb.DuckDBPyConnection) -> tuple[Mart, Mart]:
    """fct_daily_features (every column but the keys and the row ordinal) and fct_barra_exposures (the styles)."""
    columns = table_columns(con, "fct_daily_features")
    fields = []
    for name, dtype in columns:
        if name in KEY_COLUMNS or name in NOT_FIELDS:
            continue
        if not (dtype in NUMERIC_TYPES or dtype.startswith("DECIMAL")):
            raise QlibExportError(f"fct_daily_features.{name} is {dtype}, not numeric: it cannot be a Qlib field")
        fields.append(check_field_name(name))
    present = {name for name, _ in table_columns(con, "fct_barra_exposures")}
    missing = [s for s in STYLE_FIELDS if s not in present]
    if missing:
        raise QlibExportError(f"fct_barra_exposures lacks the style column(s) {', '.join(missing)}")
    clash = set(fields) & set(STYLE_FIELDS)
    if clash:
        raise QlibExportError(f"field name(s) {sorted(clash)} exist in both fct_daily_features and fct_barra_exposures")
    return Mart("fct_daily_features", tuple(fields)), Mart("fct_barra_exposures", STYLE_FIELDS)


def trading_calendar(con: duckdb.DuckDBPyConnection) -> np.ndarray:
    """Every trading day of dim_trading_calendar (datetime64[D], ascending)."""
    query = f"select trade_date from {MARTS_SCHEMA}.dim_trading_calendar order by trade_date"
    table = con.execute(query).to_arrow_table()
    return days_of(table.column(0))


def days_of(column: pa.ChunkedArray | pa.Array) -> np.ndarray:
    """A DATE column as datetime64[D] (through int32 days since 1970, no per-value Python objects)."""
    days = column.cast(pa.int32()).to_numpy()
    return EPOCH + days.astype("timedelta64[D]")


def extents(con: duckdb.DuckDBPyConnection, mart: Mart, after: dt.date, *, count_dates: bool) -> Extents:
    """Per symbol: first and last date, rows and (with ``count_dates``) distinct dates of its rows dated after
    ``after``. Counting distinct dates costs a second aggregate over every row (7 s on 24.6 M rows); without it,
    n_dates is n_rows and duplicated keys are caught while the rows are written (``qlib_write``)."""
    dates = "count(distinct trade_date)" if count_dates else "count(*)"
    table = con.execute(
        f"select ts_code, min(trade_date) as first_date, max(trade_date) as last_date, count(*) as n_rows, "
        f"{dates} as n_dates from {mart.relation} where trade_date > ? group by ts_code order by ts_code",
        [after],
    ).to_arrow_table()
    return Extents(
        ts_codes=np.array(table.column("ts_code").to_pylist(), dtype=object),
        first_date=days_of(table.column("first_date")),
        last_date=days_of(table.column("last_date")),
        n_rows=table.column("n_rows").to_numpy().astype(np.int64),
        n_dates=table.column("n_dates").to_numpy().astype(np.int64),
    )


def has_rows_before(con: duckdb.DuckDBPyConnection, mart: Mart, day: dt.date) -> bool:
    """Whether the mart holds rows dated before ``day`` (a date filter: cheap, the tables are stored by date)."""
    (found,) = con.execute(f"select exists (select 1 from {mart.relation} where trade_date < ?)", [day]).fetchone()
    return bool(found)


def duplicated_keys(
    con: duckdb.DuckDBPyConnection, mart: Mart, ts_code: str, after: dt.date, limit: int = 5
) -> list[tuple]:
    """A few (ts_code, trade_date, rows) keys of one symbol that appear more than once after ``after``."""
    return con.execute(
        f"select ts_code, trade_date, count(*) as n from {mart.relation} where ts_code = ? and trade_date > ? "
        f"group by ts_code, trade_date having count(*) > 1 order by trade_date limit ?",
        [ts_code, after, limit],
    ).fetchall()


@dataclass(frozen=True)
class Spans:
    """Date spans per ts_code (sorted by ts_code, start), for an instruments file."""

    ts_codes: np.ndarray  # object (str)
    starts: np.ndarray  # datetime64[D]
    ends: np.ndarray  # datetime64[D]


def _spans(table: pa.Table) -> Spans:
    return Spans(
        ts_codes=np.array(table.column("ts_code").to_pylist(), dtype=object),
        starts=days_of(table.column("span_start")),
        ends=days_of(table.column("span_end")),
    )


def listing_spans(con: duckdb.DuckDBPyConnection) -> Spans:
    """dim_security_listing_spans: a relisting, or a gap of more than var('span_break_trading_days') trading days
    without a bar, starts a new span; a shorter halt stays inside its span (and reads as NaN)."""
    return _spans(
        con.execute(
            f"select ts_code, span_start, span_end from {MARTS_SCHEMA}.dim_security_listing_spans "
            f"order by ts_code, span_start"
        ).to_arrow_table()
    )


# Runs of a stock's consecutive exposure rows with in_estu, cut at listing-span boundaries. Days without a row
# (a halt) do not cut a run: the stock stays a member and reads NaN on those days, as in the "all" market.
ESTU_SPANS_SQL = f"""
with numbered as (
    select
        e.ts_code,
        e.trade_date,
        e.in_estu,
        s.span_number,
        row_number() over (partition by e.ts_code order by e.trade_date) as row_in_stock
    from {MARTS_SCHEMA}.fct_barra_exposures as e
    inner join {MARTS_SCHEMA}.dim_security_listing_spans as s
        on e.ts_code = s.ts_code and e.trade_date between s.span_start and s.span_end
    where e.trade_date > ?
),

members as (
    select
        ts_code,
        trade_date,
        span_number,
        row_in_stock - row_number() over (partition by ts_code order by trade_date) as island
    from numbered
    where in_estu
)

select ts_code, min(trade_date) as span_start, max(trade_date) as span_end
from members
group by ts_code, span_number, island
order by ts_code, span_start
"""


def estu_spans(con: duckdb.DuckDBPyConnection, after: dt.date = dt.date.min) -> Spans:
    """Spans of estimation-universe membership (fct_barra_exposures.in_estu), for the market ``estu``, over the
    rows dated after ``after`` (every row by default). A stock's rows after a date are a suffix of its rows, so
    the runs found there are the whole history's runs cut at ``after`` (``qlib_plan`` joins the cut ones)."""
    return _spans(con.execute(ESTU_SPANS_SQL, [after]).to_arrow_table())


def rows_between(con: duckdb.DuckDBPyConnection, since: dict[str, np.datetime64], through: dt.date) -> set[str]:
    """The ts_codes of ``since`` with an exposure row dated after their own date and up to ``through``."""
    if not since:
        return set()
    codes = list(since)
    dates = [np.datetime64(since[c], "D").item() for c in codes]
    rows = con.execute(
        f"select distinct e.ts_code from {MARTS_SCHEMA}.fct_barra_exposures as e "
        "inner join (select unnest(?::varchar[]) as ts_code, unnest(?::date[]) as since) as c "
        "on e.ts_code = c.ts_code and e.trade_date > c.since "
        "where e.trade_date > ? and e.trade_date <= ?",  # the oldest bound first: row groups before it are skipped
        [codes, dates, min(dates), through],
    ).fetchall()
    return {r[0] for r in rows}


def stream_rows(
    con: duckdb.DuckDBPyConnection, mart: Mart, after: dt.date, through: dt.date, batch_rows: int
) -> pa.RecordBatchReader:
    """A mart's rows dated in (after, through], ordered by ts_code then trade_date, as Arrow batches.

    One sorted query per mart: the tables are stored in date order, so a per-symbol filter would scan them whole
    for every group of symbols, while DuckDB sorts the whole mart about as fast as it scans it (and spills to
    disk beyond its memory_limit). Fields are cast to FLOAT (float32) in DuckDB: half the bytes to move, the same
    rounding as numpy's astype (nearest even), and a value beyond float32's range fails the query instead of
    becoming infinite.
    """
    selected = ", ".join(f'cast("{f}" as float) as "{f}"' for f in mart.fields)
    return con.execute(
        f"select ts_code, trade_date, {selected} from {mart.relation} "
        f"where trade_date > ? and trade_date <= ? order by ts_code, trade_date",
        [after, through],
    ).to_arrow_reader(batch_rows)
