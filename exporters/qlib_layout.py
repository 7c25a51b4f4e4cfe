"""The Qlib provider directory on disk: names, the `.bin` encoding, the text files, and what a directory holds.

Layout (qlib-format.md; read by qlib 0.9.7's ``FileCalendarStorage``, ``FileInstrumentStorage``,
``FileFeatureStorage``)::

    <root>/calendars/day.txt                      one %Y-%m-%d date per line, ascending
    <root>/instruments/<market>.txt               SYMBOL<TAB>start<TAB>end, one line per span
    <root>/features/<symbol lower>/<field>.day.bin  float32 little-endian [start_index, v0, v1, ...]

Everything here is pure file-format work; no warehouse access.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from .atomic import TEMP_SUFFIX, fsync_directory, write_with_atomic

FREQ = "day"
BIN_SUFFIX = f".{FREQ}.bin"
FLOAT = np.dtype("<f4")  # Qlib reads "<f": float32, little-endian, whatever the machine
FLOAT_BYTES = FLOAT.itemsize

# An A-share ts_code: six digits, a dot, the exchange. Anything else is refused before it can become a path.
TS_CODE_PATTERN = re.compile(r"(?P<digits>[0-9]{6})\.(?P<exchange>SH|SZ|BJ)")
# Field names become file names and `$name` in Qlib expressions: lower-case identifiers only.
FIELD_PATTERN = re.compile(r"[a-z][a-z0-9_]*")


class QlibExportError(ValueError):
    """The export cannot be made as asked; nothing was published (the message says what and where)."""


def qlib_symbol(ts_code: str) -> str:
    """Tushare's ``600000.SH`` as Qlib's ``SH600000`` (exchange prefix, upper case)."""
    match = TS_CODE_PATTERN.fullmatch(ts_code) if isinstance(ts_code, str) else None
    if match is None:
        raise QlibExportError(
            f"ts_code {ts_code!r} is not an A-share code (six digits, '.', SH, SZ or BJ); refusing to export it"
        )
    return f"{match['exchange']}{match['digits']}"


def check_field_name(field: str) -> str:
    if not isinstance(field, str) or FIELD_PATTERN.fullmatch(field) is None:
        raise QlibExportError(f"field {field!r} is not a lower-case identifier; it cannot be a Qlib field file")
    return field


def calendar_path(root: Path) -> Path:
    return Path(root) / "calendars" / f"{FREQ}.txt"


def instruments_path(root: Path, market: str) -> Path:
    return Path(root) / "instruments" / f"{market.lower()}.txt"


def symbol_dir(root: Path, symbol: str) -> Path:
    return Path(root) / "features" / symbol.lower()


def bin_name(field: str) -> str:
    """A field's file name in its symbol's folder."""
    return f"{field.lower()}{BIN_SUFFIX}"


def feature_path(root: Path, symbol: str, field: str) -> Path:
    return symbol_dir(root, symbol) / bin_name(field)


# --- calendar and instruments text ---------------------------------------------------------------------------


def format_calendar(dates: np.ndarray) -> str:
    """One ISO date per line (dates: datetime64[D], ascending)."""
    return "".join(f"{d}\n" for d in np.datetime_as_string(np.asarray(dates, dtype="datetime64[D]"), unit="D"))


def parse_calendar(text: str) -> np.ndarray:
    """The dates of a day.txt as datetime64[D] (blank lines ignored, as Qlib does)."""
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    return np.array(lines, dtype="datetime64[D]")


def read_calendar(root: Path) -> np.ndarray | None:
    """The published calendar, or None when the directory has none."""
    path = calendar_path(root)
    if not path.exists():
        return None
    return parse_calendar(path.read_text(encoding="utf-8"))


def format_instruments(symbols: Iterable[str], starts: np.ndarray, ends: np.ndarray) -> str:
    """Qlib's instruments file: ``SYMBOL<TAB>start<TAB>end`` per span, no header, sorted by symbol then start."""
    rows = sorted(
        zip(
            symbols,
            np.datetime_as_string(np.asarray(starts, dtype="datetime64[D]"), unit="D"),
            np.datetime_as_string(np.asarray(ends, dtype="datetime64[D]"), unit="D"),
            strict=True,
        )
    )
    return "".join(f"{symbol}\t{start}\t{end}\n" for symbol, start, end in rows)


def parse_instruments(text: str) -> tuple[list[str], np.ndarray, np.ndarray]:
    """An instruments file's (symbols, starts, ends), dates as datetime64[D]; blank lines ignored."""
    rows = [line.split("\t") for line in text.splitlines() if line.strip()]
    if any(len(row) != 3 for row in rows):
        raise QlibExportError("an instruments file line is not SYMBOL<TAB>start<TAB>end")
    symbols = [row[0] for row in rows]
    starts = np.array([row[1] for row in rows], dtype="datetime64[D]")
    ends = np.array([row[2] for row in rows], dtype="datetime64[D]")
    return symbols, starts, ends


# --- .bin files ----------------------------------------------------------------------------------------------


def header(start_index: int) -> bytes:
    """The first float of a .bin: the calendar index of its first value, as float32 (exact below 2^24)."""
    return np.array([start_index], dtype=FLOAT).tobytes()


def write_all(fd: int, buffers: list) -> None:
    """One writev for a header and a row of values (regular files write everything; loop for safety)."""
    remaining = sum(memoryview(b).nbytes for b in buffers)
    written = os.writev(fd, buffers)
    if written < remaining:  # a short write: finish the rest the slow way
        data = b"".join(bytes(memoryview(b)) for b in buffers)[written:]
        while data:
            data = data[os.write(fd, data) :]


def create_bin(path: Path, start_index: int, values: np.ndarray) -> None:
    """A new .bin: header then ``values`` (float32). Overwrites a file of that name."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    try:
        write_all(fd, [header(start_index), values])
    finally:
        os.close(fd)


def append_bin(path: Path, values: np.ndarray) -> None:
    """Values appended to an existing .bin; the caller has padded them to start the day after its last value."""
    fd = os.open(path, os.O_WRONLY | os.O_APPEND)
    try:
        write_all(fd, [values])
    finally:
        os.close(fd)


@dataclass(frozen=True)
class BinFile:
    """One field file as it lies on disk. ``n_values`` counts whole floats after the header (from the size)."""

    symbol: str  # as its folder is named (lower case)
    field: str
    root: str  # the provider directory (a path is built only when asked for: 190,000 of them cost a second)
    start_index: int
    n_values: int
    size: int

    @property
    def path(self) -> Path:
        return feature_path(self.root, self.symbol, self.field)

    @property
    def end_index(self) -> int:
        """Calendar index of the last value (start_index - 1 when the file holds no value)."""
        return self.start_index + self.n_values - 1


def _first_float(path: Path) -> float | None:
    fd = os.open(path, os.O_RDONLY)
    try:
        raw = os.read(fd, FLOAT_BYTES)
    finally:
        os.close(fd)
    return float(np.frombuffer(raw, dtype=FLOAT)[0]) if len(raw) == FLOAT_BYTES else None


def scan_bins(root: Path) -> Iterator[BinFile]:
    """Every ``features/<symbol>/<field>.day.bin`` under ``root``, from its size and first float (cheap: no values
    are read). A file too short to hold a header is reported with start_index -1 and no values."""
    features = Path(root) / "features"
    if not features.is_dir():
        return
    root = str(root)
    with os.scandir(features) as symbols:
        symbol_entries = sorted((e for e in symbols if e.is_dir()), key=lambda e: e.name)
    for symbol_entry in symbol_entries:
        with os.scandir(symbol_entry.path) as files:
            file_entries = sorted((e for e in files if e.name.endswith(BIN_SUFFIX)), key=lambda e: e.name)
        for entry in file_entries:
            size = entry.stat().st_size
            first = _first_float(Path(entry.path)) if size >= FLOAT_BYTES else None
            start = int(first) if first is not None and np.isfinite(first) else -1
            yield BinFile(
                symbol=symbol_entry.name,
                field=entry.name[: -len(BIN_SUFFIX)],
                root=root,
                start_index=start,
                n_values=max(0, size // FLOAT_BYTES - 1) if start >= 0 else 0,
                size=size,
            )


# --- the index of the .bin files ------------------------------------------------------------------------------

# Beside the Qlib files (Qlib reads only calendars/, instruments/ and features/): every .bin's start and length as
# published, so an append needs not open some 190,000 files to learn them (69 s on a cold page cache, 11 s warm).
BINS_INDEX = "bins_index.parquet"
# Present from before an append touches a .bin until its calendar and manifest are published: while it is there,
# the files may hold more than the index says, and the next run scans and repairs them instead of trusting it.
APPEND_MARKER = ".append_in_progress"


def write_bins_index(
    root: Path, symbols: list[str], fields: list[str], starts: np.ndarray, counts: np.ndarray, n_dates: int
) -> None:
    """The index of a publication of ``n_dates`` calendar days (symbols as Qlib names them), written atomically."""
    table = pa.table(
        {
            "symbol": pa.array(symbols, pa.string()).dictionary_encode(),
            "field": pa.array(fields, pa.string()).dictionary_encode(),
            "start_index": pa.array(starts, pa.int64()),
            "n_values": pa.array(counts, pa.int64()),
        },
        metadata={"calendar_dates": str(n_dates)},
    )
    write_with_atomic(Path(root) / BINS_INDEX, lambda temp: pq.write_table(table, temp))


def read_bins_index(root: Path, n_dates: int) -> list[BinFile] | None:
    """The files as the index describes them, or None when it cannot be trusted: missing, unreadable, made for
    another calendar length, or an append was interrupted since it was written (``APPEND_MARKER``)."""
    root = Path(root)
    path = root / BINS_INDEX
    if (root / APPEND_MARKER).exists() or not path.exists():
        return None
    try:
        table = pq.read_table(path)
        recorded = int(table.schema.metadata[b"calendar_dates"])
    except (OSError, ValueError, KeyError, TypeError):
        return None
    if recorded != n_dates:
        return None
    folder = str(root)
    return [
        BinFile(
            symbol=symbol.lower(),
            field=name,
            root=folder,
            start_index=start,
            n_values=count,
            size=FLOAT_BYTES * (1 + count),
        )
        for symbol, name, start, count in zip(
            table.column("symbol").to_pylist(),
            table.column("field").to_pylist(),
            table.column("start_index").to_pylist(),
            table.column("n_values").to_pylist(),
            strict=True,
        )
    ]


def mark_append(root: Path) -> None:
    """Create APPEND_MARKER durably, before any .bin is touched."""
    with open(Path(root) / APPEND_MARKER, "w") as handle:
        handle.flush()
        os.fsync(handle.fileno())
    fsync_directory(root)


def unmark_append(root: Path) -> None:
    (Path(root) / APPEND_MARKER).unlink(missing_ok=True)
    fsync_directory(root)


# --- frames for the quality gate ------------------------------------------------------------------------------

FILES_COLUMNS = ("symbol", "field", "start_index", "n_values", "span_start", "span_end")


def calendar_frame(calendar: np.ndarray) -> pd.DataFrame:
    """The gate's calendar frame: one column ``date`` (datetime64[ns]) in file order."""
    return pd.DataFrame({"date": pd.to_datetime(np.asarray(calendar, dtype="datetime64[D]")).astype("datetime64[ns]")})


def files_frame(
    calendar: np.ndarray, symbols: list[str], fields: list[str], start_index: np.ndarray, n_values: np.ndarray
) -> pd.DataFrame:
    """The gate's files frame. span_start/span_end are the calendar dates of a file's first and last value;
    NaT where that index is outside the calendar (values a reader would never see)."""
    start = np.asarray(start_index, dtype=np.int64)
    n = np.asarray(n_values, dtype=np.int64)
    cal = np.asarray(calendar, dtype="datetime64[D]").astype("datetime64[ns]")
    return pd.DataFrame(
        {
            "symbol": pd.Series(symbols, dtype=object),
            "field": pd.Series(fields, dtype=object),
            "start_index": start,
            "n_values": n,
            "span_start": _dates_at(cal, start),
            "span_end": _dates_at(cal, start + n - 1),
        },
        columns=list(FILES_COLUMNS),
    )


def _dates_at(calendar: np.ndarray, index: np.ndarray) -> np.ndarray:
    inside = (index >= 0) & (index < len(calendar))
    out = np.full(len(index), np.datetime64("NaT"), dtype="datetime64[ns]")
    out[inside] = calendar[index[inside]]
    return out


def inventory_frames(root: Path) -> tuple[pd.DataFrame, pd.DataFrame]:
    """What a provider directory holds, in the gate's two frames (see ``exporters.qlib.qlib_plan_frames``).

    Read from ``calendars/day.txt`` and the size and first float of every ``.bin`` (no values are read), so it is
    cheap on a full market. Files are reported as they lie: values past the calendar's end (a crashed run) show as
    ``start_index + n_values > len(calendar)`` with ``span_end`` NaT. Symbols are the folder names upper-cased.
    """
    calendar = read_calendar(root)
    calendar = np.array([], dtype="datetime64[D]") if calendar is None else calendar
    bins = list(scan_bins(root))
    return calendar_frame(calendar), files_frame(
        calendar,
        [b.symbol.upper() for b in bins],
        [b.field for b in bins],
        np.array([b.start_index for b in bins], dtype=np.int64),
        np.array([b.n_values for b in bins], dtype=np.int64),
    )


# --- repair of a crashed run -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Repair:
    """What ``repair_to_calendar`` changed: files cut back to the calendar, files removed, temporaries removed."""

    truncated: int = 0
    removed: int = 0
    temporaries: int = 0

    @property
    def changed(self) -> bool:
        return bool(self.truncated or self.removed or self.temporaries)


def clipped_length(b: BinFile, n_published: int) -> int:
    """How many of a file's values lie on the published calendar (values past it were never visible)."""
    if b.start_index < 0:
        return 0
    return max(0, min(b.n_values, n_published - b.start_index))


def repair_to_calendar(root: Path, bins: list[BinFile], n_published: int) -> Repair:
    """Undo what a crashed run left past the published calendar: cut each .bin back to ``n_published`` calendar
    days (a file that would keep no value, created by the crashed run, is removed, with its folder if that empties)
    and remove temporary files of interrupted atomic writes. Readers never saw any of it."""
    truncated = removed = 0
    for b in bins:
        keep = clipped_length(b, n_published)
        if keep == 0:
            b.path.unlink()
            removed += 1
        elif b.size != FLOAT_BYTES * (1 + keep):
            os.truncate(b.path, FLOAT_BYTES * (1 + keep))
            truncated += 1
    for folder in {b.path.parent for b in bins if clipped_length(b, n_published) == 0}:
        if folder.is_dir() and not any(folder.iterdir()):
            folder.rmdir()
    temporaries = 0
    for folder in (Path(root), Path(root) / "calendars", Path(root) / "instruments"):
        for temp in folder.glob(f".*{TEMP_SUFFIX}"):  # atomic writes interrupted before their replace
            temp.unlink()
            temporaries += 1
    return Repair(truncated=truncated, removed=removed, temporaries=temporaries)
