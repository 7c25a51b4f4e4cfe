"""The publication gates: each gate fed a deliberately broken input stops the publication, names the expectation
in the run folder's report, and leaves the previous publication byte for byte as it was.

The dbt tests start from the state of a daily update: exports published through D-3, then a warehouse that
holds D-2..D, in which one thing on D is broken with SQL. The Qlib gate is tested on hand-made plans."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from invoke import Context

import tasks
from exporters import gates, publish
from exporters.gates import GateFailed, validate_qlib
from ops.settings import PROJECT_ROOT, Paths
from tests.export_helpers import (
    execute,
    exposure_dates,
    fork,
    query,
    shared_previous,
    shared_warehouse,
    tree_checksums,
)

# ---------------------------------------------------------------- Qlib plans by hand (no dbt)

CALENDAR = pd.to_datetime(["2024-01-02", "2024-01-03", "2024-01-04", "2024-01-05", "2024-01-08"])


def qlib_plan() -> tuple[pd.DataFrame, pd.DataFrame]:
    calendar = pd.DataFrame({"date": CALENDAR})
    files = pd.DataFrame(
        {
            "symbol": ["SH600000", "SH600000", "SZ000001", "BJ830101"],
            "field": ["close", "volume", "close", "close"],
            "start_index": [0, 0, 1, 3],
            "n_values": [5, 5, 3, 2],
            "span_start": pd.to_datetime(["2024-01-02", "2024-01-02", "2024-01-03", "2024-01-05"]),
            "span_end": pd.to_datetime(["2024-01-08", "2024-01-08", "2024-01-05", "2024-01-08"]),
        }
    )
    return calendar, files


def failed_rules(result: gates.GateResult) -> set[str]:
    return {o.rule for o in result.failures}


def test_a_consistent_qlib_plan_passes():
    result = validate_qlib(*qlib_plan())
    assert result.success, [o.line() for o in result.failures]
    assert result.frames == {"calendar": 5, "files": 4}


def _unsorted(calendar, files):
    calendar.loc[[1, 2], "date"] = calendar.loc[[2, 1], "date"].to_numpy()


def _duplicated_day(calendar, files):
    calendar.loc[4, "date"] = calendar.loc[3, "date"]


def _span_outside(calendar, files):
    files.loc[2, "span_start"] = pd.Timestamp("2024-01-06")  # a Saturday: not in the calendar


def _short_file(calendar, files):
    files.loc[0, "n_values"] = 4


def _shifted_start(calendar, files):
    files.loc[3, "start_index"] = 2


def _bad_symbol(calendar, files):
    files.loc[1, "symbol"] = "600000.SH"


def _upper_case_field(calendar, files):
    files.loc[1, "field"] = "Volume"


@pytest.mark.parametrize(
    ("damage", "rule"),
    [
        pytest.param(_unsorted, "qlib.calendar_sorted", id="unsorted-calendar"),
        pytest.param(_duplicated_day, "qlib.calendar_unique", id="duplicated-day"),
        pytest.param(_span_outside, "qlib.span_start_in_calendar", id="span-outside-calendar"),
        pytest.param(_short_file, "qlib.length_matches_span", id="file-shorter-than-span"),
        pytest.param(_shifted_start, "qlib.start_index_matches_span", id="start-index-shifted"),
        pytest.param(_bad_symbol, "qlib.symbol_format", id="tushare-code-as-symbol"),
        pytest.param(_upper_case_field, "qlib.field_format", id="upper-case-field"),
    ],
)
def test_a_broken_qlib_plan_names_its_expectation(damage, rule):
    calendar, files = qlib_plan()
    damage(calendar, files)
    result = validate_qlib(calendar, files)
    assert not result.success
    assert rule in failed_rules(result)
    failure = next(o for o in result.failures if o.rule == rule)
    assert failure.unexpected is None or failure.unexpected >= 1
    assert failure.examples, "a row-level failure shows the offending rows"


def test_the_qlib_gate_of_a_run_writes_its_report_and_raises(tmp_path):
    paths = Paths.from_env(data_dir=tmp_path, duckdb_path=tmp_path / "none.duckdb")
    run = publish.start_run(paths, "export-qlib", {"full": False})
    calendar, files = qlib_plan()
    _unsorted(calendar, files)
    with pytest.raises(GateFailed) as err:
        publish.qlib_gate(run)(calendar, files)
    assert err.value.gate == "qlib" and "qlib.calendar_sorted" in err.value.rules
    report = run.run_dir / "gate_qlib.md"
    assert err.value.report == report
    assert "qlib.calendar_sorted" in report.read_text()
    details = json.loads((run.run_dir / "gate_qlib.json").read_text())
    assert "qlib.calendar_sorted" in details["failed"]
    example = next(o for o in details["outcomes"] if o["rule"] == "qlib.calendar_sorted")["examples"][0]
    assert example["date"] == "2024-01-03"  # the row out of order, by its value


def test_validate_qlib_names_missing_plan_columns():
    calendar, files = qlib_plan()
    with pytest.raises(ValueError, match="n_values"):
        validate_qlib(calendar, files.drop(columns=["n_values"]))


def test_config_names_a_missing_or_unknown_threshold(tmp_path):
    config = gates.load_config()
    del config["risk"]["max_specific_risk"]
    config["risk"]["max_specfic_risk"] = 2.0
    path = tmp_path / "gates.yml"
    path.write_text(json.dumps(config))
    with pytest.raises(ValueError, match=r"missing risk\.max_specific_risk.*unknown risk\.max_specfic_risk"):
        gates.load_config(path)


def test_export_qlib_without_the_exporter_fails_with_a_message(monkeypatch, tmp_path, capsys):
    monkeypatch.setitem(sys.modules, "exporters.qlib", None)  # as if exporters/qlib.py did not exist
    monkeypatch.setenv("FW_DATA_DIR", str(tmp_path))
    with pytest.raises(SystemExit) as err:
        tasks.export_qlib(Context())
    assert err.value.code == 1
    assert "Qlib exporter is not available yet" in capsys.readouterr().err


def test_matrix_diagnostics_see_asymmetry_and_indefiniteness():
    factors = ["country", "banks", *gates.STYLES]
    k = len(factors)
    good = np.eye(k) * 1e-4 + 1e-6
    good[1, :] = good[:, 1] = np.nan  # banks inactive
    row = gates.matrix_diagnostics(pd.Timestamp("2024-01-02").date(), good, factors)
    assert (row["n_active"], row["n_missing_pairs"], row["n_inactive_required"]) == (k - 1, 0, 0)
    assert row["max_relative_asymmetry"] == 0 and row["min_correlation_eigenvalue"] > 0.9
    bad = good.copy()
    bad[2, 3] = bad[3, 2] = 5e-4  # |corr| = 5: not a covariance
    bad[0, 2] += 1e-9
    row = gates.matrix_diagnostics(pd.Timestamp("2024-01-02").date(), bad, factors)
    assert row["min_correlation_eigenvalue"] < 0
    assert row["max_relative_asymmetry"] > 1e-10 and row["worst_pair"] in {"country/size", "size/country"}


# ---------------------------------------------------------------- broken marts (dbt)

BEHIND = 3  # dates the previous publication lacks


@pytest.fixture(scope="module")
def warehouse(built_market, tmp_path_factory) -> Paths:
    return shared_warehouse(built_market, tmp_path_factory)


@pytest.fixture(scope="module")
def previous(built_market, tmp_path_factory) -> Paths:
    """Exports published through D-3, the state before a daily update."""
    return shared_previous(built_market, tmp_path_factory, BEHIND)


def _estu_stock(paths: Paths, date: str) -> str:
    frame = query(
        paths,
        "select min(e.ts_code) as ts_code from marts.fct_barra_exposures as e "
        "inner join intermediate.int_returns__daily as r on r.ts_code = e.ts_code and r.trade_date = e.trade_date "
        "where e.in_estu and e.trade_date = ?::date and r.gap_trading_days = 1 and r.stock_row_number > 10",
        [date],
    )
    return frame["ts_code"].iloc[0]


def _duplicate_price(paths, date, code):
    execute(
        paths,
        "insert into intermediate.int_prices__daily "
        "select * from intermediate.int_prices__daily where trade_date = ?::date and ts_code = ?",
        params=[date, code],
    )


def _toxic_return(paths, date, code):
    execute(
        paths,
        "update intermediate.int_returns__daily set simple_return = 0.8 where trade_date = ?::date and ts_code = ?",
        params=[date, code],
    )


def _null_style(paths, date, code):
    execute(
        paths,
        "update marts.fct_barra_exposures set momentum = null where trade_date = ?::date and ts_code = ?",
        params=[date, code],
    )


def _unknown_industry(paths, date, code):
    execute(
        paths,
        "update marts.fct_barra_exposures set industry = 'not_an_industry' where trade_date = ?::date and ts_code = ?",
        params=[date, code],
    )


def _duplicate_exposure(paths, date, code):
    execute(
        paths,
        "insert into marts.fct_barra_exposures "
        "select * from marts.fct_barra_exposures where trade_date = ?::date and ts_code = ?",
        params=[date, code],
    )


def _unstandardized(paths, date, code):
    execute(
        paths,
        "update marts.fct_barra_exposures set leverage = leverage * 1.01 where trade_date = ?::date",
        params=[date],
    )


def _asymmetric(paths, date, code):
    execute(
        paths,
        "update marts.fct_factor_covariance set value = value * 1.5 + 1e-5 "
        "where trade_date = ?::date and factor_1 = 'size' and factor_2 = 'beta'",
        params=[date],
    )


def _not_positive_definite(paths, date, code):
    # size and beta with a covariance of 5 x sqrt(var var): a "correlation" of 5 (symmetric, indefinite)
    execute(
        paths,
        """
        update marts.fct_factor_covariance as c set value = 5 * sqrt(v.a * v.b)
        from (
            select max(value) filter (where factor_1 = 'size') as a, max(value) filter (where factor_1 = 'beta') as b
            from marts.fct_factor_covariance
            where trade_date = ?::date and factor_1 = factor_2 and factor_1 in ('size', 'beta')
        ) as v
        where c.trade_date = ?::date
            and ((factor_1 = 'size' and factor_2 = 'beta') or (factor_1 = 'beta' and factor_2 = 'size'))
        """,
        params=[date, date],
    )


def _specific_500_percent(paths, date, code):
    execute(
        paths,
        "update marts.fct_specific_risk set specific_risk = 5.0 / sqrt(252) where trade_date = ?::date and ts_code = ?",
        params=[date, code],
    )


def _estu_stock_without_specific_risk(paths, date, code):
    execute(
        paths, "delete from marts.fct_specific_risk where trade_date = ?::date and ts_code = ?", params=[date, code]
    )


BROKEN = [
    pytest.param(_duplicate_price, "foundation", "foundation.prices_keys_unique", id="duplicated-price-key"),
    pytest.param(_toxic_return, "foundation", "foundation.no_toxic_returns", id="80pct-one-day-return"),
    pytest.param(_null_style, "exposures", "exposures.momentum_not_null_in_estu", id="null-style-in-estu"),
    pytest.param(_unknown_industry, "exposures", "exposures.one_industry_per_row", id="industry-not-in-seed"),
    pytest.param(_duplicate_exposure, "exposures", "exposures.keys_unique", id="duplicated-exposure-key"),
    pytest.param(_unstandardized, "exposures", "exposures.std_one", id="style-not-standardized"),
    pytest.param(_asymmetric, "risk", "risk.covariance_symmetric", id="non-symmetric-covariance"),
    pytest.param(_not_positive_definite, "risk", "risk.covariance_positive_definite", id="non-pd-covariance"),
    pytest.param(_specific_500_percent, "risk", "risk.specific_risk_in_range", id="specific-risk-500pct"),
    pytest.param(_estu_stock_without_specific_risk, "risk", "risk.estu_covered", id="estu-stock-uncovered"),
]


@pytest.mark.dbt
@pytest.mark.parametrize(("damage", "gate", "rule"), BROKEN)
def test_a_broken_input_publishes_nothing_and_names_the_expectation(warehouse, previous, tmp_path, damage, gate, rule):
    paths = fork(warehouse, previous, tmp_path / "data")
    last = exposure_dates(paths)[-1]
    code = _estu_stock(paths, last)
    damage(paths, last, code)
    before = tree_checksums(paths.exports_dir)
    with pytest.raises(GateFailed) as err:
        publish.export_barra(paths)
    assert err.value.gate == gate
    assert rule in err.value.rules, err.value.message()
    assert rule in str(err.value)
    assert tree_checksums(paths.exports_dir) == before, "the previous publication changed"
    (run_dir,) = paths.runs_dir.iterdir()
    assert err.value.report == run_dir / f"gate_{gate}.md"
    report = err.value.report.read_text()
    assert rule in report and "FAILED" in report
    details = json.loads((run_dir / f"gate_{gate}.json").read_text())
    failure = next(o for o in details["outcomes"] if o["rule"] == rule)
    assert not failure["success"]
    assert failure["examples"] or failure["observed"] is not None
    if gate == "foundation":  # row rules name the damaged row by its keys, as plain values
        assert {"ts_code": code, "trade_date": last}.items() <= failure["examples"][0].items()
    record = json.loads((run_dir / "run.json").read_text())
    assert record["status"] == "gate_failed" and rule in record["error"]


@pytest.mark.dbt
def test_the_task_exits_non_zero_naming_gate_and_expectation(warehouse, previous, tmp_path):
    paths = fork(warehouse, previous, tmp_path / "data")
    last = exposure_dates(paths)[-1]
    _null_style(paths, last, _estu_stock(paths, last))
    before = tree_checksums(paths.exports_dir)
    env = {**os.environ, **paths.env()}
    done = subprocess.run(
        [str(Path(sys.executable).parent / "invoke"), "export-barra"],
        cwd=PROJECT_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 1, done.stdout + done.stderr
    assert "gate 'exposures'" in done.stderr and "exposures.momentum_not_null_in_estu" in done.stderr
    assert "Traceback" not in done.stderr
    assert tree_checksums(paths.exports_dir) == before


@pytest.mark.dbt
def test_validate_judges_without_publishing(warehouse, previous, tmp_path):
    paths = fork(warehouse, previous, tmp_path / "data")
    before = tree_checksums(paths.exports_dir)
    run = publish.validate(paths)
    assert run.status == "validated"
    assert {"foundation", "exposures", "risk"} <= set(run.gates)
    assert all(r.success for r in run.gates.values())
    assert tree_checksums(paths.exports_dir) == before
    assert (run.run_dir / "gate_exposures.md").exists()
