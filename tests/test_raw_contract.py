"""The raw-file contract: read from the sources YAML, enforced per file with named errors."""

from __future__ import annotations

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from ingest.raw_contract import RawContractError, arrow_type, check_file, load_contract


def _valid_table(table: str, n: int = 3) -> pa.Table:
    cols = load_contract()[table]
    arrays = []
    for c in cols:
        t = arrow_type(c.data_type)
        if pa.types.is_string(t):
            arrays.append(pa.array(["20200102"] * n, t))
        else:
            arrays.append(pa.array([1] * n, t))
    return pa.table(arrays, names=[c.name for c in cols])


def test_contract_covers_every_table_the_models_read():
    contract = load_contract()
    assert set(contract) == {
        "trade_cal",
        "stock_basic",
        "daily",
        "daily_basic",
        "adj_factor",
        "index_daily",
        "index_classify",
        "index_member_all",
        "income",
        "balancesheet",
        "cashflow",
    }
    daily = {c.name: c.data_type for c in contract["daily"]}
    assert daily["vol"] == "double" and daily["trade_date"] == "varchar"


def test_valid_file_passes_and_counts_rows(tmp_path):
    path = tmp_path / "daily.parquet"
    pq.write_table(_valid_table("daily", 5), path)
    assert check_file("daily", path) == 5


def test_integer_column_accepted_where_double_expected(tmp_path):
    t = _valid_table("daily")
    t = t.set_column(t.schema.get_field_index("vol"), "vol", pa.array([1, 2, 3], pa.int64()))
    pq.write_table(t, tmp_path / "d.parquet")
    assert check_file("daily", tmp_path / "d.parquet") == 3


@pytest.mark.parametrize(
    ("mutate", "rule"),
    [
        (lambda t: t.drop_columns(["vol"]), "required column"),
        (
            lambda t: t.set_column(t.schema.get_field_index("close"), "close", pa.array(["1", "2", "3"])),
            "column type",
        ),
        (lambda t: t.slice(0, 0), "non-empty file"),
    ],
)
def test_broken_file_names_file_table_and_rule(tmp_path, mutate, rule):
    path = tmp_path / "2020.parquet"
    pq.write_table(mutate(_valid_table("daily")), path)
    with pytest.raises(RawContractError) as err:
        check_file("daily", path)
    assert str(path) in str(err.value)
    assert "table daily" in str(err.value)
    assert rule in str(err.value)


def test_truncated_file_is_reported(tmp_path):
    path = tmp_path / "2020.parquet"
    pq.write_table(_valid_table("daily", 1000), path)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(RawContractError, match="readable parquet"):
        check_file("daily", path)
