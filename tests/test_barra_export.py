"""The Barra and risk publication on the built test market: the by_date contract (columns, one-hot industries,
values equal to the marts bit for bit), manifests whose checksums match the files, the risk JSON and specific
risks annualized from the daily marts, and incremental exports equal to a full one."""

from __future__ import annotations

import dataclasses
import json
import math

import duckdb
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from exporters import barra, publish, risk
from exporters.atomic import sha256_of
from riskmodel.daily import STYLES
from tests.export_helpers import (
    execute,
    exposure_dates,
    fork,
    shared_previous,
    shared_publication,
    shared_warehouse,
    tree_checksums,
)

pytestmark = pytest.mark.dbt


@pytest.fixture(scope="module")
def warehouse(built_market, tmp_path_factory):
    return shared_warehouse(built_market, tmp_path_factory)


@pytest.fixture(scope="module")
def published(built_market, tmp_path_factory):
    return shared_publication(built_market, tmp_path_factory)


def mart(warehouse, sql: str, params=None) -> pd.DataFrame:
    with duckdb.connect(str(warehouse.duckdb_path), read_only=True) as con:
        return con.execute(sql, params or []).to_arrow_table().to_pandas()


def manifest(directory) -> dict:
    return json.loads((directory / "manifest.json").read_text())


def read_all(directory) -> pd.DataFrame:
    frames = []
    for path in sorted(directory.glob("*.parquet")):
        frame = pq.read_table(path).to_pandas()
        frame.insert(0, "trade_date", pd.Timestamp(path.stem).date())
        frames.append(frame)
    return pd.concat(frames, ignore_index=True)


def assert_bits_equal(actual: pd.Series, expected: pd.Series, what: str) -> None:
    a, b = actual.to_numpy(np.float64), expected.to_numpy(np.float64)
    assert np.array_equal(np.isnan(a), np.isnan(b)), f"{what}: nulls differ"
    ok = ~np.isnan(a)
    assert np.array_equal(a[ok].view(np.int64), b[ok].view(np.int64)), f"{what}: values differ"


def industries(warehouse) -> list[str]:
    return sorted(mart(warehouse, "select factor_industry from staging.industry_factor_map")["factor_industry"])


# ---------------------------------------------------------------- by_date


def test_every_factor_file_has_the_contract_columns_in_order(warehouse, published):
    names = industries(warehouse)
    expected = pa.schema(
        [("ts_code", pa.string())]
        + [(s, pa.float64()) for s in STYLES]
        + [(f"ind_{n}", pa.int32()) for n in names]
        + [("in_estu", pa.bool_()), ("regression_weight", pa.float64())]
    )
    files = sorted((published.exports_dir / barra.FACTORS_DIR).glob("*.parquet"))
    assert files
    for path in files:
        assert pq.read_schema(path).remove_metadata().equals(expected), path.name


def test_factor_files_hold_the_marts_rows_bit_for_bit_with_one_hot_industries(warehouse, published):
    directory = published.exports_dir / barra.FACTORS_DIR
    files = read_all(directory)
    first = min(files["trade_date"])
    expected = mart(
        warehouse,
        "select * from marts.fct_barra_exposures where trade_date >= ? and industry is not null "
        "order by trade_date, ts_code",
        [first],
    )
    assert len(files) == len(expected)
    assert (files["trade_date"].to_numpy() == expected["trade_date"].to_numpy()).all()
    assert (files["ts_code"].to_numpy() == expected["ts_code"].to_numpy()).all()
    for column in [*STYLES, "regression_weight"]:
        assert_bits_equal(files[column], expected[column], column)
    assert (files["in_estu"].to_numpy() == expected["in_estu"].to_numpy()).all()
    flags = files[[f"ind_{n}" for n in industries(warehouse)]]
    assert (flags.sum(axis=1) == 1).all()
    assert (flags.idxmax(axis=1).str.removeprefix("ind_").to_numpy() == expected["industry"].to_numpy()).all()
    # Rows without an industry are left out and counted per date in the manifest.
    skipped = mart(
        warehouse,
        "select strftime(trade_date, '%Y%m%d') as d, count(*) as n from marts.fct_barra_exposures "
        "where trade_date >= ? and industry is null group by 1",
        [first],
    )
    assert len(skipped) >= 1, "the test warehouse plants a row without an industry"
    assert manifest(directory)["rows_without_industry"] == dict(
        zip(skipped["d"], skipped["n"].astype(int), strict=True)
    )


def test_publication_starts_when_every_style_has_values(built_market):
    styles = ", ".join(f"count({s}) as {s}" for s in STYLES)
    with duckdb.connect(str(built_market.duckdb_path), read_only=True) as con:
        dates = barra.publishable_dates(con)
        counts = con.execute(
            f"select trade_date, {styles} from marts.fct_barra_exposures where in_estu group by 1 order by 1"
        ).df()
        (last,) = con.execute("select max(trade_date) from marts.fct_barra_exposures").fetchone()
    complete = counts[(counts[list(STYLES)] > 0).all(axis=1)]
    assert dates[0] == complete["trade_date"].iloc[0].date() and dates[-1] == last
    before = counts[counts["trade_date"] < pd.Timestamp(dates[0])]
    assert len(before) and not (before[list(STYLES)] > 0).all(axis=1).any()

    # An incremental export judges only the dates before the first one published: the same dates
    with duckdb.connect(str(built_market.duckdb_path), read_only=True) as con:
        for published_first in (dates[0], dates[1], dates[len(dates) // 2], dates[-1]):
            assert barra.publishable_dates(con, published_first) == dates


def test_published_dates_are_the_warehouse_dates(warehouse, published):
    dates = manifest(published.exports_dir / barra.FACTORS_DIR)["dates"]
    assert dates == [d.replace("-", "") for d in exposure_dates(warehouse)]


def test_descriptor_files_equal_the_mart(warehouse, published):
    files = read_all(published.exports_dir / barra.DESCRIPTORS_DIR)
    expected = mart(
        warehouse,
        "select * from marts.fct_barra_descriptors where trade_date >= ? order by trade_date, ts_code",
        [min(files["trade_date"])],
    )
    assert list(files.columns) == ["trade_date", *barra.descriptor_file_columns()]
    assert len(files) == len(expected)
    for column in [*barra.DESCRIPTORS, "regression_weight", "total_mv"]:
        assert_bits_equal(files[column], expected[column], column)


def test_manifests_list_every_file_with_its_rows_and_checksum(published):
    for directory in (barra.FACTORS_DIR, barra.DESCRIPTORS_DIR, risk.RISK_DIR):
        root = published.exports_dir / directory
        listed = manifest(root)
        on_disk = {p.name for p in root.iterdir()} - {"manifest.json"}
        assert set(listed["files"]) == on_disk, directory
        for name, entry in listed["files"].items():
            assert entry["sha256"] == sha256_of(root / name), name
            if name.endswith(".parquet"):
                assert entry["rows"] == pq.read_metadata(root / name).num_rows, name
            assert entry["run_id"] == listed["run_id"]


# ---------------------------------------------------------------- risk


def test_risk_json_is_the_daily_mart_annualized(warehouse, published):
    directory = published.exports_dir / risk.RISK_DIR
    latest = json.loads((directory / risk.LATEST_JSON).read_text())
    date = pd.Timestamp(latest["estimation_date"]).date()
    assert (directory / risk.LATEST_JSON).read_bytes() == (directory / risk.dated_json_name(date)).read_bytes()
    factors = risk.all_factor_names(industries(warehouse))
    assert latest["factors"] == factors and set(latest["factor_covariance"]) == set(factors)
    daily = mart(warehouse, "select * from marts.fct_factor_covariance where trade_date = ?", [date])
    assert len(daily) > 0
    for f1, f2, value in daily[["factor_1", "factor_2", "value"]].itertuples(index=False):
        assert latest["factor_covariance"][f1][f2] == value * 252  # exactly riskmodel.units.annualize_variance
    present = set(daily["factor_1"])
    assert latest["inactive_factors"] == [f for f in factors if f not in present]
    for f in latest["inactive_factors"]:
        assert all(v is None for v in latest["factor_covariance"][f].values())
    params = risk.model_params()
    assert latest["parameters"] == json.loads(json.dumps(dataclasses.asdict(params)))
    assert latest["half_life_days"] == params.covariance.vol_half_life
    returns = mart(
        warehouse, "select count(distinct trade_date) as n from marts.fct_factor_returns where trade_date <= ?", [date]
    )
    assert latest["num_observations"] == min(int(returns["n"].iloc[0]), params.covariance.window)
    assert "annualized" in latest["units"]["factor_covariance"] and latest["units"]["annualization_days"] == 252
    dated = manifest(directory)["dates"]
    expected = mart(warehouse, "select distinct strftime(trade_date, '%Y%m%d') as d from marts.fct_factor_covariance")
    assert dated == sorted(expected["d"])


def test_specific_risks_are_the_daily_mart_annualized(warehouse, published):
    table = pq.read_table(published.exports_dir / risk.RISK_DIR / risk.SPECIFIC_FILE)
    assert table.schema.names == ["ts_code", "specific_risk", "estimation_date"]
    assert table.schema.field("estimation_date").type == pa.date32()
    frame = table.to_pandas()
    (date,) = set(frame["estimation_date"])
    daily = mart(
        warehouse,
        "select ts_code, specific_risk from marts.fct_specific_risk where trade_date = ? "
        "and specific_risk is not null order by ts_code",
        [date],
    )
    assert list(frame["ts_code"]) == list(daily["ts_code"])
    assert_bits_equal(frame["specific_risk"], daily["specific_risk"] * math.sqrt(252), "specific_risk")


# ---------------------------------------------------------------- incremental


def test_an_incremental_export_equals_a_full_one(built_market, warehouse, published, tmp_path_factory, tmp_path):
    previous = shared_previous(built_market, tmp_path_factory)
    paths = fork(warehouse, previous, tmp_path / "data")
    new_dates = [d.replace("-", "") for d in exposure_dates(warehouse)[-3:]]
    # A crashed earlier run's leftover for a new date: a file the manifest does not list is rewritten.
    (paths.exports_dir / barra.FACTORS_DIR / f"{new_dates[0]}.parquet").write_bytes(b"half a file")
    run = publish.export_barra(paths)
    assert run.published["barra_factors"]["dates_written"] == 3
    assert run.published["barra_risk"]["dated_forecasts_written"] == 3
    incremental, full = tree_checksums(paths.exports_dir), tree_checksums(published.exports_dir)
    data = {k: v for k, v in full.items() if not k.endswith("manifest.json")}
    assert {k: v for k, v in incremental.items() if not k.endswith("manifest.json")} == data
    for directory in (barra.FACTORS_DIR, barra.DESCRIPTORS_DIR, risk.RISK_DIR):
        a, b = manifest(paths.exports_dir / directory), manifest(published.exports_dir / directory)
        assert a["dates"] == b["dates"]
        strip = lambda m: {n: {k: v for k, v in e.items() if k != "run_id"} for n, e in m["files"].items()}  # noqa: E731
        assert strip(a) == strip(b)
        if "rows_without_industry" in b:
            assert a["rows_without_industry"] == b["rows_without_industry"]
        written_now = {n for n, e in a["files"].items() if e["run_id"] == run.run_id}
        assert len(written_now) < len(a["files"]), "an incremental run rewrote everything"


def test_a_second_run_publishes_nothing_and_changes_nothing(warehouse, published, tmp_path):
    paths = fork(warehouse, published, tmp_path / "data")
    before = tree_checksums(paths.exports_dir)
    run = publish.export_barra(paths)
    assert run.status == "published" and not run.published
    assert tree_checksums(paths.exports_dir) == before


def test_full_rewrites_identical_files_and_drops_dates_the_warehouse_no_longer_has(warehouse, published, tmp_path):
    paths = fork(warehouse, published, tmp_path / "data")
    last_kept = exposure_dates(warehouse)[-2]
    execute(
        paths,
        "delete from marts.fct_barra_exposures where trade_date > ?::date",
        "delete from intermediate.int_barra__descriptors where trade_date > ?::date",
        "delete from marts.fct_factor_covariance where trade_date > ?::date",
        "delete from marts.fct_specific_risk where trade_date > ?::date",
        params=[last_kept],
    )
    before = tree_checksums(paths.exports_dir / barra.FACTORS_DIR)
    publish.export_barra(paths, full=True)
    after = tree_checksums(paths.exports_dir / barra.FACTORS_DIR)
    dropped = f"{exposure_dates(warehouse)[-1].replace('-', '')}.parquet"
    assert dropped in before and dropped not in after
    assert {k: v for k, v in after.items() if k != "manifest.json"} == {
        k: v for k, v in before.items() if k not in ("manifest.json", dropped)
    }
    assert manifest(paths.exports_dir / barra.FACTORS_DIR)["dates"][-1] == last_kept.replace("-", "")
    risk_files = manifest(paths.exports_dir / risk.RISK_DIR)
    assert risk_files["latest_estimation_date"] == last_kept.replace("-", "")
    assert f"risk_params_{dropped.removesuffix('.parquet')}.json" not in risk_files["files"]
