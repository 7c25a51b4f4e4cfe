"""Reading the published exports (docs/exports.md): by_date exposures as a compact float32 cube or a frame, the
risk model as a (factors x factors) matrix and a Series of specific risks.

Everything takes the exports root (``Paths.exports_dir``, e.g. ``data/exports``). A publication is what its
manifest lists, so dates come from ``manifest.json`` (file names only when there is none). Lookups never raise
for a date, stock or factor that is not there: they return the default.
"""

from __future__ import annotations

import datetime as dt
import json
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from exporters.barra import DESCRIPTORS_DIR, FACTORS_DIR, INDUSTRY_PREFIX
from exporters.risk import LATEST_JSON, RISK_DIR, SPECIFIC_FILE
from riskmodel.daily import STYLES

DateLike = dt.date | dt.datetime | pd.Timestamp | np.datetime64 | str


def parse_date(value: DateLike) -> dt.date:
    """A date from a date, datetime, Timestamp, datetime64, 'YYYYMMDD' or 'YYYY-MM-DD'."""
    if isinstance(value, pd.Timestamp | dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    if isinstance(value, np.datetime64):
        return pd.Timestamp(value).date()
    text = str(value).strip()
    for fmt in ("%Y%m%d", "%Y-%m-%d"):
        try:
            return dt.datetime.strptime(text, fmt).date()
        except ValueError:
            continue
    raise ValueError(f"not a date: {value!r} (give a date, 'YYYYMMDD' or 'YYYY-MM-DD')")


def _try_date(value: DateLike) -> dt.date | None:
    try:
        return parse_date(value)
    except (ValueError, TypeError):
        return None


def list_dates(directory: Path) -> list[dt.date]:
    """The published dates of a by_date directory: its manifest's, else the YYYYMMDD.parquet files'."""
    directory = Path(directory)
    manifest = directory / "manifest.json"
    if manifest.exists():
        names = json.loads(manifest.read_text(encoding="utf-8")).get("dates", [])
    else:
        names = [p.stem for p in directory.glob("*.parquet")]
    dates = [_try_date(n) for n in names]
    return sorted(d for d in dates if d is not None)


def _select_dates(directory: Path, start: DateLike | None, end: DateLike | None) -> list[dt.date]:
    first = parse_date(start) if start is not None else dt.date.min
    last = parse_date(end) if end is not None else dt.date.max
    return [d for d in list_dates(directory) if first <= d <= last]


def _read(path: Path, columns: Sequence[str] | None) -> pa.Table:
    if not path.exists():
        raise ValueError(f"{path}: listed in the manifest but missing (a publication being replaced? read again)")
    schema = pq.read_schema(path)
    missing = [c for c in columns or [] if c not in schema.names]
    if missing:
        raise ValueError(f"{path}: no column(s) {missing}; it has {schema.names}")
    return pq.read_table(path, columns=list(columns) if columns else None)


def default_factors(directory: Path, date: dt.date) -> list[str]:
    """The contract's factor columns of a factor file: the ten styles, then the ind_ columns."""
    names = pq.read_schema(Path(directory) / f"{date:%Y%m%d}.parquet").names
    return [*STYLES, *(n for n in names if n.startswith(INDUSTRY_PREFIX))]


# ---------------------------------------------------------------- exposures


@dataclass(frozen=True)
class ExposureCube:
    """Exposures over dates as one float32 array ``values`` (dates, stocks, factors), NaN where a stock has
    no row that date or its value is null. ``ts_codes`` are the union over the dates, sorted."""

    dates: tuple[dt.date, ...]
    ts_codes: tuple[str, ...]
    factors: tuple[str, ...]
    values: np.ndarray
    _date_index: dict[dt.date, int] = field(init=False, repr=False, compare=False)
    _code_index: dict[str, int] = field(init=False, repr=False, compare=False)
    _factor_index: dict[str, int] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_date_index", {d: i for i, d in enumerate(self.dates)})
        object.__setattr__(self, "_code_index", {c: i for i, c in enumerate(self.ts_codes)})
        object.__setattr__(self, "_factor_index", {f: i for i, f in enumerate(self.factors)})

    def date_index(self, date: DateLike) -> int | None:
        parsed = _try_date(date)
        return None if parsed is None else self._date_index.get(parsed)

    def stock_index(self, ts_code: str) -> int | None:
        return self._code_index.get(ts_code)

    def factor_index(self, factor: str) -> int | None:
        return self._factor_index.get(factor)

    def get(self, date: DateLike, ts_code: str, factor: str, default: float = math.nan) -> float:
        """One exposure; ``default`` for a missing date, stock, factor or value."""
        d, s, f = self.date_index(date), self.stock_index(ts_code), self.factor_index(factor)
        if d is None or s is None or f is None:
            return default
        value = float(self.values[d, s, f])
        return default if math.isnan(value) else value

    def exposures(self, date: DateLike, ts_code: str, default: Any = None) -> np.ndarray | Any:
        """The stock's factor vector on the date (float32, NaN for null values); ``default`` when it has no row."""
        d, s = self.date_index(date), self.stock_index(ts_code)
        if d is None or s is None:
            return default
        row = self.values[d, s]
        return default if np.isnan(row).all() else row

    def cross_section(self, date: DateLike) -> pd.DataFrame:
        """The stocks with a row on the date, as a (ts_code x factor) float32 frame (empty for a missing date)."""
        d = self.date_index(date)
        if d is None:
            return pd.DataFrame(columns=list(self.factors), dtype=np.float32)
        block = self.values[d]
        present = ~np.isnan(block).all(axis=1)
        index = pd.Index(np.asarray(self.ts_codes, dtype=object)[present], name="ts_code")
        return pd.DataFrame(block[present], index=index, columns=list(self.factors))


def load_exposures(
    exports_dir: Path,
    start: DateLike | None = None,
    end: DateLike | None = None,
    factors: Sequence[str] | None = None,
) -> ExposureCube:
    """The by_date exposure files from ``start`` to ``end`` (inclusive; default every published date) as an
    ExposureCube. ``factors``: any columns of the files (default: the ten styles and the ind_ columns; a
    boolean like ``in_estu`` becomes 0.0/1.0)."""
    directory = Path(exports_dir) / FACTORS_DIR
    dates = _select_dates(directory, start, end)
    if not dates:
        return ExposureCube((), (), tuple(factors or STYLES), np.zeros((0, 0, len(factors or STYLES)), np.float32))
    names = list(factors) if factors else default_factors(directory, dates[-1])
    tables = [_read(directory / f"{d:%Y%m%d}.parquet", ["ts_code", *names]) for d in dates]
    codes = sorted(set().union(*(t.column("ts_code").to_pylist() for t in tables)))
    position = {c: i for i, c in enumerate(codes)}
    values = np.full((len(dates), len(codes), len(names)), np.nan, dtype=np.float32)
    for i, table in enumerate(tables):
        rows = np.fromiter((position[c] for c in table.column("ts_code").to_pylist()), dtype=np.int64)
        for j, name in enumerate(names):
            column = table.column(name).cast(pa.float64()).to_numpy(zero_copy_only=False)
            values[i, rows, j] = column
    return ExposureCube(tuple(dates), tuple(codes), tuple(names), values)


def load_exposure_frame(
    exports_dir: Path,
    start: DateLike | None = None,
    end: DateLike | None = None,
    columns: Sequence[str] | None = None,
    *,
    descriptors: bool = False,
) -> pd.DataFrame:
    """The by_date files from ``start`` to ``end`` as one long frame: ``trade_date``, then the files' columns
    (or ``ts_code`` and ``columns``), values as published. ``descriptors=True`` reads barra_descriptors."""
    directory = Path(exports_dir) / (DESCRIPTORS_DIR if descriptors else FACTORS_DIR)
    dates = _select_dates(directory, start, end)
    wanted = ["ts_code", *columns] if columns else None
    frames = []
    for d in dates:
        frame = _read(directory / f"{d:%Y%m%d}.parquet", wanted).to_pandas()
        frame.insert(0, "trade_date", pd.Timestamp(d))
        frames.append(frame)
    if not frames:
        return pd.DataFrame(columns=["trade_date", *(wanted or ["ts_code"])])
    return pd.concat(frames, ignore_index=True)


# ---------------------------------------------------------------- risk


@dataclass(frozen=True)
class RiskModel:
    """One published forecast, ANNUALIZED: ``covariance`` (K, K) in ``factors`` order (NaN for an inactive
    factor), ``specific_risk`` (ts_code -> annualized volatility) when published for the same estimation date
    (only the latest date has specific risks; an older forecast gets an empty Series)."""

    estimation_date: dt.date
    factors: tuple[str, ...]
    covariance: np.ndarray
    specific_risk: pd.Series
    inactive_factors: tuple[str, ...]
    parameters: dict[str, Any]
    units: dict[str, Any]
    half_life_days: float
    num_observations: int
    _factor_index: dict[str, int] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_factor_index", {f: i for i, f in enumerate(self.factors)})

    def factor_covariance(self, factor_1: str, factor_2: str, default: float = math.nan) -> float:
        i, j = self._factor_index.get(factor_1), self._factor_index.get(factor_2)
        if i is None or j is None:
            return default
        value = float(self.covariance[i, j])
        return default if math.isnan(value) else value

    def specific(self, ts_code: str, default: float = math.nan) -> float:
        value = self.specific_risk.get(ts_code)
        return default if value is None or math.isnan(value) else float(value)

    def covariance_frame(self) -> pd.DataFrame:
        return pd.DataFrame(self.covariance, index=list(self.factors), columns=list(self.factors))


def risk_dates(exports_dir: Path) -> list[dt.date]:
    """Estimation dates with a dated risk JSON."""
    directory = Path(exports_dir) / RISK_DIR
    manifest = directory / "manifest.json"
    if manifest.exists():
        names = json.loads(manifest.read_text(encoding="utf-8")).get("dates", [])
    else:
        names = [p.stem.removeprefix("risk_params_") for p in directory.glob("risk_params_*.json")]
    dates = [_try_date(n) for n in names]
    return sorted(d for d in dates if d is not None)


def load_risk(exports_dir: Path, as_of: DateLike | None = None) -> RiskModel | None:
    """The latest forecast (``as_of`` None), or the newest one estimated on or before ``as_of``; None when
    there is none."""
    directory = Path(exports_dir) / RISK_DIR
    if as_of is None:
        path = directory / LATEST_JSON
    else:
        day = parse_date(as_of)
        candidates = [d for d in risk_dates(exports_dir) if d <= day]
        if not candidates:
            return None
        path = directory / f"risk_params_{candidates[-1]:%Y%m%d}.json"
    if not path.exists():
        return None
    return _risk_model(path, directory / SPECIFIC_FILE)


def _risk_model(path: Path, specific_path: Path) -> RiskModel:
    payload = json.loads(path.read_text(encoding="utf-8"))
    try:
        factors = tuple(payload["factors"])
        cov = payload["factor_covariance"]
        matrix = np.array(
            [[math.nan if cov[f][g] is None else float(cov[f][g]) for g in factors] for f in factors],
            dtype=np.float64,
        ).reshape(len(factors), len(factors))
        date = parse_date(payload["estimation_date"])
    except (KeyError, TypeError) as exc:
        raise ValueError(f"{path}: not a risk JSON of this exporter (missing {exc})") from exc
    specific = pd.Series(dtype=np.float64, name="specific_risk")
    if specific_path.exists():
        table = pq.read_table(specific_path).to_pandas()
        same_date = len(table) and parse_date(table["estimation_date"].iloc[0]) == date
        if same_date:
            specific = pd.Series(
                table["specific_risk"].to_numpy(np.float64), index=table["ts_code"], name="specific_risk"
            )
    return RiskModel(
        estimation_date=date,
        factors=factors,
        covariance=matrix,
        specific_risk=specific,
        inactive_factors=tuple(payload.get("inactive_factors", ())),
        parameters=payload.get("parameters", {}),
        units=payload.get("units", {}),
        half_life_days=payload.get("half_life_days"),
        num_observations=payload.get("num_observations"),
    )
