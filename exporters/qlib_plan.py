"""The plan of a Qlib export: what it is about to publish, read from the warehouse and checked before anything
is written (codes, duplicated keys, dates on the trading calendar, spans covering the data)."""

from __future__ import annotations

import datetime as dt
import functools
from dataclasses import dataclass
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd

from .qlib_layout import (
    BinFile,
    QlibExportError,
    calendar_frame,
    clipped_length,
    files_frame,
    format_instruments,
    instruments_path,
    parse_instruments,
    qlib_symbol,
    read_bins_index,
    read_calendar,
    scan_bins,
)
from .qlib_source import (
    Extents,
    Mart,
    Spans,
    duplicated_keys,
    estu_spans,
    export_marts,
    extents,
    has_rows_before,
    listing_spans,
    rows_between,
    trading_calendar,
)

# The mart whose in_estu makes the market ``estu``.
ESTU_MART = "fct_barra_exposures"

BEFORE_ANY_DATE = dt.date(1, 1, 1)


@dataclass(frozen=True)
class MartPlan:
    """One mart's new rows, per symbol sorted by ts_code: calendar indices of the first and last row, row count."""

    mart: Mart
    ts_codes: np.ndarray  # object (str)
    symbols: list[str]
    first_index: np.ndarray  # int64
    last_index: np.ndarray  # int64
    n_rows: np.ndarray  # int64


@dataclass(frozen=True)
class ExportPlan:
    """Everything one run will publish, computed before anything is written."""

    full: bool
    calendar: np.ndarray  # datetime64[D]: the calendar to publish
    n_published: int  # calendar days already published (0 for a full export)
    after: dt.date  # rows dated after this are written
    exported: tuple[Mart, ...]  # every mart and its fields, whether or not it has new rows
    marts: tuple[MartPlan, ...]  # the marts with new rows
    existing: dict[tuple[str, str], BinFile]  # (SYMBOL, field) -> file as readers see it (values past the calendar cut)
    on_disk: list[BinFile]  # files as they lie, for the repair
    instruments: dict[str, str]  # market -> instruments file text

    @property
    def fields(self) -> list[str]:
        return [f for m in self.exported for f in m.fields]

    @property
    def new_dates(self) -> int:
        return len(self.calendar) - self.n_published

    @functools.cached_property
    def planned_files(self) -> tuple[list[str], list[str], np.ndarray, np.ndarray]:
        """Every file the publication will hold: (symbols, fields, start_index, n_values), sorted by symbol, field."""
        extents: dict[tuple[str, str], tuple[int, int]] = {
            key: (b.start_index, b.n_values) for key, b in self.existing.items()
        }
        for plan in self.marts:
            for symbol, first, last in zip(plan.symbols, plan.first_index, plan.last_index, strict=True):
                for name in plan.mart.fields:
                    old = extents.get((symbol, name))
                    start = old[0] if old else int(first)
                    extents[(symbol, name)] = (start, int(last) - start + 1)
        keys = sorted(extents)
        starts = np.array([extents[k][0] for k in keys], dtype=np.int64)
        counts = np.array([extents[k][1] for k in keys], dtype=np.int64)
        return [k[0] for k in keys], [k[1] for k in keys], starts, counts

    def frames(self) -> tuple[pd.DataFrame, pd.DataFrame]:
        symbols, fields, starts, counts = self.planned_files
        return calendar_frame(self.calendar), files_frame(self.calendar, symbols, fields, starts, counts)


def make_plan(con: duckdb.DuckDBPyConnection, out_dir: Path, *, full: bool) -> ExportPlan:
    """Read what to publish and check it: codes, duplicated keys, dates on the trading calendar, spans."""
    marts = export_marts(con)
    published = None if full else read_calendar(out_dir)
    if published is not None and len(published) == 0:
        published = None
    full = published is None
    after = BEFORE_ANY_DATE if full else published[-1].item()
    # An append checks its new rows for duplicated keys here (few rows); a full export while writing (every row).
    mart_extents = [extents(con, mart, after, count_dates=not full) for mart in marts]
    for mart, ext in zip(marts, mart_extents, strict=True):
        _check_codes(ext.ts_codes, mart.table)
        _check_unique_keys(con, mart, ext, after)

    trading_days = trading_calendar(con)
    calendar = _export_calendar(con, trading_days, marts, mart_extents, published)
    mart_plans = tuple(
        _mart_plan(mart, ext, calendar) for mart, ext in zip(marts, mart_extents, strict=True) if len(ext.ts_codes)
    )
    if full and not mart_plans:
        raise QlibExportError("the warehouse marts hold no rows: nothing to export")

    spans = listing_spans(con)
    _check_codes(spans.ts_codes, "dim_security_listing_spans")
    for k, (mart, ext) in enumerate(zip(marts, mart_extents, strict=True)):
        _check_spans_cover(spans, mart, ext, require_all=full and k == 0)

    on_disk, existing = ([], {}) if full else _published_files(out_dir, len(published))
    if full:
        estu = _instruments_text(estu_spans(con))
    else:
        exposures = next(k for k, m in enumerate(marts) if m.table == ESTU_MART)
        estu = _appended_estu(con, out_dir, published, mart_extents[exposures], spans)
    instruments = {"all": _instruments_text(spans), "estu": estu}
    return ExportPlan(
        full=full,
        calendar=calendar,
        n_published=0 if full else len(published),
        after=after,
        exported=marts,
        marts=mart_plans,
        existing=existing,
        on_disk=on_disk,
        instruments=instruments,
    )


def _check_codes(ts_codes: np.ndarray, where: str) -> None:
    for code in ts_codes:
        try:
            qlib_symbol(code)
        except QlibExportError as error:
            raise QlibExportError(f"{where}: {error}") from None


def _check_unique_keys(con: duckdb.DuckDBPyConnection, mart: Mart, ext: Extents, after: dt.date) -> None:
    """Two rows for one (ts_code, trade_date) would make a value depend on read order: refuse, naming the keys."""
    repeated = np.flatnonzero(ext.n_rows != ext.n_dates)
    if len(repeated):
        duplicates = [key for i in repeated[:3] for key in duplicated_keys(con, mart, ext.ts_codes[i], after)]
        keys = ", ".join(f"(ts_code={c}, trade_date={d}) x{n}" for c, d, n in duplicates)
        raise QlibExportError(
            f"{mart.table} has duplicated (ts_code, trade_date) rows for {len(repeated)} symbol(s): {keys}"
        )


def _export_calendar(
    con: duckdb.DuckDBPyConnection,
    trading_days: np.ndarray,
    marts: tuple[Mart, ...],
    mart_extents: list[Extents],
    published: np.ndarray | None,
) -> np.ndarray:
    """The trading days from the first to the last date with data; an append must extend the published one."""
    first = _first_date_with_data(con, marts, mart_extents, published)
    lasts = [ext.last_date.max() for ext in mart_extents if len(ext.last_date)]
    last = max(lasts) if lasts else published[-1]
    if published is not None:
        last = max(last, published[-1])
    if first is None or not len(trading_days) or last > trading_days[-1] or first < trading_days[0]:
        raise QlibExportError(
            f"rows dated {first}..{last} fall outside dim_trading_calendar "
            f"({trading_days[0] if len(trading_days) else None}..{trading_days[-1] if len(trading_days) else None})"
        )
    calendar = trading_days[(trading_days >= first) & (trading_days <= last)]
    if published is not None and not np.array_equal(calendar[: len(published)], published):
        raise QlibExportError(
            f"the published calendar ({published[0]}..{published[-1]}, {len(published)} days) is not a prefix of the "
            f"warehouse's ({calendar[0]}..{calendar[-1]}, {len(calendar)} days): history changed, run a full export"
        )
    return calendar


def _first_date_with_data(
    con: duckdb.DuckDBPyConnection, marts: tuple[Mart, ...], mart_extents: list[Extents], published: np.ndarray | None
) -> np.datetime64 | None:
    """The first date of the export: the first row's (a full export reads every row's extents anyway), or for an
    append the published first date, provided no mart has gained rows before it (a backfill needs a full export)."""
    if published is None:
        firsts = [ext.first_date.min() for ext in mart_extents if len(ext.first_date)]
        return min(firsts) if firsts else None
    for mart in marts:
        if has_rows_before(con, mart, published[0].item()):
            raise QlibExportError(
                f"{mart.table} has rows before the published calendar's first day {published[0]}: "
                "history changed, run a full export"
            )
    return published[0]


def _mart_plan(mart: Mart, ext: Extents, calendar: np.ndarray) -> MartPlan:
    return MartPlan(
        mart=mart,
        ts_codes=ext.ts_codes,
        symbols=[qlib_symbol(code) for code in ext.ts_codes],
        first_index=_calendar_index(calendar, ext.first_date, mart.table, ext.ts_codes),
        last_index=_calendar_index(calendar, ext.last_date, mart.table, ext.ts_codes),
        n_rows=ext.n_rows,
    )


def _calendar_index(calendar: np.ndarray, dates: np.ndarray, where: str, ts_codes: np.ndarray) -> np.ndarray:
    index = np.searchsorted(calendar, dates)
    bad = (index >= len(calendar)) | (calendar[np.minimum(index, len(calendar) - 1)] != dates)
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise QlibExportError(f"{where}: ts_code={ts_codes[i]} has a row dated {dates[i]}, not a trading day")
    return index.astype(np.int64)


def _check_spans_cover(spans: Spans, mart: Mart, ext: Extents, *, require_all: bool) -> None:
    """Every symbol with rows has listing spans from its first to its last row (and, with ``require_all``, every
    symbol with spans has rows): the market query clips to these spans, so a gap would hide data silently."""
    frame = pd.DataFrame({"ts_code": spans.ts_codes, "start": spans.starts, "end": spans.ends})
    bounds = frame.groupby("ts_code").agg(start=("start", "min"), end=("end", "max"))
    for code, first, last in zip(ext.ts_codes, ext.first_date, ext.last_date, strict=True):
        if code not in bounds.index:
            raise QlibExportError(f"{mart.table}: ts_code={code} has rows but no listing span")
        start, end = bounds.loc[code]
        if first < start or last > end:
            raise QlibExportError(
                f"{mart.table}: ts_code={code} has rows {first}..{last} outside its listing spans {start}..{end}"
            )
    if require_all:
        without_rows = sorted(set(bounds.index) - set(ext.ts_codes))
        if without_rows:
            raise QlibExportError(f"dim_security_listing_spans lists ts_code(s) without rows: {without_rows[:5]}")


def _instruments_text(spans: Spans) -> str:
    return format_instruments([qlib_symbol(c) for c in spans.ts_codes], spans.starts, spans.ends)


def _appended_estu(
    con: duckdb.DuckDBPyConnection, out_dir: Path, published: np.ndarray, ext: Extents, listing: Spans
) -> str:
    """The estu instruments text after an append, from the published one and the runs of the new rows only.

    Recomputing every run reads the whole exposures history (7 s on 24.6 M rows). The runs of the new rows are
    the whole history's runs cut at the published calendar's end, so only runs cut there need joining: a new run
    that starts at a stock's first new row continues the stock's last published span when no row of the stock
    lies between that span's end and the first new row (a halt does not cut a run) and both are in one listing
    span. A published text with a span past the calendar is the residue of a killed run: then every run is
    recomputed.
    """
    after = published[-1]
    path = instruments_path(out_dir, "estu")
    old = parse_instruments(path.read_text(encoding="utf-8")) if path.exists() else None
    if old is None or (len(old[2]) and old[2].max() > after):
        return _instruments_text(estu_spans(con))
    new = estu_spans(con, after.item())
    rows = [[symbol, start, end] for symbol, start, end in zip(*old, strict=True)]
    last_span = {symbol: i for i, (symbol, _, _) in enumerate(rows)}  # sorted by start: the last one wins
    first_new = dict(zip(ext.ts_codes, ext.first_date, strict=True))
    bounds: dict[str, list[tuple[np.datetime64, np.datetime64]]] = {}
    for code, start, end in zip(listing.ts_codes, listing.starts, listing.ends, strict=True):
        bounds.setdefault(code, []).append((start, end))

    candidates: dict[str, tuple[int, np.datetime64]] = {}  # ts_code -> (published span, its end)
    for code, start in zip(new.ts_codes, new.starts, strict=True):
        i = last_span.get(qlib_symbol(code))
        if i is None or start != first_new.get(code):
            continue
        end = rows[i][2]
        if any(lo <= end and start <= hi for lo, hi in bounds.get(code, [])):
            candidates[code] = (i, end)
    cut = rows_between(con, {code: end for code, (_, end) in candidates.items()}, after.item())
    for code, start, end in zip(new.ts_codes, new.starts, new.ends, strict=True):
        if code in candidates and start == first_new[code] and code not in cut:
            rows[candidates[code][0]][2] = end
        else:
            rows.append([qlib_symbol(code), start, end])
    symbols, starts, ends = zip(*rows, strict=True) if rows else ((), (), ())
    return format_instruments(symbols, np.array(starts, dtype="datetime64[D]"), np.array(ends, dtype="datetime64[D]"))


def _published_files(out_dir: Path, n_published: int) -> tuple[list[BinFile], dict[tuple[str, str], BinFile]]:
    """(files as they lie, for the repair; files as readers see them). From the index when the last run
    completed (nothing to repair), else from every file's size and header."""
    indexed = read_bins_index(out_dir, n_published)
    if indexed is not None:
        return [], {(b.symbol.upper(), b.field): b for b in indexed}
    on_disk = list(scan_bins(out_dir))
    return on_disk, _as_published(on_disk, n_published)


def _as_published(on_disk: list[BinFile], n_published: int) -> dict[tuple[str, str], BinFile]:
    """The files as a reader of the published calendar sees them: values past it cut, files with none dropped."""
    seen = {}
    for b in on_disk:
        keep = clipped_length(b, n_published)
        if keep:
            seen[(b.symbol.upper(), b.field)] = BinFile(b.symbol, b.field, b.root, b.start_index, keep, b.size)
    return seen
