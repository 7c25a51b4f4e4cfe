"""Atomic file publication: a consumer sees the old file or the new one, never a part of either.

A file is written beside its target (same directory, so same file system), flushed and fsynced, then
``os.replace``d over the target; the directory is fsynced so the rename itself survives a crash.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO, Any

TEMP_SUFFIX = ".partial"


def fsync_directory(directory: Path) -> None:
    """Make a rename or a new file in ``directory`` durable."""
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


@contextlib.contextmanager
def replacing(target: Path, mode: str = "wb") -> Iterator[IO[Any]]:
    """Open a temporary file beside ``target``; on a clean exit it replaces ``target`` atomically.

    On an exception the temporary file is removed and ``target`` is untouched.
    """
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    temp = target.with_name(f".{target.name}{TEMP_SUFFIX}")
    try:
        with open(temp, mode) as handle:
            yield handle
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temp, target)
    except BaseException:
        temp.unlink(missing_ok=True)
        raise
    fsync_directory(target.parent)


def write_bytes_atomic(target: Path, data: bytes) -> None:
    with replacing(target, "wb") as handle:
        handle.write(data)


def write_text_atomic(target: Path, text: str) -> None:
    write_bytes_atomic(target, text.encode("utf-8"))


def write_with_atomic(target: Path, writer: Callable[[Path], None]) -> None:
    """Publish a file that a library writes by path (``pyarrow.parquet.write_table``): the writer gets a
    temporary path beside ``target``, which then replaces ``target``."""
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    temp = target.with_name(f".{target.name}{TEMP_SUFFIX}")
    try:
        writer(temp)
        with open(temp, "rb") as handle:
            os.fsync(handle.fileno())
        os.replace(temp, target)
    except BaseException:
        temp.unlink(missing_ok=True)
        raise
    fsync_directory(target.parent)


def sha256_of(path: Path, chunk: int = 1 << 20) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while block := handle.read(chunk):
            digest.update(block)
    return digest.hexdigest()


def write_json_atomic(target: Path, payload: Any) -> None:
    """JSON with sorted keys and a final newline, so the same payload gives the same bytes."""
    write_text_atomic(target, json.dumps(payload, indent=2, sort_keys=True, allow_nan=False) + "\n")
