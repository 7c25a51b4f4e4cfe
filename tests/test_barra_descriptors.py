"""Spec test P1: every CNE5 descriptor the SQL models compute equals an independent numpy
reference (tests/reference, written from docs/cne5-choices.md without the SQL) on a generated
market, value for value, and both agree on which values are missing, which stocks are in the
estimation universe and which industry each belongs to."""

from __future__ import annotations

import duckdb
import numpy as np
import pandas as pd
import pytest

from tests.reference.cne5_reference import descriptors, load_market

pytestmark = pytest.mark.dbt

DESCRIPTORS = (
    "lncap", "beta", "hsigma", "rstr", "dastd", "cmra", "stom", "stoq", "stoa",
    "etop", "cetop", "btop", "mlev", "dtoa", "blev", "egro", "sgro",
)  # fmt: skip
RELATIVE_TOLERANCE = 1e-10  # spec P1


@pytest.fixture(scope="module")
def paired(built_market) -> pd.DataFrame:
    reference = descriptors(load_market(built_market.raw_dir))
    with duckdb.connect(str(built_market.duckdb_path), read_only=True) as con:
        warehouse = con.execute(
            """
            select d.*, u.in_estu, u.regression_weight as weight, u.factor_industry as industry
            from intermediate.int_barra__descriptors as d
            inner join intermediate.int_barra__universe as u using (ts_code, trade_date)
            """
        ).df()
    warehouse["trade_date"] = pd.to_datetime(warehouse["trade_date"])
    paired = reference.merge(
        warehouse, on=["ts_code", "trade_date"], how="outer", suffixes=("_ref", "_sql"), indicator=True
    )
    assert (paired["_merge"] == "both").all(), paired["_merge"].value_counts().to_dict()
    return paired


def test_same_rows_universe_and_industries(paired):
    assert len(paired) > 20_000
    assert (paired["in_estu_ref"] == paired["in_estu_sql"]).all()
    assert paired["in_estu_sql"].mean() > 0.5  # a real universe, not an empty one
    assert (paired["industry_ref"].fillna("-") == paired["industry_sql"].fillna("-")).all()
    np.testing.assert_allclose(paired["weight_sql"], paired["weight_ref"], rtol=RELATIVE_TOLERANCE)


@pytest.mark.parametrize("name", DESCRIPTORS)
def test_descriptor_equals_numpy_reference(paired, name):
    ref = paired[f"{name}_ref"].to_numpy(float)
    sql = paired[f"{name}_sql"].to_numpy(float)
    missing = np.isnan(ref) != np.isnan(sql)
    assert not missing.any(), paired.loc[missing, ["ts_code", "trade_date", f"{name}_ref", f"{name}_sql"]].head()
    present = ~np.isnan(ref)
    assert present.sum() > 5_000, f"{name}: too few values to prove anything"
    np.testing.assert_allclose(sql[present], ref[present], rtol=RELATIVE_TOLERANCE, atol=1e-13)
