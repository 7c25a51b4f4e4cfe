"""Shared fixtures: small generated markets and warehouses built from them with real dbt runs."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from ingest.demo import generate_demo_market
from ops.build import build
from ops.settings import Paths

# Big enough for every trap of the demo market (IPO, delisting, long suspension, relisting,
# splits, dividends, industry changes) and, at 900 days, for the recursive averages to drop their
# oldest block (2 x 405 rows: see macros/exponential_smoothing.sql); small enough to build in seconds.
MARKET_STOCKS, MARKET_DAYS, MARKET_SEED = 40, 900, 11
TINY_STOCKS, TINY_DAYS, TINY_SEED = 20, 60, 3


def market_paths(root: Path) -> Paths:
    return Paths.from_env(data_dir=root, duckdb_path=root / "warehouse.duckdb")


@pytest.fixture(scope="session")
def market(tmp_path_factory) -> Paths:
    """Raw files of a 40 x 900 demo market (not built)."""
    paths = market_paths(tmp_path_factory.mktemp("market"))
    generate_demo_market(paths.raw_dir, MARKET_STOCKS, MARKET_DAYS, MARKET_SEED)
    return paths


@pytest.fixture(scope="session")
def built_market(market, tmp_path_factory) -> Paths:
    """The 40 x 900 market, fully built and tested by dbt."""
    build(market, full_refresh=True, target_path=tmp_path_factory.mktemp("target"), echo=False)
    return market


@pytest.fixture(scope="session")
def tiny_raw(tmp_path_factory) -> Path:
    """Raw files of a 20 x 60 market, to be copied and broken by the bad-input tests."""
    paths = market_paths(tmp_path_factory.mktemp("tiny"))
    generate_demo_market(paths.raw_dir, TINY_STOCKS, TINY_DAYS, TINY_SEED)
    return paths.raw_dir


@pytest.fixture
def tiny_copy(tiny_raw, tmp_path) -> Paths:
    """A private copy of the tiny market that a test may damage."""
    paths = market_paths(tmp_path / "data")
    shutil.copytree(tiny_raw, paths.raw_dir)
    return paths
