"""The raw-file contract, read from the dbt sources YAML, and a pre-flight check of landed files.

The sources YAML (`models/staging/tushare/_tushare__sources.yml`) is the single statement of what
each raw table must contain. dbt documents it; this module enforces it on every Parquet file before
dbt runs, because a missing column, a wrong type, an empty or a truncated file would otherwise
surface as a DuckDB binder error that names neither the file nor the rule.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import yaml

PROJECT_ROOT = Path(__file__).resolve().parent.parent
SOURCES_YAML = PROJECT_ROOT / "models" / "staging" / "tushare" / "_tushare__sources.yml"


@dataclass(frozen=True)
class Column:
    name: str
    data_type: str  # varchar | double | bigint


@lru_cache(maxsize=1)
def load_contract() -> dict[str, tuple[Column, ...]]:
    """Map each raw Tushare table to its required columns, in contract order."""
    doc = yaml.safe_load(SOURCES_YAML.read_text(encoding="utf-8"))
    (source,) = [s for s in doc["sources"] if s["name"] == "tushare"]
    return {
        table["name"]: tuple(Column(c["name"], c["data_type"]) for c in table["columns"]) for table in source["tables"]
    }


def arrow_type(data_type: str) -> pa.DataType:
    """The Arrow type a writer should use for a contract type."""
    return {"varchar": pa.string(), "double": pa.float64(), "bigint": pa.int64()}[data_type]


def _family(t: pa.DataType) -> str:
    if pa.types.is_dictionary(t):
        t = t.value_type
    if pa.types.is_string(t) or pa.types.is_large_string(t):
        return "varchar"
    if pa.types.is_floating(t):
        return "double"
    if pa.types.is_integer(t):
        return "bigint"
    return str(t)


# Integers are accepted where the contract says double (pandas writes an all-integer float
# column as int64); nothing else is converted.
_ACCEPTED = {"varchar": {"varchar"}, "double": {"double", "bigint"}, "bigint": {"bigint"}}


class RawContractError(ValueError):
    """A raw file breaks the contract. The message names the file and the rule."""


def check_file(table: str, path: Path) -> int:
    """Check one raw file against its table's contract; return its row count."""
    try:
        meta = pq.read_metadata(path)
        schema = pq.read_schema(path)
    except (pa.ArrowInvalid, OSError) as exc:
        raise RawContractError(f"{path}: table {table}: rule 'readable parquet' failed: {exc}") from exc
    if meta.num_rows == 0:
        raise RawContractError(f"{path}: table {table}: rule 'non-empty file' failed: the file has 0 rows")
    present = {f.name: _family(f.type) for f in schema}
    for col in load_contract()[table]:
        if col.name not in present:
            raise RawContractError(
                f"{path}: table {table}: rule 'required column' failed: column {col.name!r} is missing"
            )
        if present[col.name] not in _ACCEPTED[col.data_type]:
            raise RawContractError(
                f"{path}: table {table}: rule 'column type' failed: column {col.name!r} is "
                f"{present[col.name]}, the contract says {col.data_type}"
            )
    return meta.num_rows


def check_raw_root(raw_root: Path) -> dict[str, int]:
    """Check every file of every contracted table under raw_root/tushare; return rows per table.

    A table with no file at all is an error too: the staging view would fail on an empty glob.
    """
    rows: dict[str, int] = {}
    for table in load_contract():
        files = sorted((raw_root / "tushare" / table).glob("*.parquet"))
        if not files:
            raise RawContractError(
                f"{raw_root / 'tushare' / table}: table {table}: rule 'files present' failed: no Parquet file"
            )
        rows[table] = sum(check_file(table, f) for f in files)
    return rows
