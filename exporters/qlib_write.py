"""Writing a Qlib export's .bin files: rows streamed from the warehouse group by group, scattered by calendar
index into NaN-filled float32 blocks, one writev per file (a new file, or an append padded with NaN)."""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from queue import Full, Queue

import duckdb
import numpy as np
import pyarrow as pa

from .qlib_layout import FLOAT, BinFile, QlibExportError, append_bin, bin_name, create_bin, symbol_dir
from .qlib_plan import ExportPlan, MartPlan
from .qlib_source import Mart, days_of, stream_rows

# Test-only fault injection: when this variable names a point the export passes (see crash_point), the process
# exits at once with CRASH_EXIT_CODE, as a kill would. Unset (always, outside tests) it does nothing.
CRASH_ENV = "FW_TEST_QLIB_CRASH_AT"
CRASH_EXIT_CODE = 86

Progress = Callable[[str], None]  # receives one line of text per group of symbols


def crash_point(point: str, before: Callable[[], None] | None = None) -> None:
    """Test-only: exit abruptly (no cleanup, no flush of Python state) if CRASH_ENV names this point, after
    ``before`` (which lets the writes handed to other threads so far finish)."""
    if os.environ.get(CRASH_ENV) == point:
        if before is not None:
            before()
        os._exit(CRASH_EXIT_CODE)


@dataclass(frozen=True)
class ExportProgress:
    """One progress line: symbols done in the mart being written, values written so far over all marts."""

    mart: str
    symbols_done: int
    symbols_total: int
    values_written: int
    seconds: float

    def __str__(self) -> str:
        rate = self.values_written / self.seconds if self.seconds > 0 else 0.0
        return (
            f"qlib export {self.mart}: {self.symbols_done}/{self.symbols_total} symbols; "
            f"{self.values_written / 1e6:.1f} M values, {rate / 1e6:.2f} M values/s, {self.seconds:.1f} s"
        )


@dataclass
class Counters:
    files: int = 0
    values: int = 0
    symbol_writes: int = 0  # (symbol, mart) pairs written: the unit of the test-only crash points
    crash_label: str = "bins"


def scatter(index: np.ndarray, values: np.ndarray, low: int, high: int) -> np.ndarray:
    """A dense float32 block (n_fields, high - low + 1) over calendar days low..high: NaN, then ``values``
    (n_fields, n_rows) at the calendar ``index`` of each row."""
    dense = np.full((values.shape[0], high - low + 1), np.nan, dtype=FLOAT)  # "<f4" whatever the machine
    dense[:, index - low] = values
    return dense


@dataclass(frozen=True)
class FileWrite:
    """One .bin write: a new file starting at calendar index ``start`` or, with ``start`` None, an append."""

    path: str  # a string: a Path per file costs a second per 178,000 files
    start: int | None
    values: np.ndarray  # float32, contiguous


def symbol_writes(
    root: Path, symbol: str, fields: tuple[str, ...], index: np.ndarray, values: np.ndarray, previous_end: np.ndarray
) -> list[FileWrite]:
    """The writes that add one symbol's new rows of one mart to its field files.

    ``index``: calendar indices of the rows (strictly increasing); ``values``: float32 (n_fields, n_rows);
    ``previous_end``: per field, the calendar index of the file's last published value, or -1 for no file.
    An existing file gets NaN from the day after its last value up to the first new row, then the new values; a
    new file starts at the first new row.
    """
    first, last = int(index[0]), int(index[-1])
    starts = np.where(previous_end >= 0, previous_end + 1, first)
    if (starts > first).any():
        raise QlibExportError(f"{symbol}: a field file already holds values on or after the first new date")
    low = int(starts.min())
    dense = scatter(index, values, low, last)
    folder = str(symbol_dir(root, symbol))
    return [
        FileWrite(
            path=os.path.join(folder, bin_name(name)),
            start=None if previous_end[j] >= 0 else first,
            values=dense[j, int(starts[j]) - low :],
        )
        for j, name in enumerate(fields)
    ]


def perform(writes: list[FileWrite]) -> None:
    """Carry out one symbol's writes (its folder made first when a file is new)."""
    if any(w.start is not None for w in writes):
        os.makedirs(os.path.dirname(writes[0].path), exist_ok=True)
    for w in writes:
        if w.start is None:
            append_bin(w.path, w.values)
        else:
            create_bin(w.path, w.start, w.values)


def write_symbol(
    root: Path, symbol: str, fields: tuple[str, ...], index: np.ndarray, values: np.ndarray, previous_end: np.ndarray
) -> int:
    """``symbol_writes`` carried out at once; returns the values written."""
    writes = symbol_writes(root, symbol, fields, index, values, previous_end)
    perform(writes)
    return sum(w.values.size for w in writes)


class FileWriter:
    """Carries out writes on a few threads, with a bounded number in flight.

    Creating a file costs ext4 tens of microseconds when the disk is quiet and several hundred when other work
    keeps its journal busy; the kernel serves several creates at once (measured 1.5 to 7x with 4 threads), and
    the threads release the GIL in every system call.
    """

    def __init__(self, threads: int = 4, in_flight: int = 64) -> None:
        self._pool = ThreadPoolExecutor(max_workers=threads, thread_name_prefix="qlib-export-writer")
        self._slots = threading.BoundedSemaphore(in_flight)
        self._futures: list[Future] = []

    def submit(self, writes: list[FileWrite]) -> None:
        self._slots.acquire()
        future = self._pool.submit(perform, writes)
        future.add_done_callback(lambda _: self._slots.release())
        self._futures.append(future)
        if len(self._futures) >= 256:  # let go of finished ones (and see failures early)
            self._collect(wait=False)

    def _collect(self, *, wait: bool) -> None:
        pending = []
        for future in self._futures:
            if wait or future.done():
                future.result()  # raises the first failed write
            else:
                pending.append(future)
        self._futures = pending

    def drain(self) -> None:
        """Wait for every write handed over so far; raise the first that failed."""
        self._collect(wait=True)

    def close(self) -> None:
        self._pool.shutdown(wait=True)


def _write_group(
    root: Path,
    plan: MartPlan,
    members: slice,
    table: pa.Table,
    lookup: DateLookup,
    existing: dict[tuple[str, str], BinFile],
    counters: Counters,
    writer: FileWriter,
) -> None:
    """Write the symbols ``plan[members]`` from their rows ``table`` (ordered by ts_code, trade_date)."""
    fields = plan.mart.fields
    counts = plan.n_rows[members]
    if table.num_rows != int(counts.sum()):
        raise QlibExportError(f"{plan.mart.table}: read {table.num_rows} rows, expected {int(counts.sum())}")
    index = lookup.index(days_of(table.column("trade_date")), plan.mart.table)
    values = np.vstack([table.column(name).to_numpy() for name in fields])
    offsets = np.concatenate([[0], np.cumsum(counts)])
    codes = table.column("ts_code")
    for k, i in enumerate(range(members.start, members.stop)):
        lo, hi = int(offsets[k]), int(offsets[k + 1])
        if codes[lo].as_py() != plan.ts_codes[i] or codes[hi - 1].as_py() != plan.ts_codes[i]:
            raise QlibExportError(f"{plan.mart.table}: rows of ts_code={plan.ts_codes[i]} are not where expected")
        rows = index[lo:hi]
        repeated = np.flatnonzero(np.diff(rows) <= 0)
        if len(repeated):  # sorted by date, so a repeated key is a repeated index
            day = lookup.date(rows[repeated[0] + 1])
            raise QlibExportError(
                f"{plan.mart.table} has duplicated (ts_code, trade_date) rows: "
                f"(ts_code={plan.ts_codes[i]}, trade_date={day})"
            )
        symbol = plan.symbols[i]
        previous = np.array([_end_of(existing.get((symbol, name))) for name in fields], dtype=np.int64)
        writes = symbol_writes(root, symbol, fields, rows, values[:, lo:hi], previous)
        writer.submit(writes)
        counters.values += sum(w.values.size for w in writes)
        counters.files += len(writes)
        counters.symbol_writes += 1
        crash_point(f"{counters.crash_label}:{counters.symbol_writes}", before=writer.drain)


def _end_of(b: BinFile | None) -> int:
    return -1 if b is None else b.end_index


@dataclass(frozen=True)
class DateLookup:
    """Calendar index of a date by table lookup (a dense array over the days from the first calendar day)."""

    origin: np.datetime64
    table: np.ndarray  # int64, -1 on days that are not in the calendar

    @classmethod
    def of(cls, calendar: np.ndarray) -> DateLookup:
        origin = calendar[0]
        table = np.full(int((calendar[-1] - origin).astype(np.int64)) + 1, -1, dtype=np.int64)
        table[(calendar - origin).astype(np.int64)] = np.arange(len(calendar))
        return cls(origin, table)

    def date(self, index: int) -> np.datetime64:
        return self.origin + np.flatnonzero(self.table == index)[0].astype("timedelta64[D]")

    def index(self, dates: np.ndarray, where: str) -> np.ndarray:
        offset = (dates - self.origin).astype(np.int64)
        inside = (offset >= 0) & (offset < len(self.table))
        index = np.where(inside, self.table[np.clip(offset, 0, len(self.table) - 1)], -1)
        if (index < 0).any():
            raise QlibExportError(f"{where}: a row dated {dates[np.argmax(index < 0)]} is not on the export calendar")
        return index


def symbol_tables(batches: Iterator[pa.RecordBatch], counts: np.ndarray) -> Iterator[tuple[slice, pa.Table]]:
    """Cut an ordered stream of row batches into tables of whole symbols, by the planned row count of each symbol.

    Yields (symbols, table): the positions of the symbols in the plan and their rows. A symbol cut by a batch
    boundary waits for the next batch.
    """
    ends = np.cumsum(counts)  # stream row after each symbol's last row
    done_rows, first = 0, 0
    pending: list[pa.RecordBatch] = []
    pending_rows = 0
    for batch in batches:
        pending.append(batch)
        pending_rows += batch.num_rows
        stop = int(np.searchsorted(ends, done_rows + pending_rows, side="right"))
        if stop > first:
            table = pa.Table.from_batches(pending)
            take = int(ends[stop - 1]) - done_rows
            yield slice(first, stop), table.slice(0, take)
            rest = table.slice(take)
            pending, pending_rows = rest.to_batches(), rest.num_rows
            done_rows, first = done_rows + take, stop
    if first != len(counts) or pending_rows:
        raise QlibExportError(
            f"read {done_rows + pending_rows} rows for {first} symbols, planned {int(ends[-1])} for {len(counts)}: "
            "the warehouse changed during the export"
        )


_DONE = object()


@dataclass(frozen=True)
class _Failed:
    error: BaseException


class Prefetch:
    """Iterates ``produce()`` in a thread of its own, up to ``depth`` items ahead, from ``start()`` on: DuckDB
    sorts and converts the next batches while the writing thread works. The producer stops when ``close``d."""

    def __init__(
        self, produce: Callable[[], Iterator], depth: int = 2, interrupt: Callable[[], None] | None = None
    ) -> None:
        self._produce = produce
        self._interrupt = interrupt  # stops a producer busy in a long call (a DuckDB sort)
        self._queue: Queue = Queue(maxsize=depth)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="qlib-export-reader", daemon=True)

    def start(self) -> None:
        if not self._thread.is_alive() and self._thread.ident is None:
            self._thread.start()

    def _put(self, item: object) -> bool:
        while not self._stop.is_set():
            try:
                self._queue.put(item, timeout=0.1)
                return True
            except Full:
                continue
        return False

    def _run(self) -> None:
        try:
            for item in self._produce():
                if not self._put(item):
                    return
            self._put(_DONE)
        except BaseException as error:  # handed to the consumer, raised there
            self._put(_Failed(error))

    def __iter__(self) -> Iterator:
        self.start()
        while (item := self._queue.get()) is not _DONE:
            if isinstance(item, _Failed):
                raise item.error
            yield item

    def close(self) -> None:
        self._stop.set()
        if self._thread.ident is not None:
            if self._thread.is_alive() and self._interrupt is not None:
                self._interrupt()
            self._thread.join()


def write_bins(
    con: duckdb.DuckDBPyConnection,
    root: Path,
    plan: ExportPlan,
    *,
    batch_rows: int,
    progress: Progress | None,
    started: float,
    crash_label: str = "bins",
) -> Counters:
    """Stream each mart's new rows (sorted by symbol) into the .bin files of ``root``."""
    counters = Counters(crash_label=crash_label)
    if not plan.marts:
        return counters
    lookup = DateLookup.of(plan.calendar)
    through = plan.calendar[-1].item()
    writer = FileWriter()
    try:
        _write_marts(con, root, plan, lookup, through, batch_rows, progress, started, counters, writer)
        writer.drain()
    finally:
        writer.close()
    return counters


def _write_marts(
    con: duckdb.DuckDBPyConnection,
    root: Path,
    plan: ExportPlan,
    lookup: DateLookup,
    through: dt.date,
    batch_rows: int,
    progress: Progress | None,
    started: float,
    counters: Counters,
    writer: FileWriter,
) -> None:
    def reader(mart: Mart) -> Prefetch:
        cursors: list[duckdb.DuckDBPyConnection] = []

        def produce() -> Iterator[pa.RecordBatch]:
            cursors.append(con.cursor())  # a connection of the reader thread's own
            try:
                yield from stream_rows(cursors[0], mart, plan.after, through, batch_rows)
            finally:
                cursors[0].close()

        def interrupt() -> None:
            with contextlib.suppress(duckdb.Error):
                for cursor in cursors:
                    cursor.interrupt()

        return Prefetch(produce, interrupt=interrupt)

    streams = [reader(p.mart) for p in plan.marts]
    try:
        # One mart after the other: sorting the next while writing this one was measured no faster on 2 cores
        # (the writes use both) and holds two sorts in DuckDB's memory at once.
        for mart_plan, stream in zip(plan.marts, streams, strict=True):
            for members, table in symbol_tables(iter(stream), mart_plan.n_rows):
                _write_group(root, mart_plan, members, table, lookup, plan.existing, counters, writer)
                if progress is not None:
                    line = ExportProgress(
                        mart_plan.mart.table,
                        members.stop,
                        len(mart_plan.symbols),
                        counters.values,
                        time.monotonic() - started,
                    )
                    progress(str(line))
    finally:
        for stream in streams:
            stream.close()
