"""Qlib binary export: the warehouse's daily features and Barra exposures as a Qlib provider directory.

``export_qlib`` writes ``<out_dir>`` exactly as qlib-format.md describes (read back by the real qlib 0.9.7):

- ``calendars/day.txt``: the trading days (``dim_trading_calendar``) from the first to the last date any stock
  has data. On a market where every trading day has bars, that is the union of the dates with data; a trading
  day with no bar at all would still be a calendar day (NaN everywhere), so an append equals a full export.
- ``instruments/all.txt``: each symbol's listing spans (``dim_security_listing_spans``: a relisting, or more than
  ``span_break_trading_days`` trading days without a bar, starts a new span; a shorter halt is NaN inside a span).
- ``instruments/estu.txt``: the market ``estu``, spans of estimation-universe membership (``in_estu``).
- ``features/<symbol>/<field>.day.bin``: open, high, low, close, vwap, volume, factor, amount, change and every
  feature of ``fct_daily_features``, and the ten styles of ``fct_barra_exposures``; float32, NaN on calendar days
  a stock has no row (a halt) or a NULL value (a warm-up). A file covers its symbol's first to last row in its mart.
- ``manifest.json``: what was published (after the calendar).
- ``bins_index.parquet``: every ``.bin``'s start index and length (not read by Qlib; see the append below).

Two modes. An *append* (``full=False``) adds the dates past the published calendar: every ``.bin`` is appended
first (padded with NaN from the day after its last value), then the instruments are replaced, then
``calendars/day.txt`` is replaced last. Qlib never reads values past the calendar's end, so a reader sees the old
publication or the new one; a crashed append leaves values past the calendar, which the next run cuts back
(``qlib_layout.repair_to_calendar``) before redoing the append. An append learns each file's extent from
``bins_index.parquet``, which every run writes before its calendar; a marker file present from the first .bin
append until the manifest tells the next run that the files may hold more than the index says, and then it reads
every file's size and header instead. A *full* export (``full=True``, or an append with
nothing published yet) writes a complete directory beside ``out_dir`` and swaps it in with one atomic
``renameat2(RENAME_EXCHANGE)`` (two renames where the kernel lacks it).

Speed: each mart is read once, sorted by symbol and date, as float32 Arrow batches that DuckDB produces in a
thread of their own while this one writes; each symbol's rows are scattered by calendar index into one
NaN-filled float32 block and each file is written with one ``writev``. Memory is bounded by the batch size and
DuckDB's memory_limit, whatever the market size.
"""

from __future__ import annotations

import contextlib
import ctypes
import errno
import fcntl
import hashlib
import json
import os
import shutil
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import duckdb
import pandas as pd

from .atomic import fsync_directory, write_json_atomic, write_text_atomic, write_with_atomic
from .qlib_layout import (
    QlibExportError,
    Repair,
    calendar_path,
    format_calendar,
    instruments_path,
    inventory_frames,
    mark_append,
    qlib_symbol,
    repair_to_calendar,
    unmark_append,
    write_bins_index,
)
from .qlib_plan import ExportPlan, make_plan
from .qlib_source import connect
from .qlib_write import CRASH_ENV, CRASH_EXIT_CODE, Counters, Progress, crash_point, write_bins

__all__ = [
    "CRASH_ENV",
    "CRASH_EXIT_CODE",
    "QlibExportError",
    "QlibExportResult",
    "export_qlib",
    "export_qlib_from",
    "inventory_frames",
    "progress_to_stderr",
    "qlib_plan_frames",
    "qlib_symbol",
]

MANIFEST_NAME = "manifest.json"
MARKETS = ("all", "estu")
DEFAULT_BATCH_ROWS = 500_000  # rows per Arrow batch read: ~60 MB of float32 features, whatever the market size

Gate = Callable[[pd.DataFrame, pd.DataFrame], None]


# --- results and progress --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class QlibExportResult:
    """What one run did. ``values_written`` counts float32 values written (NaN padding included, headers not)."""

    out_dir: Path
    mode: str  # "full" or "append"
    dates: int  # calendar days published
    new_dates: int  # calendar days this run added
    symbols: int  # symbols with feature files
    fields: int
    files_written: int
    values_written: int
    seconds: float
    repair: Repair = field(default_factory=Repair)
    phases: dict[str, float] = field(default_factory=dict)  # seconds: plan, write (.bin), publish (sync, text, swap)

    @property
    def values_per_second(self) -> float:
        return self.values_written / self.seconds if self.seconds > 0 else float("inf")


@dataclass
class Laps:
    """Seconds spent in each phase of a run."""

    started: float = field(default_factory=time.monotonic)
    last: float = field(default_factory=time.monotonic)
    seconds: dict[str, float] = field(default_factory=dict)

    def lap(self, phase: str) -> None:
        now = time.monotonic()
        self.seconds[phase] = round(now - self.last, 3)
        self.last = now


def progress_to_stderr(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


# --- the plan ---------------------------------------------------------------------------------------------------


def qlib_plan_frames(duckdb_path: Path, out_dir: Path, *, full: bool = False) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The inputs of the Qlib quality gate: what ``export_qlib`` with the same arguments is about to publish.

    Returns ``calendar`` (column ``date``, datetime64[ns], in file order) and ``files`` (``symbol`` as Qlib names
    it, ``field``, ``start_index`` and ``n_values`` (int64, in calendar days), ``span_start`` and ``span_end``
    (datetime64[ns], the dates of the first and last value)). For an append, files the run does not touch are
    included as readers will see them. Reads only; the same frames are passed to ``export_qlib``'s ``gate``.
    """
    with contextlib.closing(connect(duckdb_path)) as con:
        return make_plan(con, Path(out_dir), full=full).frames()


# --- publication -----------------------------------------------------------------------------------------------


def _publish_text_files(root: Path, plan: ExportPlan) -> dict[str, str]:
    """Instruments (atomic, each), then the calendar last; returns the sha256 of each text file written."""
    checksums = {}
    for market in MARKETS:
        text = plan.instruments[market]
        write_text_atomic(instruments_path(root, market), text)
        checksums[f"instruments/{market}.txt"] = _sha256(text)
        crash_point(f"after_instruments:{market}")
    calendar_text = format_calendar(plan.calendar)

    def stage_calendar(temp: Path) -> None:
        temp.write_text(calendar_text, encoding="utf-8")
        crash_point("calendar_staged")

    write_with_atomic(calendar_path(root), stage_calendar)
    checksums["calendars/day.txt"] = _sha256(calendar_text)
    crash_point("after_calendar")
    return checksums


def _sha256(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def manifest(plan: ExportPlan, checksums: dict[str, str], previous_dates: int, run_id: str | None) -> dict:
    """The manifest: the publication's shape and the checksums of its text files. The .bin files are not
    checksummed: hashing every value of a full market costs about as much as writing it; their count, extents and
    total values are here, and ``inventory_frames`` describes them from sizes and headers.

    It depends on the publication only (and on the calendar length of the manifest it replaces), never on how
    the run went: a run that was killed and redone writes the same manifest as one that was not.
    """
    symbols, _, _, counts = plan.planned_files
    payload = {
        "format": "qlib provider directory, day frequency, float32 little-endian .bin (qlib 0.9.7)",
        "calendar": {
            "first": str(plan.calendar[0]),
            "last": str(plan.calendar[-1]),
            "dates": len(plan.calendar),
        },
        "symbols": len(set(symbols)),
        "markets": {market: _market_summary(plan.instruments[market]) for market in MARKETS},
        "fields": plan.fields,
        "field_count": len(plan.fields),
        "files": len(counts),
        "values_written": int(counts.sum()),  # float32 values in all .bin files, NaN padding included
        "sha256": checksums,
        "last_run": {
            "mode": "full" if plan.full else "append",
            "new_dates": len(plan.calendar) - previous_dates,
        },
    }
    if run_id is not None:
        payload["run_id"] = run_id
    return payload


def _manifest_dates(root: Path, default: int) -> int:
    """Calendar length of the published manifest: shorter than the calendar when a run died after replacing the
    calendar but before its manifest, so the rerun reports the dates that run added."""
    try:
        return int(json.loads((root / MANIFEST_NAME).read_text())["calendar"]["dates"])
    except (OSError, ValueError, KeyError, TypeError):
        return default


def _market_summary(text: str) -> dict[str, int]:
    lines = text.splitlines()
    return {"symbols": len({line.split("\t", 1)[0] for line in lines}), "spans": len(lines)}


def _staging_dir(out_dir: Path) -> Path:
    return out_dir.with_name(f".{out_dir.name}.staging")


def _retired_dir(out_dir: Path) -> Path:
    return out_dir.with_name(f".{out_dir.name}.retired")


@contextlib.contextmanager
def _export_lock(out_dir: Path) -> Iterator[None]:
    """One export at a time per directory (a lock file beside it, so swapping the directory keeps the lock)."""
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    lock_path = out_dir.with_name(f".{out_dir.name}.lock")
    with open(lock_path, "a") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise QlibExportError(f"another Qlib export into {out_dir} is running ({lock_path} is locked)") from None
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _recover_swap(out_dir: Path) -> None:
    """Finish or undo what an interrupted full export left beside ``out_dir``."""
    retired = _retired_dir(out_dir)
    if retired.exists() and not out_dir.exists():
        os.rename(retired, out_dir)  # the fallback swap stopped between its two renames: restore the old one
    for leftover in (_staging_dir(out_dir), retired):
        if leftover.exists():
            shutil.rmtree(leftover)


def _looks_like_export(directory: Path) -> bool:
    if not directory.exists():
        return True
    return not any(directory.iterdir()) or calendar_path(directory).exists() or (directory / MANIFEST_NAME).exists()


_RENAME_EXCHANGE = 2
_AT_FDCWD = -100


def _exchange(a: Path, b: Path) -> bool:
    """Atomically swap two directories (Linux renameat2 RENAME_EXCHANGE); False where it is not supported."""
    try:
        renameat2 = ctypes.CDLL(None, use_errno=True).renameat2
    except AttributeError:
        return False
    result = renameat2(_AT_FDCWD, os.fsencode(a), _AT_FDCWD, os.fsencode(b), _RENAME_EXCHANGE)
    if result == 0:
        return True
    code = ctypes.get_errno()
    if code in (errno.EINVAL, errno.ENOSYS, errno.EOPNOTSUPP):
        return False
    raise OSError(code, f"renameat2({a}, {b}, RENAME_EXCHANGE): {os.strerror(code)}")


def _swap_in(staged: Path, out_dir: Path) -> None:
    """Make the complete ``staged`` directory the publication at ``out_dir`` and remove the old one.

    With RENAME_EXCHANGE a reader resolving ``out_dir`` sees the old directory or the new one, never neither.
    Without it, ``out_dir`` is renamed aside and ``staged`` renamed in: a window of two renames in which
    ``out_dir`` is missing; a crash inside it is undone at the next run (``_recover_swap``).
    """
    if not out_dir.exists():
        os.rename(staged, out_dir)
        fsync_directory(out_dir.parent)
        return
    if _exchange(staged, out_dir):
        fsync_directory(out_dir.parent)
        crash_point("full:after_swap")
        shutil.rmtree(staged)  # now the old publication
        return
    retired = _retired_dir(out_dir)
    os.rename(out_dir, retired)
    os.rename(staged, out_dir)
    fsync_directory(out_dir.parent)
    shutil.rmtree(retired)


def _make_durable() -> None:
    """Every file written so far reaches the disk before the renames that publish it (one sync, not one fsync per
    file: a full market has some 200,000 files)."""
    os.sync()


def export_qlib(
    duckdb_path: Path,
    out_dir: Path,
    *,
    full: bool = False,
    gate: Gate | None = None,
    progress: Progress | None = None,
    batch_rows: int = DEFAULT_BATCH_ROWS,
    run_id: str | None = None,
) -> QlibExportResult:
    """Publish the warehouse at ``duckdb_path`` as a Qlib provider directory ``out_dir``.

    ``full=False`` appends the dates past the published calendar (after repairing a crashed earlier append), or
    makes a full export when nothing is published yet; ``full=True`` rebuilds beside ``out_dir`` and swaps the
    result in. ``gate(calendar, files)`` is called with ``qlib_plan_frames``' frames before anything is written;
    it raises to stop the export. ``progress`` gets a line of text after each group of symbols (symbols done,
    values written, values/s; ``progress_to_stderr`` prints it). Bad input (an invalid ts_code, duplicated keys,
    a date off the trading calendar, ...) raises QlibExportError naming the key, before anything is written.
    ``batch_rows`` bounds memory (rows read at a time); ``run_id`` is recorded in the manifest when given.
    """
    with contextlib.closing(connect(duckdb_path)) as con:
        return export_qlib_from(
            con, out_dir, full=full, gate=gate, progress=progress, batch_rows=batch_rows, run_id=run_id
        )


def export_qlib_from(
    con: duckdb.DuckDBPyConnection,
    out_dir: Path,
    *,
    full: bool = False,
    gate: Gate | None = None,
    progress: Progress | None = None,
    batch_rows: int = DEFAULT_BATCH_ROWS,
    run_id: str | None = None,
) -> QlibExportResult:
    """``export_qlib`` over an open connection whose ``marts`` schema holds the marts (benchmarks use a
    connection with the marts attached from elsewhere)."""
    laps = Laps()
    out_dir = Path(out_dir).absolute()
    with _export_lock(out_dir):
        _recover_swap(out_dir)
        plan = make_plan(con, out_dir, full=full)
        if plan.full and not _looks_like_export(out_dir):
            raise QlibExportError(f"refusing to replace {out_dir}: it is not empty and holds no Qlib export")
        laps.lap("plan")
        if gate is not None:
            gate(*plan.frames())
            laps.lap("gate")
        if plan.full:
            counters, repair = _full_export(con, out_dir, plan, batch_rows, progress, laps, run_id), Repair()
        else:
            counters, repair = _append(con, out_dir, plan, batch_rows, progress, laps, run_id)
    symbols = plan.planned_files[0]
    return QlibExportResult(
        out_dir=out_dir,
        mode="full" if plan.full else "append",
        dates=len(plan.calendar),
        new_dates=plan.new_dates,
        symbols=len(set(symbols)),
        fields=len(plan.fields),
        files_written=counters.files,
        values_written=counters.values,
        seconds=time.monotonic() - laps.started,
        repair=repair,
        phases=laps.seconds,
    )


def _full_export(
    con: duckdb.DuckDBPyConnection,
    out_dir: Path,
    plan: ExportPlan,
    batch_rows: int,
    progress: Progress | None,
    laps: Laps,
    run_id: str | None,
) -> Counters:
    staged = _staging_dir(out_dir)
    staged.mkdir(parents=True)
    try:
        counters = write_bins(
            con, staged, plan, batch_rows=batch_rows, progress=progress, started=laps.started, crash_label="full:bins"
        )
        laps.lap("write")
        _write_index(staged, plan)
        checksums = _publish_text_files(staged, plan)
        write_json_atomic(staged / MANIFEST_NAME, manifest(plan, checksums, 0, run_id))
        _make_durable()
        crash_point("full:before_swap")
        _swap_in(staged, out_dir)
        laps.lap("publish")
    except BaseException:
        shutil.rmtree(staged, ignore_errors=True)
        raise
    return counters


def _append(
    con: duckdb.DuckDBPyConnection,
    out_dir: Path,
    plan: ExportPlan,
    batch_rows: int,
    progress: Progress | None,
    laps: Laps,
    run_id: str | None,
) -> tuple[Counters, Repair]:
    previous_dates = _manifest_dates(out_dir, default=plan.n_published)
    repair = repair_to_calendar(out_dir, plan.on_disk, plan.n_published)
    laps.lap("repair")
    mark_append(out_dir)
    counters = write_bins(con, out_dir, plan, batch_rows=batch_rows, progress=progress, started=laps.started)
    laps.lap("write")
    _make_durable()
    crash_point("after_bins")
    _write_index(out_dir, plan)
    checksums = _publish_text_files(out_dir, plan)
    write_json_atomic(out_dir / MANIFEST_NAME, manifest(plan, checksums, previous_dates, run_id))
    unmark_append(out_dir)
    laps.lap("publish")
    return counters, repair


def _write_index(root: Path, plan: ExportPlan) -> None:
    """The .bin index of the publication the plan makes (written before the calendar that publishes it)."""
    symbols, fields, starts, counts = plan.planned_files
    write_bins_index(root, symbols, fields, starts, counts, len(plan.calendar))
