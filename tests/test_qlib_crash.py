"""A Qlib export killed at any point leaves readers the old publication or the new one, and the next run repairs
what it left and ends byte-identical to a run that was never interrupted.

The export runs in a child process told to die (os._exit, as a kill would) at a named point through the test-only
variable ``exporters.qlib.CRASH_ENV``; the chain's export of day N-3 is published and the warehouse holds day N,
so the killed run was appending three days, among them an IPO (files created) and a resumption after a long halt
(files padded over the halt).
"""

from __future__ import annotations

import json
import shutil

import pandas as pd
import pytest

from exporters.qlib import CRASH_EXIT_CODE, export_qlib, inventory_frames
from exporters.qlib_layout import APPEND_MARKER
from tests.qlib_helpers import (
    assert_same_values,
    export_chain,
    qlib_calendar,
    qlib_features,
    run_export_process,
    tree_differences,
)

pytestmark = pytest.mark.dbt


@pytest.fixture(scope="module")
def chain(market, tmp_path_factory):
    return export_chain(market, tmp_path_factory.mktemp("qlib_chain"))


@pytest.fixture(scope="module")
def fields(chain) -> list[str]:
    return json.loads((chain.full / "manifest.json").read_text())["fields"]


@pytest.fixture(scope="module")
def old_view(chain, fields):
    """What a reader of the published day N-3 sees: the calendar, every symbol's fields, the market query."""
    published = chain.snapshots[0]
    symbols = sorted(line.split("\t")[0] for line in (published / "instruments" / "all.txt").read_text().splitlines())
    return {
        "calendar": qlib_calendar(published),
        "symbols": sorted(set(symbols)),
        "list": qlib_features(published, sorted(set(symbols)), fields),
        "market": qlib_features(published, "all", fields),
    }


@pytest.fixture(scope="module")
def uninterrupted(chain, tmp_path_factory):
    """The day N-3 publication appended to day N in one run that nobody killed."""
    out = tmp_path_factory.mktemp("qlib_uninterrupted") / "qlib"
    shutil.copytree(chain.snapshots[0], out)
    result = export_qlib(chain.duckdb_path, out)
    assert (result.mode, result.new_dates) == ("append", 3)
    return out


def assert_readers_see_the_old_publication(root, old_view, fields):
    """The old calendar and, on every day of it, the old value of every symbol and field (see assert_same_values
    for the NaN rows of a stock resuming in the new dates)."""
    assert qlib_calendar(root) == old_view["calendar"]
    assert_same_values(qlib_features(root, old_view["symbols"], fields), old_view["list"])
    assert_same_values(qlib_features(root, "all", fields), old_view["market"])


APPEND_CRASH_POINTS = [
    "bins:3",  # a few symbols appended
    "bins:45",  # every feature file, and some exposures
    "after_bins",  # every .bin appended and synced
    "after_instruments:all",
    "after_instruments:estu",
    "calendar_staged",  # the new calendar written beside day.txt, not yet renamed over it
]


@pytest.mark.parametrize("point", APPEND_CRASH_POINTS)
def test_a_killed_append_is_invisible_and_the_rerun_repairs_it(chain, old_view, fields, uninterrupted, tmp_path, point):
    out = tmp_path / "qlib"
    shutil.copytree(chain.snapshots[0], out)
    assert run_export_process(chain.duckdb_path, out, full=False, crash_at=point) == CRASH_EXIT_CODE

    calendar, files = inventory_frames(out)
    past_the_end = files.start_index + files.n_values > len(calendar)
    assert past_the_end.any(), "the killed run had written values past the calendar"
    assert_readers_see_the_old_publication(out, old_view, fields)

    result = export_qlib(chain.duckdb_path, out)
    assert result.repair.truncated > 0
    if not point.startswith("bins:"):
        assert result.repair.removed == 38, "the IPO's files, created by the killed run, were removed and redone"
    assert tree_differences(uninterrupted, out) == []


def test_a_run_killed_after_the_calendar_is_published_only_lacks_its_manifest(chain, uninterrupted, tmp_path):
    out = tmp_path / "qlib"
    shutil.copytree(chain.snapshots[0], out)
    assert run_export_process(chain.duckdb_path, out, full=False, crash_at="after_calendar") == CRASH_EXIT_CODE
    # the new publication, the old manifest, and the marker that makes the next run check every file
    assert tree_differences(uninterrupted, out) == sorted([APPEND_MARKER, "manifest.json"])
    result = export_qlib(chain.duckdb_path, out)
    assert (result.new_dates, result.values_written, result.repair.changed) == (0, 0, False)
    assert tree_differences(uninterrupted, out) == []  # the manifest counts the dates the killed run added


@pytest.mark.parametrize("point", ["full:bins:10", "full:before_swap"])
def test_a_killed_full_rebuild_leaves_the_old_publication_untouched(chain, old_view, fields, tmp_path, point):
    out = tmp_path / "qlib"
    shutil.copytree(chain.snapshots[0], out)
    assert run_export_process(chain.duckdb_path, out, full=True, crash_at=point) == CRASH_EXIT_CODE
    assert tree_differences(chain.snapshots[0], out) == []
    assert (tmp_path / ".qlib.staging").is_dir(), "the killed run's half-built directory is beside the old one"
    assert_readers_see_the_old_publication(out, old_view, fields)

    export_qlib(chain.duckdb_path, out, full=True)
    assert tree_differences(chain.full, out) == []
    assert sorted(p.name for p in tmp_path.iterdir()) == [".qlib.lock", "qlib"]


def test_a_full_rebuild_killed_after_its_swap_is_complete(chain, tmp_path):
    out = tmp_path / "qlib"
    shutil.copytree(chain.snapshots[0], out)
    assert run_export_process(chain.duckdb_path, out, full=True, crash_at="full:after_swap") == CRASH_EXIT_CODE
    assert tree_differences(chain.full, out) == []  # the new publication; the old one waits beside it
    assert (tmp_path / ".qlib.staging" / "calendars" / "day.txt").exists()
    assert qlib_calendar(out)[-1] == pd.Timestamp(chain.end_dates[-1])

    export_qlib(chain.duckdb_path, out)
    assert tree_differences(chain.full, out, ignore=("manifest.json",)) == []
    assert sorted(p.name for p in tmp_path.iterdir()) == [".qlib.lock", "qlib"]
