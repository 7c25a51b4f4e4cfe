"""Publication runs: a run folder, the gates on what is about to be published, the writers, the manifests.

One run (``export-barra``, ``export-qlib``, ``export``, ``validate``):

1. a run folder ``<runs_dir>/<run id>/`` (run id: UTC time + 6 random hex digits);
2. the gates' schema checks, then the plan (the dates not yet published, or every date with ``full``), then
   the gates on exactly those rows (foundation on the inputs, exposures, risk; Qlib's gate runs inside the
   Qlib exporter, on its plan, before it writes). Each gate writes ``gate_<name>.md/.json`` into the run
   folder; a failure raises ``GateFailed`` before any file of the run is written;
3. the writers: each file replaced atomically beside its target (exporters.atomic), per-date files first;
4. each directory's ``manifest.json`` last (dates, rows, sha256 of every file it lists, run ids);
5. ``run.json`` in the run folder: options, gates, what was written, status.

A publication is what its manifest lists: a file without a manifest entry (a crashed run) is rewritten by the
next run. ``full`` rewrites every date and, after the new manifest, deletes files it no longer lists.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import importlib
import json
import secrets
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import duckdb
import pandas as pd

from exporters import barra, gates, risk
from exporters.atomic import sha256_of, write_bytes_atomic, write_json_atomic
from exporters.qlib_layout import read_calendar
from ops.settings import Paths
from riskmodel.params import RiskModelParams
from riskmodel.units import annualize_volatility

FACTORS_DIR, DESCRIPTORS_DIR, RISK_DIR = barra.FACTORS_DIR, barra.DESCRIPTORS_DIR, risk.RISK_DIR
QLIB_DIR = Path("qlib")
MANIFEST = "manifest.json"
RUN_FILE = "run.json"
MANIFEST_VERSION = 1

# Rows held in memory per chunk of dates (a 5,000-stock market: 200 dates, about 150 MB of exposures).
CHUNK_ROWS = 1_000_000

Progress = Callable[[str], None]


class ExportError(Exception):
    """The export cannot run (no warehouse, warehouse locked or changed, exporter missing, bad manifest)."""


def _quiet(_: str) -> None:
    pass


# ---------------------------------------------------------------- runs


def new_run_id(now: dt.datetime | None = None) -> str:
    now = now or dt.datetime.now(dt.UTC)
    return f"{now.strftime('%Y%m%dT%H%M%SZ')}-{secrets.token_hex(3)}"


def _utc_now() -> str:
    return dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass
class Run:
    """One export or validation: its folder, the gates' cumulative results, what it published."""

    run_id: str
    run_dir: Path
    task: str
    options: dict[str, Any]
    config: dict[str, Any]
    progress: Progress = _quiet
    started_at: str = field(default_factory=_utc_now)
    gates: dict[str, gates.GateResult] = field(default_factory=dict)
    published: dict[str, dict[str, Any]] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    status: str = "running"

    def record_gate(self, result: gates.GateResult) -> None:
        """Add a gate's result (another chunk of the same gate merges), write its report, raise if it failed."""
        previous = self.gates.get(result.gate)
        merged = previous.merged(result, self.config["reports"]["example_rows"]) if previous else result
        self.gates[result.gate] = merged
        report = gates.write_report(merged, self.run_dir)
        if not merged.success:
            raise gates.GateFailed(merged, report)

    def finish(self, status: str, error: str | None = None) -> Path:
        self.status = status
        payload = {
            "run_id": self.run_id,
            "task": self.task,
            "options": self.options,
            "started_at": self.started_at,
            "finished_at": _utc_now(),
            "status": status,
            "error": error,
            "gates": {
                name: {
                    "success": r.success,
                    "failed": [o.rule for o in r.failures],
                    "frames": r.frames,
                    "report": f"gate_{name}.md",
                }
                for name, r in self.gates.items()
            },
            "published": self.published,
            "notes": self.notes,
        }
        path = self.run_dir / RUN_FILE
        write_json_atomic(path, gates.jsonable(payload))
        return path

    def summary(self) -> str:
        lines = [f"run {self.run_id}: {self.status} (record: {self.run_dir / RUN_FILE})"]
        for name, r in self.gates.items():
            lines.append(f"  gate {name}: {'passed' if r.success else 'FAILED'} ({sum(r.frames.values())} rows)")
        for name, p in self.published.items():
            lines.append(f"  {name}: " + ", ".join(f"{k}={v}" for k, v in p.items() if k != "directory"))
        lines += [f"  note: {n}" for n in self.notes]
        return "\n".join(lines)


def start_run(paths: Paths, task: str, options: dict[str, Any], progress: Progress | None = None) -> Run:
    config = gates.load_config()
    run_id = new_run_id()
    run_dir = paths.runs_dir / run_id
    run_dir.mkdir(parents=True, exist_ok=False)
    return Run(run_id, run_dir, task, options, config, progress or _quiet)


@contextlib.contextmanager
def recorded(run: Run, done_status: str) -> Iterator[Run]:
    """Run the body; record run.json with its outcome whatever happens."""
    try:
        yield run
    except gates.GateFailed as exc:
        run.finish("gate_failed", str(exc))
        raise
    except BaseException as exc:
        run.finish("failed", f"{type(exc).__name__}: {exc}")
        raise
    run.finish(done_status)


# ---------------------------------------------------------------- the warehouse


@contextlib.contextmanager
def open_warehouse(path: Path) -> Iterator[duckdb.DuckDBPyConnection]:
    if not Path(path).exists():
        raise ExportError(f"no warehouse at {path}: build it first (invoke build, or invoke demo)")
    try:
        con = duckdb.connect(str(path), read_only=True)
    except duckdb.Error as exc:
        raise ExportError(f"cannot open {path} read-only (a dbt build holding it?): {exc}") from exc
    try:
        yield con
    finally:
        con.close()


def _fingerprint(path: Path) -> tuple[int, int]:
    stat = Path(path).stat()
    return stat.st_size, stat.st_mtime_ns


def _check_unchanged(path: Path, before: tuple[int, int]) -> None:
    if _fingerprint(path) != before:
        raise ExportError(f"{path} changed during the export (a build ran?): nothing more was written; run it again")


# ---------------------------------------------------------------- manifests


def read_manifest(directory: Path) -> dict[str, Any] | None:
    path = directory / MANIFEST
    if not path.exists():
        return None
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
        manifest["files"]
    except (ValueError, KeyError, TypeError) as exc:
        raise ExportError(f"{path} is not a manifest this exporter wrote ({exc}); export with --full") from exc
    return manifest


def published_dates(directory: Path, manifest: dict[str, Any] | None) -> set[str]:
    """YYYYMMDD of the dates the manifest lists whose file is there."""
    if not manifest:
        return set()
    return {e["date"] for name, e in manifest["files"].items() if "date" in e and (directory / name).exists()}


def write_manifest(
    directory: Path,
    dataset: str,
    run: Run,
    written: dict[str, dict[str, Any]],
    previous: dict[str, Any] | None,
    full: bool,
    extra: dict[str, Any] | None = None,
) -> list[str]:
    """Merge the files written by this run into the manifest (or replace it with ``full``); write it last.

    Returns the names of files the previous manifest listed and this one does not (to delete after it).
    """
    files = {} if full or not previous else dict(previous["files"])
    files.update(written)
    manifest = {
        "dataset": dataset,
        "manifest_version": MANIFEST_VERSION,
        "run_id": run.run_id,
        "written_at": _utc_now(),
        "dates": sorted({e["date"] for e in files.values() if "date" in e}),
        "files": dict(sorted(files.items())),
        **(extra or {}),
    }
    write_json_atomic(directory / MANIFEST, manifest)
    return sorted(set(previous["files"]) - set(files)) if previous else []


def _entry(run: Run, date: dt.date | None, rows: int, sha256: str) -> dict[str, Any]:
    entry = {"rows": rows, "sha256": sha256, "run_id": run.run_id}
    if date is not None:
        entry["date"] = barra.yyyymmdd(date)
    return entry


def _remove_stale(directory: Path, names: Sequence[str]) -> None:
    for name in names:
        (directory / name).unlink(missing_ok=True)


# ---------------------------------------------------------------- chunks of dates


def chunk_dates(dates: Sequence[dt.date], rows_per_date: dict[dt.date, int] | int, limit: int = CHUNK_ROWS):
    """Consecutive groups of dates holding at most ``limit`` rows each (at least one date per group)."""
    chunks, current, rows = [], [], 0
    for d in dates:
        n = rows_per_date if isinstance(rows_per_date, int) else rows_per_date.get(d, 0)
        if current and rows + n > limit:
            chunks.append(current)
            current, rows = [], 0
        current.append(d)
        rows += n
    if current:
        chunks.append(current)
    return chunks


# ---------------------------------------------------------------- barra by_date


@dataclass
class BarraPlan:
    industries: list[str]
    dates: list[dt.date]  # dates whose factor and descriptor files this run writes
    chunks: list[list[dt.date]]
    full: bool
    factor_manifest: dict[str, Any] | None
    descriptor_manifest: dict[str, Any] | None
    cache: dict[int, BarraChunk] = field(default_factory=dict)


@dataclass
class BarraChunk:
    exposures: pd.DataFrame
    factors: pd.DataFrame
    descriptors: pd.DataFrame
    universe: pd.DataFrame


def plan_barra(con: duckdb.DuckDBPyConnection, exports_dir: Path, full: bool) -> BarraPlan:
    factor_manifest = read_manifest(exports_dir / FACTORS_DIR)
    descriptor_manifest = read_manifest(exports_dir / DESCRIPTORS_DIR)
    industries = barra.read_industries(con)
    columns = barra.factor_file_columns(industries)
    if not full and factor_manifest and factor_manifest.get("columns", columns) != columns:
        raise ExportError(
            f"{exports_dir / FACTORS_DIR}: the published files have other columns than the warehouse gives now "
            "(the seed's industries changed?); every date must change together: export with --full"
        )
    if full:
        dates = barra.publishable_dates(con)
    else:
        done = published_dates(exports_dir / FACTORS_DIR, factor_manifest)
        done &= published_dates(exports_dir / DESCRIPTORS_DIR, descriptor_manifest)
        first = barra.from_yyyymmdd(min(done)) if done else None
        dates = [d for d in barra.publishable_dates(con, first) if barra.yyyymmdd(d) not in done]
    counts = dict(
        con.execute(
            f"select trade_date, count(*) from {barra.EXPOSURES} where trade_date >= ? group by 1",
            [min(dates) if dates else dt.date.max],
        ).fetchall()
    )
    return BarraPlan(
        industries,
        dates,
        chunk_dates(dates, counts),
        full,
        factor_manifest,
        descriptor_manifest,
    )


def _barra_chunk(con: duckdb.DuckDBPyConnection, plan: BarraPlan, i: int) -> BarraChunk:
    """A chunk's frames, kept when the plan has one chunk (gate and write then read the warehouse once)."""
    if i in plan.cache:
        return plan.cache[i]
    dates = plan.chunks[i]
    exposures = barra.read_exposures(con, dates)
    chunk = BarraChunk(
        exposures,
        barra.factor_frame(exposures, plan.industries),
        barra.read_descriptors(con, dates),
        barra.read_estu_counts(con, dates),
    )
    if len(plan.chunks) == 1:
        plan.cache[i] = chunk
    return chunk


def gate_barra(run: Run, con: duckdb.DuckDBPyConnection, plan: BarraPlan) -> None:
    for i in range(len(plan.chunks)):
        run.progress(f"exposures gate: chunk {i + 1}/{len(plan.chunks)} ({len(plan.chunks[i])} dates)")
        c = _barra_chunk(con, plan, i)
        run.record_gate(
            gates.check_exposures(c.exposures, c.factors, c.descriptors, c.universe, plan.industries, run.config)
        )


def write_barra(run: Run, con: duckdb.DuckDBPyConnection, plan: BarraPlan, exports_dir: Path) -> None:
    factor_dir, descriptor_dir = exports_dir / FACTORS_DIR, exports_dir / DESCRIPTORS_DIR
    factors_written: dict[str, dict] = {}
    descriptors_written: dict[str, dict] = {}
    without_industry: dict[str, int] = {}
    for i in range(len(plan.chunks)):
        c = _barra_chunk(con, plan, i)
        for f in barra.factor_files(c.factors, plan.industries):
            factors_written[f.name] = _publish_bytes(run, factor_dir / f.name, f)
        for f in barra.descriptor_files(c.descriptors):
            descriptors_written[f.name] = _publish_bytes(run, descriptor_dir / f.name, f)
        without_industry |= {barra.yyyymmdd(d): n for d, n in barra.rows_without_industry(c.exposures).items()}
        run.progress(f"by_date files: {len(factors_written)}/{len(plan.dates)} dates written")
    if not plan.dates and not plan.full:
        return
    extra = {"columns": barra.factor_file_columns(plan.industries)}
    previous_skipped = (
        {} if plan.full or not plan.factor_manifest else plan.factor_manifest.get("rows_without_industry", {})
    )
    extra["rows_without_industry"] = dict(sorted((previous_skipped | without_industry).items()))
    stale = write_manifest(
        factor_dir, "barra_factors/by_date", run, factors_written, plan.factor_manifest, plan.full, extra
    )
    _remove_stale(factor_dir, stale)
    stale = write_manifest(
        descriptor_dir,
        "barra_descriptors/by_date",
        run,
        descriptors_written,
        plan.descriptor_manifest,
        plan.full,
        {"columns": barra.descriptor_file_columns()},
    )
    _remove_stale(descriptor_dir, stale)
    for name, written, directory in (
        ("barra_factors", factors_written, factor_dir),
        ("barra_descriptors", descriptors_written, descriptor_dir),
    ):
        dates = sorted(e["date"] for e in written.values())
        run.published[name] = {
            "directory": str(directory),
            "dates_written": len(dates),
            "first": dates[0] if dates else None,
            "last": dates[-1] if dates else None,
            "rows_written": sum(e["rows"] for e in written.values()),
        }


def _publish_bytes(run: Run, target: Path, f: barra.DateFile) -> dict[str, Any]:
    write_bytes_atomic(target, f.data)
    return _entry(run, f.date, f.rows, hashlib.sha256(f.data).hexdigest())


# ---------------------------------------------------------------- risk


@dataclass
class RiskPlan:
    factors: list[str]
    dated: list[dt.date]  # estimation dates whose dated JSON this run writes
    latest: dt.date | None  # newest date with a forecast and specific risks
    write_latest: bool
    full: bool
    manifest: dict[str, Any] | None
    params: RiskModelParams
    chunks: list[list[dt.date]] = field(default_factory=list)  # dated + latest, to gate and write
    cache: dict[int, RiskChunk] = field(default_factory=dict)


@dataclass
class RiskChunk:
    covariance: pd.DataFrame
    matrices: dict[dt.date, Any]


def plan_risk(
    con: duckdb.DuckDBPyConnection, exports_dir: Path, full: bool, params: RiskModelParams | None = None
) -> RiskPlan:
    directory = exports_dir / RISK_DIR
    manifest = read_manifest(directory)
    estimation = risk.estimation_dates(con)
    published_latest = (manifest or {}).get("latest_estimation_date") if not full else None
    latest = _latest_with_specific_risk(con, estimation, published_latest)
    dated = estimation
    write_latest = latest is not None
    if not full and manifest:
        done = published_dates(directory, manifest)
        dated = [d for d in estimation if barra.yyyymmdd(d) not in done]
        present = all((directory / n).exists() for n in (risk.LATEST_JSON, risk.SPECIFIC_FILE))
        write_latest = latest is not None and (
            manifest.get("latest_estimation_date") != barra.yyyymmdd(latest) or not present
        )
    factors = risk.all_factor_names(barra.read_industries(con))
    needed = sorted(set(dated) | ({latest} if write_latest else set()))
    plan = RiskPlan(factors, dated, latest, write_latest, full, manifest, params or risk.model_params())
    plan.chunks = chunk_dates(needed, len(factors) ** 2)
    return plan


def _latest_with_specific_risk(
    con: duckdb.DuckDBPyConnection, estimation: Sequence[dt.date], published_latest: str | None
) -> dt.date | None:
    """The newest estimation date with specific risks. The published latest date bounds the search (the mart is
    stored by date: a bounded read skips the history); when nothing is found from it on, the whole mart is read."""
    bounds = [barra.from_yyyymmdd(published_latest)] if published_latest else []
    bounds.append(dt.date.min)
    for since in bounds:
        with_specific = {
            r[0]
            for r in con.execute(
                f"select distinct trade_date from {risk.SPECIFIC} where specific_risk is not null and trade_date >= ?",
                [since],
            ).fetchall()
        }
        common = [d for d in estimation if d in with_specific]
        if common:
            return common[-1]
    return None


def _risk_chunk(con: duckdb.DuckDBPyConnection, plan: RiskPlan, i: int) -> RiskChunk:
    if i in plan.cache:
        return plan.cache[i]
    long = risk.read_covariance(con, plan.chunks[i])
    chunk = RiskChunk(long, risk.covariance_matrices(long, plan.factors))
    if len(plan.chunks) == 1:
        plan.cache[i] = chunk
    return chunk


def _specific_frames(con: duckdb.DuckDBPyConnection, plan: RiskPlan) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(daily specific risks, ESTU) of the latest date when this run writes it, else empty frames."""
    if not plan.write_latest:
        empty = pd.DataFrame({"ts_code": pd.Series(dtype=object), "specific_risk": pd.Series(dtype=float)})
        return empty, empty[["ts_code"]]
    return risk.read_specific_risk(con, plan.latest), risk.read_estu(con, plan.latest)


def gate_risk(run: Run, con: duckdb.DuckDBPyConnection, plan: RiskPlan) -> None:
    daily, estu = _specific_frames(con, plan)
    annual = daily.assign(specific_risk=annualize_volatility(daily["specific_risk"].to_numpy(dtype=float)))
    for i in range(len(plan.chunks)):
        run.progress(f"risk gate: chunk {i + 1}/{len(plan.chunks)} ({len(plan.chunks[i])} estimation dates)")
        c = _risk_chunk(con, plan, i)
        diagnostics = pd.DataFrame(
            [gates.matrix_diagnostics(d, m, plan.factors) for d, m in sorted(c.matrices.items())]
        )
        first = i == 0
        run.record_gate(
            gates.check_risk(
                c.covariance,
                diagnostics,
                annual if first else annual.iloc[:0],
                estu if first else estu.iloc[:0],
                plan.factors,
                run.config,
                plan.latest if first and plan.write_latest else None,
            )
        )
    if not plan.chunks:  # nothing new: still record that the gate had nothing to judge
        run.record_gate(gates.GateResult("risk", [], {}))


def write_risk(run: Run, con: duckdb.DuckDBPyConnection, plan: RiskPlan, exports_dir: Path) -> None:
    directory = exports_dir / RISK_DIR
    observations = risk.num_observations(con, [d for c in plan.chunks for d in c], plan.params.covariance.window)
    written: dict[str, dict] = {}
    latest_payload = None
    dated = set(plan.dated)
    for i in range(len(plan.chunks)):
        c = _risk_chunk(con, plan, i)
        for d, matrix in sorted(c.matrices.items()):
            payload = risk.risk_payload(d, matrix, plan.factors, plan.params, observations[d])
            if d in dated:
                target = directory / risk.dated_json_name(d)
                write_json_atomic(target, payload)
                written[target.name] = _entry(run, d, len(plan.factors), sha256_of(target))
            if d == plan.latest:
                latest_payload = payload
        run.progress(f"risk: {len(written)}/{len(plan.dated)} dated forecasts written")
    extra: dict[str, Any] = {}
    if plan.write_latest and latest_payload is not None:
        # specific risks before the latest JSON: both carry the estimation date; the manifest pairs them.
        daily, _ = _specific_frames(con, plan)
        data = risk.specific_bytes(daily, plan.latest)
        write_bytes_atomic(directory / risk.SPECIFIC_FILE, data)
        written[risk.SPECIFIC_FILE] = _entry(run, None, len(daily), hashlib.sha256(data).hexdigest())
        target = directory / risk.LATEST_JSON
        write_json_atomic(target, latest_payload)
        written[target.name] = _entry(run, None, len(plan.factors), sha256_of(target))
    if not written and not plan.full:
        return
    if plan.write_latest:
        extra["latest_estimation_date"] = barra.yyyymmdd(plan.latest)
    else:  # a full export without specific risks has no latest; an incremental one keeps the published one
        extra["latest_estimation_date"] = None if plan.full else (plan.manifest or {}).get("latest_estimation_date")
    extra["units"] = risk.UNITS
    stale = write_manifest(directory, "barra_risk", run, written, plan.manifest, plan.full, extra)
    _remove_stale(directory, stale)
    run.published["barra_risk"] = {
        "directory": str(directory),
        "dated_forecasts_written": len(plan.dated),
        "latest_estimation_date": extra["latest_estimation_date"],
        "latest_rewritten": bool(plan.write_latest),
    }


# ---------------------------------------------------------------- foundation


def _foundation_dates(*plans: Sequence[dt.date]) -> list[dt.date]:
    return sorted({d for dates in plans for d in dates})


def gate_foundation(run: Run, con: duckdb.DuckDBPyConnection, dates: Sequence[dt.date]) -> None:
    if not dates:
        run.record_gate(gates.GateResult("foundation", [], {}))
        return
    (n_stocks,) = con.execute("select count(*) from marts.dim_security").fetchone()
    chunks = chunk_dates(dates, max(int(n_stocks), 1))
    for i, chunk in enumerate(chunks):
        run.progress(f"foundation gate: chunk {i + 1}/{len(chunks)} ({len(chunk)} dates)")
        run.record_gate(gates.check_foundation(gates.read_foundation(con, chunk, run.config), run.config))


def check_schemas(run: Run, con: duckdb.DuckDBPyConnection, names: Sequence[str]) -> None:
    expected = {"foundation": gates.FOUNDATION_SCHEMA, "exposures": gates.EXPOSURES_SCHEMA, "risk": gates.RISK_SCHEMA}
    n = run.config["reports"]["example_rows"]
    for name in names:
        run.record_gate(gates.check_schema(name, gates.read_schema(con, expected[name]), n))


# ---------------------------------------------------------------- qlib


def qlib_module() -> Any:
    """exporters.qlib, imported only when asked for (so tasks.py and the barra export load without it)."""
    try:
        module = importlib.import_module("exporters.qlib")
    except ModuleNotFoundError as exc:
        if exc.name != "exporters.qlib":
            raise ExportError(f"exporters.qlib failed to import: {exc}") from exc
        raise ExportError(
            "the Qlib exporter is not available yet (exporters/qlib.py with export_qlib); nothing was exported"
        ) from exc
    except ImportError as exc:
        raise ExportError(f"exporters.qlib failed to import: {exc}") from exc
    if not hasattr(module, "export_qlib"):
        raise ExportError("exporters/qlib.py has no export_qlib(duckdb_path, out_dir, *, full, gate, progress)")
    return module


def qlib_gate(run: Run) -> Callable[[pd.DataFrame, pd.DataFrame], None]:
    """The gate handed to export_qlib: validate its plan, write the report, raise GateFailed on failure."""

    def gate(calendar_df: pd.DataFrame, files_df: pd.DataFrame) -> None:
        run.progress(f"qlib gate: {len(calendar_df)} calendar days, {len(files_df)} files")
        run.record_gate(gates.validate_qlib(calendar_df, files_df, config=run.config))

    return gate


@contextlib.contextmanager
def _qlib_errors(module: Any) -> Iterator[None]:
    """The Qlib exporter's own input errors (QlibExportError names the key) as an ExportError."""
    own = getattr(module, "QlibExportError", None)
    try:
        yield
    except gates.GateFailed:
        raise
    except Exception as exc:
        if own is not None and isinstance(exc, own):
            raise ExportError(f"qlib export: {exc}") from exc
        raise


def _qlib_new_dates(con: duckdb.DuckDBPyConnection, out_dir: Path, full: bool) -> list[dt.date]:
    """Calendar dates after the published Qlib calendar's last day (all with ``full``), up to the newest date
    with prices: the foundation gate's share of a Qlib export. The exchange publishes its calendar ahead
    (Tushare's trade_cal holds future days); a day the data has not reached is not judged, and the Qlib
    calendar stops at the last date with data."""
    published = None if full else read_calendar(out_dir)
    last = published[-1].item() if published is not None and len(published) else None
    rows = con.execute(
        "select trade_date from marts.dim_trading_calendar where trade_date > ? "
        "and trade_date <= (select max(trade_date) from intermediate.int_prices__daily) order by 1",
        [last or dt.date.min],
    ).fetchall()
    return [r[0] for r in rows]


def _run_qlib(run: Run, paths: Paths, full: bool) -> None:
    module = qlib_module()
    run.progress("qlib: exporting")
    with _qlib_errors(module):
        result = module.export_qlib(
            paths.duckdb_path, paths.exports_dir / QLIB_DIR, full=full, gate=qlib_gate(run), progress=run.progress
        )
    run.published["qlib"] = {"directory": str(paths.exports_dir / QLIB_DIR), "result": gates.jsonable(result)}


def _validate_qlib(run: Run, paths: Paths, full: bool) -> None:
    """The Qlib gate on the plan the exporter would carry out (its read-only ``qlib_plan_frames``)."""
    try:
        module = qlib_module()
    except ExportError as exc:
        run.notes.append(f"qlib gate skipped: {exc}")
        return
    plan_frames = getattr(module, "qlib_plan_frames", None)
    if plan_frames is None:
        run.notes.append("qlib gate skipped: exporters.qlib has no qlib_plan_frames")
        return
    with _qlib_errors(module):
        calendar_df, files_df = plan_frames(paths.duckdb_path, paths.exports_dir / QLIB_DIR, full=full)
    qlib_gate(run)(calendar_df, files_df)


# ---------------------------------------------------------------- the tasks


def export_barra(paths: Paths, *, full: bool = False, progress: Progress | None = None) -> Run:
    """Gate, then publish the by_date exposures and descriptors, the risk JSONs and the specific risks."""
    run = start_run(paths, "export-barra", {"full": full}, progress)
    with recorded(run, "published"), open_warehouse(paths.duckdb_path) as con:
        check_schemas(run, con, ["foundation", "exposures", "risk"])
        barra_plan, risk_plan = plan_barra(con, paths.exports_dir, full), plan_risk(con, paths.exports_dir, full)
        _note_plans(run, barra_plan, risk_plan)
        gate_foundation(run, con, _foundation_dates(barra_plan.dates, risk_plan.dated))
        gate_barra(run, con, barra_plan)
        gate_risk(run, con, risk_plan)
        write_barra(run, con, barra_plan, paths.exports_dir)
        write_risk(run, con, risk_plan, paths.exports_dir)
    return run


def export_qlib(paths: Paths, *, full: bool = False, progress: Progress | None = None) -> Run:
    """Gate (foundation on the new dates, then Qlib's plan), then let exporters.qlib publish."""
    qlib_module()  # a clear error before anything else when it is not there
    run = start_run(paths, "export-qlib", {"full": full}, progress)
    with recorded(run, "published"):
        with open_warehouse(paths.duckdb_path) as con:
            check_schemas(run, con, ["foundation"])
            gate_foundation(run, con, _qlib_new_dates(con, paths.exports_dir / QLIB_DIR, full))
        _run_qlib(run, paths, full)
    return run


def export_all(paths: Paths, *, full: bool = False, progress: Progress | None = None) -> Run:
    """Every publication, gated: all of the barra and risk gates, then Qlib (its gate, its files), then the
    barra and risk files. A failing gate anywhere publishes nothing."""
    qlib_module()
    run = start_run(paths, "export", {"full": full}, progress)
    with recorded(run, "published"):
        with open_warehouse(paths.duckdb_path) as con:
            barra_plan, risk_plan = _plan_and_gate(run, con, paths, full)
        # The Qlib exporter opens the warehouse itself; ours is closed meanwhile and must come back unchanged.
        before = _fingerprint(paths.duckdb_path)
        _run_qlib(run, paths, full)
        _check_unchanged(paths.duckdb_path, before)
        with open_warehouse(paths.duckdb_path) as con:
            write_barra(run, con, barra_plan, paths.exports_dir)
            write_risk(run, con, risk_plan, paths.exports_dir)
    return run


def validate(paths: Paths, *, full: bool = False, progress: Progress | None = None) -> Run:
    """Every gate on what the next export (``full``: a full export) would publish; writes only the run folder."""
    run = start_run(paths, "validate", {"full": full}, progress)
    with recorded(run, "validated"):
        with open_warehouse(paths.duckdb_path) as con:
            _plan_and_gate(run, con, paths, full)
        _validate_qlib(run, paths, full)
    return run


def _plan_and_gate(run: Run, con, paths: Paths, full: bool) -> tuple[BarraPlan, RiskPlan]:
    """Plan the barra and risk publications and run the foundation, exposures and risk gates on them."""
    check_schemas(run, con, ["foundation", "exposures", "risk"])
    barra_plan, risk_plan = plan_barra(con, paths.exports_dir, full), plan_risk(con, paths.exports_dir, full)
    _note_plans(run, barra_plan, risk_plan)
    qlib_dates = _qlib_new_dates(con, paths.exports_dir / QLIB_DIR, full)
    gate_foundation(run, con, _foundation_dates(barra_plan.dates, risk_plan.dated, qlib_dates))
    gate_barra(run, con, barra_plan)
    gate_risk(run, con, risk_plan)
    return barra_plan, risk_plan


def _note_plans(run: Run, barra_plan: BarraPlan, risk_plan: RiskPlan) -> None:
    first = barra.yyyymmdd(barra_plan.dates[0]) if barra_plan.dates else None
    run.notes.append(f"by_date: {len(barra_plan.dates)} date(s) to publish" + (f" from {first}" if first else ""))
    latest = barra.yyyymmdd(risk_plan.latest) if risk_plan.latest else None
    run.notes.append(f"risk: {len(risk_plan.dated)} estimation date(s) to publish; latest with specific risks {latest}")
    run.progress(run.notes[-2])
    run.progress(run.notes[-1])
