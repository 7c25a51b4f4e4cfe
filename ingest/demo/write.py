"""Arrow tables in the raw contract's column order and types, and deterministic Parquet files.

Every Tushare table is written with the contract's columns first, in contract order, with exactly the
contract's Arrow types (string / float64 / int64; ts_code and trade_date as dictionary<string>), then any
extra real Tushare columns. Missing numbers (NaN in the generator: pe of a loss, volume_ratio of a first row)
are written as nulls, like Tushare's empty values. Files are written beside their final name and moved into
place, zstd-compressed, with dictionary encoding only where it pays (strings and 2-decimal prices), so the
same inputs give the same bytes.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from ingest.raw_contract import arrow_type, load_contract

TUSHARE_TABLES = tuple(load_contract())  # every table of the raw contract, in its order
DATE_PARTITIONED = ("daily", "daily_basic", "adj_factor", "index_daily")
TRUTH_DIR = "demo_truth"
COMPRESSION = "zstd"
COMPRESSION_LEVEL = 1
DICTIONARY_COLUMNS = {
    "ts_code",
    "trade_date",
    "open",
    "high",
    "low",
    "close",
    "pre_close",
    "change",
    "l1_code",
    "factor",
    "exchange",
    "cal_date",
    "pretrade_date",
    "ann_date",
    "f_ann_date",
    "end_date",
    "report_type",
    "comp_type",
    "end_type",
    "update_flag",
    "total_share",
    "float_share",
    "free_share",
}


def clear_outputs(raw_root: Path) -> None:
    """Remove previous demo output: the Parquet files of every generated table and the truth directory."""
    for table in TUSHARE_TABLES:
        folder = raw_root / "tushare" / table
        if folder.is_dir():
            for f in folder.glob("*.parquet"):
                f.unlink()
            for f in folder.glob(".*.parquet.tmp"):
                f.unlink()
    shutil.rmtree(raw_root / TRUTH_DIR, ignore_errors=True)


def dictionary(indices: np.ndarray, values: np.ndarray) -> pa.DictionaryArray:
    """A dictionary<int32, string> array from integer codes into ``values`` (strings)."""
    return pa.DictionaryArray.from_arrays(pa.array(indices.astype(np.int32)), pa.array(list(values), pa.string()))


def _as_arrow(value: object, data_type: pa.DataType | None) -> pa.Array:
    if isinstance(value, (pa.Array, pa.ChunkedArray)):
        if data_type is None or (pa.types.is_dictionary(value.type) and value.type.value_type == data_type):
            return value
        return value.cast(data_type)
    arr = np.asarray(value)
    if data_type is None:
        if arr.dtype == object:
            return pa.array(arr, type=pa.string())
        return pa.array(arr, from_pandas=arr.dtype.kind == "f")  # NaN -> null for floats
    if pa.types.is_string(data_type):
        return pa.array(arr.astype(object) if arr.dtype != object else arr, type=pa.string())
    return pa.array(arr.astype(data_type.to_pandas_dtype()), type=data_type, from_pandas=True)


def contract_table(table: str, columns: dict[str, object]) -> pa.Table:
    """Contract columns in contract order with contract types, then the extra columns in given order."""
    contract = load_contract()[table]
    names = [c.name for c in contract]
    missing = [c for c in names if c not in columns]
    if missing:
        raise KeyError(f"{table}: missing contract columns {missing}")
    arrays = [_as_arrow(columns[c.name], arrow_type(c.data_type)) for c in contract]
    extra = [k for k in columns if k not in names]
    arrays += [_as_arrow(columns[k], None) for k in extra]
    return pa.Table.from_arrays(arrays, names=names + extra)


def plain_table(columns: dict[str, object]) -> pa.Table:
    """A table of the given columns with types inferred from the numpy/Arrow values."""
    return pa.Table.from_arrays([_as_arrow(v, None) for v in columns.values()], names=list(columns))


def write_parquet(table: pa.Table, path: Path) -> int:
    """Write deterministically (temp file + rename); return the file size in bytes."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    dict_cols = [f.name for f in table.schema if f.name in DICTIONARY_COLUMNS or pa.types.is_dictionary(f.type)]
    pq.write_table(
        table,
        tmp,
        compression=COMPRESSION,
        compression_level=COMPRESSION_LEVEL,
        use_dictionary=dict_cols,
        write_statistics=True,
    )
    os.replace(tmp, path)
    return path.stat().st_size
