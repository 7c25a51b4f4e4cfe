"""The Qlib export read back by the real Qlib (pyqlib 0.9.7): every symbol and field equals the marts bit for bit
as float32, spans and markets are right, a day-by-day append equals a full export byte for byte, Alpha158 runs,
and bad input stops the export before anything is written."""

from __future__ import annotations

import json
import re
import shutil

import duckdb
import numpy as np
import pandas as pd
import pytest

from exporters import qlib_plan, qlib_source
from exporters.qlib import QlibExportError, export_qlib, inventory_frames, qlib_plan_frames, qlib_symbol
from exporters.qlib_layout import (
    APPEND_MARKER,
    BinFile,
    format_calendar,
    format_instruments,
    parse_calendar,
    read_bins_index,
    repair_to_calendar,
    scan_bins,
)
from exporters.qlib_write import write_symbol
from tests.qlib_helpers import (
    QLIB_FIELDS,
    STYLES,
    assert_bitwise_equal,
    expected_features,
    export_chain,
    listing_spans,
    manifest_without_run,
    qlib_calendar,
    qlib_features,
    qlib_init,
    tree_differences,
    within_spans,
)

# --- the format, without a warehouse -----------------------------------------------------------------------------


def test_symbols_follow_qlib_and_anything_else_is_refused():
    assert qlib_symbol("600000.SH") == "SH600000"
    assert qlib_symbol("000001.SZ") == "SZ000001"
    assert qlib_symbol("830799.BJ") == "BJ830799"
    for bad in ["600000.sh", "60000.SH", "600000.SS", "../../x.SH", "600000.SH/..", "AAPL", "", None, "600000.SH\n"]:
        with pytest.raises(QlibExportError, match="not an A-share code"):
            qlib_symbol(bad)


def test_text_files_are_what_qlib_parses():
    dates = np.array(["2020-01-02", "2020-01-03"], dtype="datetime64[D]")
    assert format_calendar(dates) == "2020-01-02\n2020-01-03\n"
    assert np.array_equal(parse_calendar("2020-01-02\n2020-01-03\n\n"), dates)
    text = format_instruments(["SZ000001", "SH600000", "SZ000001"], dates[[1, 0, 0]], dates[[1, 1, 0]])
    assert (
        text == "SH600000\t2020-01-02\t2020-01-03\nSZ000001\t2020-01-02\t2020-01-02\nSZ000001\t2020-01-03\t2020-01-03\n"
    )


def _floats(path) -> np.ndarray:
    return np.fromfile(path, dtype="<f4")


def test_append_pads_from_the_day_after_the_last_value_and_new_fields_start_at_their_own_index(tmp_path):
    fields = ("close", "size")
    first = write_symbol(
        tmp_path, "SH600000", fields, np.array([3, 5]), np.array([[1, 2], [7, 8]], "f4"), np.full(2, -1)
    )
    assert first == 2 * 3  # days 3, 4, 5
    close = tmp_path / "features" / "sh600000" / "close.day.bin"
    assert np.array_equal(_floats(close), [3, 1, np.nan, 2], equal_nan=True)
    # close ends on day 5; size has no file yet: close is padded over 6..8, size starts at 9
    write_symbol(tmp_path, "SH600000", fields, np.array([9, 10]), np.array([[3, 4], [9, 10]], "f4"), np.array([5, -1]))
    assert np.array_equal(_floats(close), [3, 1, np.nan, 2, np.nan, np.nan, np.nan, 3, 4], equal_nan=True)
    assert np.array_equal(_floats(tmp_path / "features" / "sh600000" / "size.day.bin"), [9, 9, 10])
    with pytest.raises(QlibExportError, match="already holds values"):
        write_symbol(tmp_path, "SH600000", fields, np.array([10]), np.ones((2, 1), "f4"), np.array([10, 10]))


def test_repair_cuts_every_file_back_to_the_published_calendar(tmp_path):
    folder = tmp_path / "features" / "sh600000"
    folder.mkdir(parents=True)
    np.array([0, 1, 2, 3, 4], "<f4").tofile(folder / "close.day.bin")  # days 0..3, published 0..2
    np.array([1, 5, 6], "<f4").tofile(folder / "open.day.bin")  # days 1..2: untouched
    (tmp_path / "features" / "sz000001").mkdir()
    np.array([3, 9], "<f4").tofile(tmp_path / "features" / "sz000001" / "close.day.bin")  # created past the end
    (tmp_path / "calendars").mkdir()
    (tmp_path / "calendars" / ".day.txt.partial").write_text("x")
    repair = repair_to_calendar(tmp_path, list(scan_bins(tmp_path)), n_published=3)
    assert (repair.truncated, repair.removed, repair.temporaries) == (1, 1, 1)
    assert np.array_equal(_floats(folder / "close.day.bin"), [0, 1, 2, 3])
    assert np.array_equal(_floats(folder / "open.day.bin"), [1, 5, 6])
    assert not (tmp_path / "features" / "sz000001").exists()
    assert [(b.symbol, b.field, b.start_index, b.n_values) for b in scan_bins(tmp_path)] == [
        ("sh600000", "close", 0, 3),
        ("sh600000", "open", 1, 2),
    ]
    assert isinstance(next(scan_bins(tmp_path)), BinFile)


# --- a full export of the demo market -----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def market_meta(built_market) -> dict:
    return json.loads((built_market.truth_dir / "meta.json").read_text())


@pytest.fixture(scope="module")
def full_export(built_market, tmp_path_factory):
    out = tmp_path_factory.mktemp("qlib_full") / "qlib"
    result = export_qlib(built_market.duckdb_path, out, full=True)
    return out, result


@pytest.mark.dbt
def test_every_symbol_and_field_reads_back_bit_for_bit(built_market, full_export, market_meta):
    root, result = full_export
    db = built_market.duckdb_path
    calendar = qlib_calendar(root)
    with duckdb.connect(str(db), read_only=True) as con:
        rows = con.execute("select distinct trade_date from marts.fct_daily_features").fetchall()
        days = [pd.Timestamp(d) for (d,) in rows]
    assert calendar == sorted(days), "the calendar is the union of the dates with data"
    expected = expected_features(db, calendar)
    fields = [c[1:] for c in expected.columns]
    assert set(QLIB_FIELDS) | set(STYLES) <= set(fields) and len(fields) == result.fields
    symbols = sorted(expected.index.get_level_values("instrument").unique())
    assert len(symbols) == result.symbols == 40

    assert_bitwise_equal(qlib_features(root, symbols, fields), expected)  # a list: whole files, halts as NaN
    spans = listing_spans(db)
    assert_bitwise_equal(qlib_features(root, "all", fields), within_spans(expected, spans))  # clipped to spans

    # the traps are there, so the comparison above covered them
    relisted = qlib_symbol(market_meta["traps"]["relisting"][0]["ts_code"])
    halted = qlib_symbol(market_meta["traps"]["long_suspension"][0]["ts_code"])
    lines = (root / "instruments" / "all.txt").read_text().splitlines()
    assert len([line for line in lines if line.startswith(relisted + "\t")]) == 2
    assert len([line for line in lines if line.startswith(halted + "\t")]) == 1
    halt_days = expected.loc[halted, "$close"].isna().sum()
    assert halt_days >= 100, "the long suspension reads as NaN days inside its one span"
    gap = expected.loc[relisted]
    (first_end, second_start) = (spans[relisted][0][1], spans[relisted][1][0])
    assert gap.loc[first_end:second_start].iloc[1:-1]["$close"].isna().all()
    market_rows = qlib_features(root, "all", ["close"]).loc[relisted]
    assert not ((market_rows.index > first_end) & (market_rows.index < second_start)).any()


@pytest.mark.dbt
def test_instruments_hold_listing_spans_and_the_estimation_universe(built_market, full_export):
    root, _ = full_export
    db = built_market.duckdb_path
    with duckdb.connect(str(db), read_only=True) as con:
        spans = con.execute("select ts_code, span_start, span_end from marts.dim_security_listing_spans").df()
        estu = con.execute("select ts_code, trade_date, in_estu from marts.fct_barra_exposures").df()
    all_txt = pd.read_csv(root / "instruments" / "all.txt", sep="\t", header=None, names=["s", "a", "b"])
    starts, ends = pd.to_datetime(spans.span_start), pd.to_datetime(spans.span_end)
    expected_all = sorted(
        (qlib_symbol(c), str(a.date()), str(b.date())) for c, a, b in zip(spans.ts_code, starts, ends, strict=True)
    )
    assert sorted(map(tuple, all_txt.astype(str).to_numpy())) == expected_all

    # ESTU spans again, the slow way: runs of a stock's consecutive rows with in_estu, cut at listing spans
    expected_estu = []
    listing = spans.assign(span_start=pd.to_datetime(spans.span_start), span_end=pd.to_datetime(spans.span_end))
    for code, rows in (
        estu.assign(trade_date=pd.to_datetime(estu.trade_date)).sort_values("trade_date").groupby("ts_code")
    ):
        for _, span in listing[listing.ts_code == code].iterrows():
            inside = rows[(rows.trade_date >= span.span_start) & (rows.trade_date <= span.span_end)]
            run_id = (inside.in_estu != inside.in_estu.shift()).cumsum()
            for _, run in inside[inside.in_estu].groupby(run_id[inside.in_estu]):
                expected_estu.append(
                    (qlib_symbol(code), str(run.trade_date.min().date()), str(run.trade_date.max().date()))
                )
    estu_txt = pd.read_csv(root / "instruments" / "estu.txt", sep="\t", header=None, names=["s", "a", "b"])
    assert sorted(map(tuple, estu_txt.astype(str).to_numpy())) == sorted(expected_estu)
    assert len(expected_estu) >= 20

    from qlib.data import D

    qlib_init(root)
    members = D.list_instruments(D.instruments("estu"), as_list=True)
    assert set(members) == {s for s, _, _ in expected_estu}


# Alpha158 columns whose window is longer than a stock's history are NaN for that stock: the window is the number
# at the end of the name (ROC60, CORD30, ...), and the expressions also look one day back (Ref($close, 1)).
WINDOW = re.compile(r"(\d+)$")


@pytest.mark.dbt
def test_alpha158_runs_on_the_export(full_export):
    from qlib.contrib.data.handler import Alpha158

    root, _ = full_export
    calendar = qlib_calendar(root)
    handler = Alpha158(
        instruments="all",
        start_time=calendar[0],
        end_time=calendar[-1],
        fit_start_time=calendar[0],
        fit_end_time=calendar[-1],
    )
    features = handler.fetch(col_set="feature")
    assert features.shape[1] == 158
    assert not [c for c in features.columns if features[c].isna().all()], "a column is NaN for every stock"
    closes = qlib_features(root, "all", ["close"])["$close"]
    trading_rows = closes.notna().groupby(level="instrument").sum()
    short_histories = set()
    for symbol, rows in features.groupby(level="instrument"):
        for column in rows.columns[rows.isna().all()]:
            window = int(WINDOW.search(column).group(1)) if WINDOW.search(column) else 0
            assert trading_rows[symbol] <= window + 1, (
                f"{symbol} has {trading_rows[symbol]} trading rows but {column} is all NaN"
            )
            short_histories.add(symbol)
    # the IPO a few days before the end of the demo history is the only stock too young for the 20 to 60-day columns
    assert short_histories <= {s for s, n in trading_rows.items() if n < 61}


@pytest.mark.dbt
def test_the_gate_sees_exactly_what_is_then_published(built_market, tmp_path):
    out = tmp_path / "qlib"
    calendar_plan, files_plan = qlib_plan_frames(built_market.duckdb_path, out)
    seen = []

    def gate(calendar, files):
        assert not out.exists(), "the gate runs before anything is written"
        seen.append((calendar, files))

    export_qlib(built_market.duckdb_path, out, gate=gate)
    calendar_disk, files_disk = inventory_frames(out)
    for calendar, files in [seen[0], (calendar_plan, files_plan)]:
        pd.testing.assert_frame_equal(calendar, calendar_disk)
        pd.testing.assert_frame_equal(files, files_disk)
    assert list(files_disk.columns) == ["symbol", "field", "start_index", "n_values", "span_start", "span_end"]
    assert str(calendar_disk["date"].dtype).startswith("datetime64")
    assert files_disk.dtypes["start_index"] == np.int64 and files_disk.dtypes["n_values"] == np.int64
    assert (files_disk.span_start == calendar_disk.date.to_numpy()[files_disk.start_index]).all()
    assert len(files_disk) == 40 * 38

    # appending with no new dates: the plan is the inventory, and nothing changes but the manifest's run record
    before = tmp_path / "before"
    shutil.copytree(out, before)
    result = export_qlib(built_market.duckdb_path, out, gate=lambda c, f: pd.testing.assert_frame_equal(f, files_disk))
    assert (result.mode, result.new_dates, result.values_written) == ("append", 0, 0)
    assert tree_differences(before, out, ignore=("manifest.json",)) == []

    def refuse(calendar, files):
        raise RuntimeError("gate failed")

    with pytest.raises(RuntimeError, match="gate failed"):
        export_qlib(built_market.duckdb_path, out, full=True, gate=refuse)
    assert tree_differences(before, out, ignore=("manifest.json",)) == []
    assert sorted(p.name for p in tmp_path.iterdir()) == [".qlib.lock", "before", "qlib"]


@pytest.mark.dbt
def test_the_read_batch_size_does_not_change_a_byte(built_market, full_export, tmp_path):
    out = tmp_path / "qlib"
    export_qlib(built_market.duckdb_path, out, full=True, batch_rows=997)  # symbols cut by batch boundaries
    assert tree_differences(full_export[0], out) == []


@pytest.mark.dbt
def test_a_full_rebuild_replaces_the_publication_and_refuses_foreign_directories(built_market, full_export, tmp_path):
    root, _ = full_export
    out = tmp_path / "qlib"
    shutil.copytree(root, out)
    (out / "features" / "sh600050" / "close.day.bin").write_bytes(b"\0\0\0\0")  # damage, then rebuild
    export_qlib(built_market.duckdb_path, out, full=True)
    assert tree_differences(root, out) == []
    assert sorted(p.name for p in tmp_path.iterdir()) == [".qlib.lock", "qlib"]

    foreign = tmp_path / "home"
    foreign.mkdir()
    (foreign / "notes.txt").write_text("mine")
    with pytest.raises(QlibExportError, match="refusing to replace"):
        export_qlib(built_market.duckdb_path, foreign, full=True)
    assert [p.name for p in foreign.iterdir()] == ["notes.txt"]


def _some_row(con, table: str) -> tuple[str, str]:
    """A (ts_code, trade_date) of the mart on its last day, so that an append reads it too."""
    code, day = con.execute(
        f"select ts_code, trade_date from marts.{table} "
        f"where trade_date = (select max(trade_date) from marts.{table}) order by ts_code limit 1"
    ).fetchone()
    return code, str(day)


def _duplicated(table: str, code: str, day: str) -> str:
    """The error must name the mart and the key (the count is known only when an append checks its rows first)."""
    return rf"{table} has duplicated \(ts_code, trade_date\) rows.*\(ts_code={re.escape(code)}, trade_date={day}\)"


def _invalid_ts_code(con) -> str:
    code, _ = _some_row(con, "fct_barra_exposures")
    con.execute("update marts.fct_barra_exposures set ts_code = '60005/.SH' where ts_code = ?", [code])
    return r"fct_barra_exposures: ts_code '60005/.SH' is not an A-share code"


def _duplicated_exposure(con) -> str:
    code, day = _some_row(con, "fct_barra_exposures")
    con.execute(
        "insert into marts.fct_barra_exposures select * from marts.fct_barra_exposures "
        "where ts_code = ? and trade_date = ?",
        [code, day],
    )
    return _duplicated("fct_barra_exposures", code, day)


def _duplicated_feature(con) -> str:
    code, day = _some_row(con, "fct_daily_features")
    con.execute("create table marts.features_copy as select * from marts.fct_daily_features")
    con.execute("drop view marts.fct_daily_features")
    con.execute(
        "create table marts.fct_daily_features as select * from marts.features_copy union all "
        "select * from marts.features_copy where ts_code = ? and trade_date = ?",
        [code, day],
    )
    return _duplicated("fct_daily_features", code, day)


@pytest.mark.dbt
@pytest.mark.parametrize("damage", [_invalid_ts_code, _duplicated_exposure, _duplicated_feature])
def test_bad_input_stops_the_export_before_anything_is_written(built_market, full_export, tmp_path, damage):
    db = tmp_path / "damaged" / built_market.duckdb_path.name  # dbt's views name the catalog: keep the file name
    db.parent.mkdir()
    shutil.copy(built_market.duckdb_path, db)
    with duckdb.connect(str(db)) as con:
        message = damage(con)

    fresh = tmp_path / "fresh"  # a first export
    with pytest.raises(QlibExportError, match=message):
        export_qlib(db, fresh)
    assert not fresh.exists()

    published = tmp_path / "published"  # a full rebuild over a publication
    shutil.copytree(full_export[0], published)
    with pytest.raises(QlibExportError, match=message):
        export_qlib(db, published, full=True)
    assert tree_differences(full_export[0], published) == []

    behind = tmp_path / "behind"  # an append: a publication five days behind the warehouse
    shutil.copytree(full_export[0], behind)
    calendar = behind / "calendars" / "day.txt"
    calendar.write_text("".join(calendar.read_text().splitlines(keepends=True)[:-5]))
    before = tmp_path / "behind_before"
    shutil.copytree(behind, before)
    with pytest.raises(QlibExportError, match=message):
        export_qlib(db, behind)
    assert tree_differences(before, behind) == []
    assert not list(tmp_path.glob("*staging*")), "no half-written directory is left behind"


@pytest.mark.dbt
def test_the_bins_index_describes_every_file_and_is_not_trusted_after_an_interrupted_append(full_export, tmp_path):
    root, _ = full_export
    n_dates = len(qlib_calendar(root))
    on_disk = sorted((b.symbol, b.field, b.start_index, b.n_values, b.size) for b in scan_bins(root))
    indexed = read_bins_index(root, n_dates)
    assert sorted((b.symbol, b.field, b.start_index, b.n_values, b.size) for b in indexed) == on_disk
    assert all(b.path.exists() for b in indexed)
    assert read_bins_index(root, n_dates - 1) is None, "an index of another calendar length"
    copy = tmp_path / "qlib"
    shutil.copytree(root, copy)
    (copy / APPEND_MARKER).touch()
    assert read_bins_index(copy, n_dates) is None, "an append was interrupted: the files may hold more"


def _estu_warehouse(rows: pd.DataFrame, spans: pd.DataFrame) -> duckdb.DuckDBPyConnection:
    con = duckdb.connect()
    con.execute("create schema marts")
    con.register("rows_df", rows)
    con.register("spans_df", spans)
    con.execute("create table marts.fct_barra_exposures as select * from rows_df")
    con.execute("create table marts.dim_security_listing_spans as select * from spans_df")
    return con


def test_an_append_joins_the_estimation_universe_runs_exactly_as_a_full_export_cuts_them(tmp_path):
    """Random memberships, halts and relistings: for every cut date, the published runs up to it joined with the
    runs of the later rows (qlib_plan's append) equal the runs of the whole history."""
    rng = np.random.default_rng(7)
    days = np.arange(np.datetime64("2020-01-01"), np.datetime64("2020-03-01"))
    rows, spans = [], []
    for k in range(12):
        code = f"{600000 + k:06d}.SH"
        breaks = sorted(rng.choice(np.arange(5, len(days) - 5), size=2, replace=False))
        listed = [(0, breaks[0]), (breaks[1], len(days) - 1)] if k % 3 == 0 else [(0, len(days) - 1)]
        member = bool(rng.integers(2))
        for number, (lo, hi) in enumerate(listed, start=1):
            spans.append((code, days[lo], days[hi], number))
            for i in range(lo, hi + 1):
                if rng.random() < 0.15 and lo < i < hi:  # a halt: no row
                    continue
                member = member if rng.random() < 0.8 else not member
                rows.append((code, days[i], member))
    rows_df = pd.DataFrame(rows, columns=["ts_code", "trade_date", "in_estu"])
    spans_df = pd.DataFrame(spans, columns=["ts_code", "span_start", "span_end", "span_number"])
    for frame, columns in ((rows_df, ["trade_date"]), (spans_df, ["span_start", "span_end"])):
        frame[columns] = frame[columns].apply(lambda c: c.dt.date)

    full = _estu_warehouse(rows_df, spans_df)
    expected = qlib_plan._instruments_text(qlib_source.estu_spans(full))
    listing = qlib_source.listing_spans(full)
    mart = qlib_source.Mart("fct_barra_exposures", ())
    joined = 0
    for cut in days[3:-1:4]:
        published_con = _estu_warehouse(rows_df[rows_df.trade_date <= cut.item()], spans_df)
        published = qlib_plan._instruments_text(qlib_source.estu_spans(published_con))
        out = tmp_path / str(cut)
        (out / "instruments").mkdir(parents=True)
        (out / "instruments" / "estu.txt").write_text(published)
        ext = qlib_source.extents(full, mart, cut.item(), count_dates=False)
        appended = qlib_plan._appended_estu(full, out, days[days <= cut], ext, listing)
        assert appended == expected, f"cut after {cut}"
        joined += (
            len(published.splitlines())
            + len(qlib_source.estu_spans(full, cut.item()).ts_codes)
            - len(expected.splitlines())
        )
    assert joined > 10, "the cuts split runs, some across a halt"


# --- appends, one build at a time ---------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def chain(market, tmp_path_factory):
    return export_chain(market, tmp_path_factory.mktemp("qlib_chain"))


@pytest.mark.dbt
def test_appending_day_by_day_equals_one_full_export(chain):
    assert tree_differences(chain.full, chain.appended, ignore=("manifest.json",)) == []
    assert manifest_without_run(chain.full) == manifest_without_run(chain.appended)
    runs = [json.loads((s / "manifest.json").read_text())["last_run"] for s in chain.snapshots]
    assert [(r["mode"], r["new_dates"]) for r in runs] == [("full", runs[0]["new_dates"])] + [("append", 1)] * 3

    # the suspended stock resumed during the appends: its files were padded with NaN over the whole halt
    calendar = qlib_calendar(chain.appended)
    resumed = qlib_symbol(chain.resumed)
    before = {(b.symbol, b.field): b for b in scan_bins(chain.snapshots[0])}[(resumed.lower(), "close")]
    after = {(b.symbol, b.field): b for b in scan_bins(chain.appended)}[(resumed.lower(), "close")]
    assert before.end_index < len(calendar) - 4 and after.end_index == len(calendar) - 1
    assert np.isnan(_floats(after.path)[1 + before.n_values : 1 + after.n_values - 2]).all()
    # a stock listed during the appends starts at its own first day, not at 0
    new = {b.field: b for b in scan_bins(chain.appended) if b.symbol == qlib_symbol(chain.new_symbol).lower()}
    assert {b.start_index for b in new.values()} == {calendar.index(pd.Timestamp(chain.end_dates[2]))}
    assert len(new) == 38

    expected = expected_features(chain.duckdb_path, calendar)
    fields = [c[1:] for c in expected.columns]
    symbols = sorted(expected.index.get_level_values("instrument").unique())
    assert_bitwise_equal(qlib_features(chain.appended, symbols, fields), expected)
    spans = listing_spans(chain.duckdb_path)
    assert_bitwise_equal(qlib_features(chain.appended, "all", fields), within_spans(expected, spans))
