"""Where the warehouse keeps its files. One definition, read from the environment.

FW_DATA_DIR (default ./data) holds raw/, exports/, runs/; FW_DUCKDB_PATH (default
<data dir>/warehouse.duckdb) is the DuckDB file dbt builds into. profiles.yml and the dbt
sources read the same variables, so the command line, the tasks and dbt always agree.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class Paths:
    data_dir: Path
    duckdb_path: Path

    @classmethod
    def from_env(cls, data_dir: str | Path | None = None, duckdb_path: str | Path | None = None) -> Paths:
        data = Path(data_dir or os.environ.get("FW_DATA_DIR") or PROJECT_ROOT / "data")
        data = data if data.is_absolute() else PROJECT_ROOT / data
        db = Path(duckdb_path or os.environ.get("FW_DUCKDB_PATH") or data / "warehouse.duckdb")
        db = db if db.is_absolute() else PROJECT_ROOT / db
        return cls(data_dir=data, duckdb_path=db)

    @property
    def raw_dir(self) -> Path:
        return self.data_dir / "raw"

    @property
    def truth_dir(self) -> Path:
        return self.raw_dir / "demo_truth"

    @property
    def exports_dir(self) -> Path:
        return self.data_dir / "exports"

    @property
    def runs_dir(self) -> Path:
        return self.data_dir / "runs"

    def env(self) -> dict[str, str]:
        """The environment dbt needs to see these paths (absolute, so the cwd does not matter)."""
        return {"FW_DATA_DIR": str(self.data_dir), "FW_DUCKDB_PATH": str(self.duckdb_path)}
