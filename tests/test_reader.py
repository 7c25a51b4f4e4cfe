"""The consumers' reader: by_date files round-trip into the float32 cube and the long frame, the risk JSON into
a matrix with names, specific risks into a Series; every lookup of something absent gives the default. Then
the LEAN-style example on a real export."""

from __future__ import annotations

import datetime as dt
import json
import math

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest

from examples.lean_alpha import MomentumRiskScaledAlpha
from exporters import barra, reader, risk
from riskmodel.daily import STYLES
from tests.export_helpers import shared_publication

INDUSTRIES = ["banks", "coal", "media"]


def hand_made_exports(root) -> None:
    """Two by_date factor files written by the exporter's own functions, without a manifest."""
    rows = []
    for day, codes in ((dt.date(2024, 1, 2), ["600000.SH", "000001.SZ"]), (dt.date(2024, 1, 3), ["000001.SZ"])):
        for k, code in enumerate(sorted(codes)):
            row = {"trade_date": day, "ts_code": code, "industry": INDUSTRIES[k], "in_estu": True}
            row |= {s: float(i + k) / 8 for i, s in enumerate(STYLES)}
            rows.append(row | {"regression_weight": 1.0, "total_mv": 1.0})
    exposures = pd.DataFrame(rows)
    exposures.loc[0, "momentum"] = np.nan
    for f in barra.factor_files(barra.factor_frame(exposures, INDUSTRIES), INDUSTRIES):
        path = root / barra.FACTORS_DIR / f.name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(f.data)


def test_dates_parse_in_every_usual_form():
    expected = dt.date(2024, 1, 2)
    for value in ("20240102", "2024-01-02", expected, dt.datetime(2024, 1, 2, 15), pd.Timestamp("2024-01-02")):
        assert reader.parse_date(value) == expected
    assert reader.parse_date(np.datetime64("2024-01-02")) == expected
    with pytest.raises(ValueError, match="not a date"):
        reader.parse_date("2 January")


def test_the_cube_of_hand_made_files_and_its_safe_lookups(tmp_path):
    hand_made_exports(tmp_path)
    cube = reader.load_exposures(tmp_path)
    assert cube.dates == (dt.date(2024, 1, 2), dt.date(2024, 1, 3))
    assert cube.ts_codes == ("000001.SZ", "600000.SH")
    assert cube.factors == (*STYLES, *(f"ind_{n}" for n in INDUSTRIES))
    assert cube.values.dtype == np.float32 and cube.values.shape == (2, 2, 13)
    assert cube.get("20240102", "600000.SH", "beta") == np.float32(1 / 8 + 1 / 8)
    assert cube.get("20240102", "600000.SH", "ind_coal") == 1.0
    # Absent date, stock, factor or value: the default, never an exception.
    assert math.isnan(cube.get("20240103", "600000.SH", "beta"))  # no row that day
    assert cube.get("20240104", "000001.SZ", "beta", default=0.0) == 0.0
    assert cube.get("20240102", "999999.SH", "beta", default=-1.0) == -1.0
    assert cube.get("20240102", "000001.SZ", "no_such_factor", default=7.0) == 7.0
    assert cube.get("20240102", "000001.SZ", "momentum", default=9.0) == 9.0  # null in the file
    assert cube.get("not a date", "000001.SZ", "beta", default=3.0) == 3.0
    assert cube.exposures("20240103", "600000.SH") is None
    assert cube.cross_section("20240105").empty
    assert list(cube.cross_section("20240103").index) == ["000001.SZ"]


def test_an_empty_range_gives_an_empty_cube_and_frame(tmp_path):
    hand_made_exports(tmp_path)
    cube = reader.load_exposures(tmp_path, start="20250101")
    assert cube.values.shape[0] == 0 and cube.get("20250102", "000001.SZ", "size", default=1.0) == 1.0
    assert reader.load_exposure_frame(tmp_path, start="20250101").empty


def test_a_missing_column_is_named_with_its_file(tmp_path):
    hand_made_exports(tmp_path)
    with pytest.raises(ValueError, match=r"20240102\.parquet: no column\(s\) \['alpha'\]"):
        reader.load_exposures(tmp_path, factors=["alpha"])


def test_no_risk_model_is_none_not_an_error(tmp_path):
    assert reader.load_risk(tmp_path) is None
    assert reader.load_risk(tmp_path, as_of="20240102") is None


# ---------------------------------------------------------------- on a real export (dbt)


@pytest.fixture(scope="module")
def published(built_market, tmp_path_factory):
    return shared_publication(built_market, tmp_path_factory)


@pytest.mark.dbt
def test_the_cube_and_the_frame_round_trip_the_files(published):
    directory = published.exports_dir / barra.FACTORS_DIR
    dates = reader.list_dates(directory)
    start, end = dates[-5], dates[-1]
    cube = reader.load_exposures(published.exports_dir, start=start, end=end)
    frame = reader.load_exposure_frame(published.exports_dir, start=start, end=end)
    assert cube.dates == tuple(dates[-5:])
    assert list(frame.columns) == ["trade_date", *pq.read_schema(directory / f"{end:%Y%m%d}.parquet").names]
    for day in cube.dates:
        table = pq.read_table(directory / f"{day:%Y%m%d}.parquet").to_pandas().set_index("ts_code")
        section = cube.cross_section(day)
        assert list(section.index) == list(table.index)
        expected = table[list(cube.factors)].to_numpy(np.float64).astype(np.float32)
        np.testing.assert_array_equal(section.to_numpy(), expected)
        rows = frame[frame["trade_date"] == pd.Timestamp(day)].set_index("ts_code")
        pd.testing.assert_frame_equal(rows.drop(columns="trade_date"), table)


@pytest.mark.dbt
def test_the_risk_model_reads_back_with_names_and_safe_lookups(published):
    directory = published.exports_dir / risk.RISK_DIR
    payload = json.loads((directory / risk.LATEST_JSON).read_text())
    model = reader.load_risk(published.exports_dir)
    assert model.estimation_date == reader.parse_date(payload["estimation_date"])
    assert model.factors == tuple(payload["factors"])
    assert model.covariance.shape == (len(model.factors),) * 2
    for f in ("country", "size", "beta"):
        for g in ("country", "momentum"):
            assert model.factor_covariance(f, g) == payload["factor_covariance"][f][g]
    for f in model.inactive_factors:
        assert model.factor_covariance(f, "country", default=0.0) == 0.0
    assert model.factor_covariance("nope", "size", default=-1.0) == -1.0
    specific = pq.read_table(directory / risk.SPECIFIC_FILE).to_pandas()
    code, value = specific["ts_code"].iloc[0], specific["specific_risk"].iloc[0]
    assert model.specific(code) == value
    assert model.specific("999999.SH", default=0.3) == 0.3
    assert "annualized" in model.units["factor_covariance"]
    older = reader.risk_dates(published.exports_dir)[0]
    dated = reader.load_risk(published.exports_dir, as_of=older)
    assert dated.estimation_date == older and dated.specific_risk.empty  # specific risks: latest date only
    assert reader.load_risk(published.exports_dir, as_of="19990101") is None


@pytest.mark.dbt
def test_the_lean_style_example_gives_risk_scaled_insights(published):
    model = reader.load_risk(published.exports_dir)
    alpha = MomentumRiskScaledAlpha(published.exports_dir, target_volatility=0.10, max_weight=0.05)
    insights = alpha.update(model.estimation_date)
    assert insights, "no insight on the latest date"
    weights = np.array([i.weight for i in insights])
    assert np.all(np.abs(weights) <= 0.05 + 1e-12)
    assert 0 < alpha.ex_ante_volatility <= 0.10 + 1e-9
    assert {i.direction for i in insights} <= {-1, 1}
    assert all(i.symbol.endswith((".SH", ".SZ", ".BJ")) for i in insights)
    assert alpha.update("19990101") == []
