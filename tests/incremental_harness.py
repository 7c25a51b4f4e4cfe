"""Incremental equals full: a generic harness over every incremental model of the project.

It builds one warehouse in full up to the last day, and another in full up to an earlier day
followed by single-day (and multi-day) incremental runs, then compares every incremental model
row for row. New incremental models are picked up from dbt's manifest with no change here.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import duckdb


@dataclass(frozen=True)
class Relation:
    name: str
    schema: str


# The materializations that add new dates to what is built (macros/materializations/date_batched.sql).
INCREMENTAL = ("incremental", "date_batched")


def incremental_models(target_path: Path) -> list[Relation]:
    manifest = json.loads((target_path / "manifest.json").read_text())
    return sorted(
        (
            Relation(n["alias"] or n["name"], n["schema"])
            for n in manifest["nodes"].values()
            if n["resource_type"] == "model" and n["config"].get("materialized") in INCREMENTAL
        ),
        key=lambda r: r.name,
    )


@dataclass
class Difference:
    relation: Relation
    rows_full: int
    rows_incremental: int
    only_in_full: int
    only_in_incremental: int
    examples: list[tuple]

    @property
    def identical(self) -> bool:
        return self.rows_full == self.rows_incremental and not self.only_in_full and not self.only_in_incremental


def compare(full_db: Path, incremental_db: Path, relation: Relation) -> Difference:
    """Row-for-row comparison (EXCEPT ALL both ways: exact values, NULLs equal, duplicates counted)."""
    with duckdb.connect() as con:
        # ATTACH takes no bound parameters: quote the (test-made) paths as SQL string literals.
        con.execute(f"attach {_literal(full_db)} as f (read_only)")
        con.execute(f"attach {_literal(incremental_db)} as i (read_only)")
        full = f'f."{relation.schema}"."{relation.name}"'
        inc = f'i."{relation.schema}"."{relation.name}"'
        (n_full,) = con.execute(f"select count(*) from {full}").fetchone()
        (n_inc,) = con.execute(f"select count(*) from {inc}").fetchone()
        only_full = con.execute(f"select * from {full} except all select * from {inc}").fetchall()
        only_inc = con.execute(f"select * from {inc} except all select * from {full}").fetchall()
    return Difference(relation, n_full, n_inc, len(only_full), len(only_inc), (only_full + only_inc)[:5])


def _literal(path: Path) -> str:
    return "'" + str(path).replace("'", "''") + "'"
