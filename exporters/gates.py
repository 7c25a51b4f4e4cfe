"""Quality gates of the publications: Great Expectations 1.24 suites over pandas frames read from DuckDB.

Four gates, each a list of named rules (a rule = one GX expectation on one frame) and the frames it reads:

- ``foundation``: the inputs (prices, returns, listings, calendar) of the dates about to be published: schema,
  unique keys, no toxic one-day return, density of prices against the listed stocks.
- ``exposures``: the by_date factor rows about to be published and the descriptors: schema, unique keys,
  one industry per row, no null style in the estimation universe (ESTU), ESTU coverage, standardization
  (cap-weighted mean 0, equal-weighted std 1 per date and style), style variance above a floor.
- ``risk``: the covariance forecasts and specific risks about to be published: schema, known factor names,
  complete, symmetric, positive definite, positive variances; specific risks in a sane annualized range,
  every ESTU stock covered.
- ``qlib``: the Qlib exporter's plan (``validate_qlib``): calendar sorted and unique, spans inside the
  calendar, file lengths matching the spans, symbols like SH600000.

Properties of whole matrices or cross-sections (symmetry, eigenvalues, moments) are computed here in numpy,
one row per date (and style), and the expectations run on those rows, so a report names the date and the
value. Every threshold comes from gates.yml. The GX SQL datasource does not work over DuckDB here
(toolchain.md), hence frames.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import math
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field, fields, is_dataclass, replace
from pathlib import Path
from typing import Any

import duckdb
import numpy as np
import pandas as pd
import yaml

from exporters.barra import DESCRIPTORS, industry_columns
from exporters.risk import active_factors
from riskmodel.daily import COUNTRY, STYLES

CONFIG_PATH = Path(__file__).with_name("gates.yml")

# The keys gates.yml must have, per section (nothing more, nothing less).
CONFIG_KEYS = {
    "foundation": {"max_abs_one_day_return", "unlimited_first_rows", "min_density", "min_listed_per_exchange"},
    "exposures": {"min_estu_coverage", "max_abs_cap_weighted_mean", "max_abs_std_error", "min_style_variance"},
    "risk": {"max_relative_asymmetry", "min_correlation_eigenvalue", "min_specific_risk", "max_specific_risk"},
    "reports": {"example_rows"},
}

ALL_EXCHANGES = "ALL"  # the density row of a date's whole market

QLIB_SYMBOL = r"^(SH|SZ|BJ)[0-9]{6}$"
QLIB_FIELD = r"^[a-z][a-z0-9_]*$"  # Qlib finds <field>.day.bin in lower case only (qlib-format.md)

# Columns and DuckDB types the gates and writers read, per relation. Integer widths are one family.
FOUNDATION_SCHEMA = {
    "intermediate.int_prices__daily": {"ts_code": "VARCHAR", "trade_date": "DATE", "close": "DOUBLE"},
    "intermediate.int_returns__daily": {
        "ts_code": "VARCHAR",
        "trade_date": "DATE",
        "simple_return": "DOUBLE",
        "gap_trading_days": "INTEGER",
        "stock_row_number": "INTEGER",
    },
    "marts.dim_security": {"ts_code": "VARCHAR", "exchange": "VARCHAR", "list_date": "DATE", "delist_date": "DATE"},
    "marts.dim_trading_calendar": {"trade_date": "DATE"},
}
_MART_EXTRAS = {"industry": "VARCHAR", "in_estu": "BOOLEAN", "regression_weight": "DOUBLE", "total_mv": "DOUBLE"}
EXPOSURES_SCHEMA = {
    "marts.fct_barra_exposures": {
        "ts_code": "VARCHAR",
        "trade_date": "DATE",
        **dict.fromkeys(STYLES, "DOUBLE"),
        **_MART_EXTRAS,
    },
    "marts.fct_barra_descriptors": {
        "ts_code": "VARCHAR",
        "trade_date": "DATE",
        **dict.fromkeys(DESCRIPTORS, "DOUBLE"),
        **_MART_EXTRAS,
    },
    "intermediate.int_barra__universe": {"ts_code": "VARCHAR", "trade_date": "DATE", "in_estu": "BOOLEAN"},
    "staging.industry_factor_map": {"factor_industry": "VARCHAR"},
}
RISK_SCHEMA = {
    "marts.fct_factor_covariance": {
        "trade_date": "DATE",
        "factor_1": "VARCHAR",
        "factor_2": "VARCHAR",
        "value": "DOUBLE",
    },
    "marts.fct_specific_risk": {"trade_date": "DATE", "ts_code": "VARCHAR", "specific_risk": "DOUBLE"},
    "marts.fct_factor_returns": {"trade_date": "DATE"},
}

_INTEGER_TYPES = {"TINYINT", "SMALLINT", "INTEGER", "BIGINT", "HUGEINT", "UTINYINT", "USMALLINT", "UINTEGER", "UBIGINT"}


# ---------------------------------------------------------------- configuration


def load_config(path: Path = CONFIG_PATH) -> dict[str, dict[str, Any]]:
    """gates.yml, checked: every section and key the gates use, and no other."""
    config = yaml.safe_load(Path(path).read_text(encoding="utf-8")) or {}
    problems = []
    for section, keys in CONFIG_KEYS.items():
        given = set((config.get(section) or {}).keys())
        problems += [f"missing {section}.{k}" for k in sorted(keys - given)]
        problems += [f"unknown {section}.{k}" for k in sorted(given - keys)]
    problems += [f"unknown section {s}" for s in sorted(set(config) - set(CONFIG_KEYS))]
    if problems:
        raise ValueError(f"{path}: " + "; ".join(problems))
    return config


# ---------------------------------------------------------------- results and reports


@dataclass(frozen=True)
class Rule:
    """One expectation on one frame. ``name`` (``<gate>.<what>``) is what reports and errors say; ``show``
    are the columns printed in example rows besides the frame's keys."""

    name: str
    frame: str
    expectation: Any
    why: str
    show: tuple[str, ...] = ()


@dataclass(frozen=True)
class Frame:
    data: pd.DataFrame
    keys: tuple[str, ...]  # the columns that identify a row in examples


@dataclass
class Outcome:
    rule: str
    frame: str
    expectation: str  # GX type and arguments, e.g. expect_column_values_to_not_be_null(column=momentum)
    why: str
    success: bool
    checked: int  # rows of the frame
    unexpected: int | None  # rows that broke the rule (None for table-level expectations)
    observed: Any = None
    examples: list[dict] = field(default_factory=list)
    error: str | None = None

    def line(self) -> str:
        count = f"{self.unexpected} of {self.checked} rows" if self.unexpected is not None else "table"
        text = f"{self.rule}: {self.expectation} on frame '{self.frame}': {count}"
        if self.error:
            text += f"; error: {self.error}"
        elif self.observed is not None:
            text += f"; observed {self.observed}"
        if self.examples:
            text += "; e.g. " + ", ".join(f"{k}={v}" for k, v in self.examples[0].items())
        return text


@dataclass
class GateResult:
    gate: str
    outcomes: list[Outcome]
    frames: dict[str, int]  # rows checked per frame

    @property
    def success(self) -> bool:
        return all(o.success for o in self.outcomes)

    @property
    def failures(self) -> list[Outcome]:
        return [o for o in self.outcomes if not o.success]

    def merged(self, other: GateResult, example_rows: int) -> GateResult:
        """This result plus another run of the same gate (another chunk of dates)."""
        outcomes = {o.rule: o for o in self.outcomes}
        for o in other.outcomes:
            mine = outcomes.get(o.rule)
            if mine is None:
                outcomes[o.rule] = o
                continue
            unexpected = None if mine.unexpected is None else mine.unexpected + (o.unexpected or 0)
            outcomes[o.rule] = replace(
                mine,
                success=mine.success and o.success,
                checked=mine.checked + o.checked,
                unexpected=unexpected,
                observed=mine.observed if not mine.success else o.observed,
                examples=(mine.examples + o.examples)[:example_rows],
                error=mine.error or o.error,
            )
        frames = dict(self.frames)
        for name, n in other.frames.items():
            frames[name] = frames.get(name, 0) + n
        return GateResult(self.gate, list(outcomes.values()), frames)


class GateFailed(Exception):
    """A gate failed: nothing of its publication was written. ``report`` is the gate's markdown report."""

    def __init__(self, result: GateResult, report: Path | None = None):
        self.result = result
        self.report = report
        super().__init__(self.message())

    @property
    def gate(self) -> str:
        return self.result.gate

    @property
    def rules(self) -> list[str]:
        return [o.rule for o in self.result.failures]

    def message(self) -> str:
        lines = [f"gate '{self.result.gate}' failed ({len(self.result.failures)} expectation(s)); nothing published"]
        lines += [f"  - {o.line()}" for o in self.result.failures]
        if self.report:
            lines.append(f"  report: {self.report}")
        return "\n".join(lines)


def jsonable(value: Any) -> Any:
    """A JSON- and markdown-friendly value (dates as ISO text, NaN as None, numpy as Python, dataclasses as
    dicts, anything else unknown as its text)."""
    if is_dataclass(value) and not isinstance(value, type):
        value = {f.name: getattr(value, f.name) for f in fields(value)}
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [jsonable(v) for v in value]
    if value is None or value is pd.NA or value is pd.NaT:
        return None
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, pd.Timestamp | dt.datetime | dt.date):
        return value.isoformat()[:10] if _is_midnight(value) else value.isoformat()
    if isinstance(value, float) and not math.isfinite(value):
        return None if math.isnan(value) else str(value)
    if isinstance(value, str | int | float | bool):
        return value
    return str(value)


def _is_midnight(value: Any) -> bool:
    return not isinstance(value, dt.datetime) or (value.hour, value.minute, value.second, value.microsecond) == (
        0,
        0,
        0,
        0,
    )


def write_report(result: GateResult, run_dir: Path) -> Path:
    """gate_<name>.md (readable) and gate_<name>.json (the same, for tools) in the run's folder."""
    run_dir.mkdir(parents=True, exist_ok=True)
    payload = {
        "gate": result.gate,
        "success": result.success,
        "frames": result.frames,
        "failed": [o.rule for o in result.failures],
        "outcomes": [jsonable(asdict(o)) for o in result.outcomes],
    }
    (run_dir / f"gate_{result.gate}.json").write_text(json.dumps(payload, indent=2) + "\n", encoding="utf-8")
    md = run_dir / f"gate_{result.gate}.md"
    md.write_text(_markdown(result), encoding="utf-8")
    return md


def _markdown(result: GateResult) -> str:
    status = "PASSED" if result.success else "FAILED: nothing of this publication was written"
    lines = [f"# Gate `{result.gate}`: {status}", ""]
    lines += ["Frames checked: " + ", ".join(f"`{k}` ({v} rows)" for k, v in result.frames.items()), ""]
    if result.failures:
        lines += ["## Failed expectations", ""]
    for o in result.failures:
        lines += [f"### `{o.rule}`", "", f"- expectation: `{o.expectation}` on frame `{o.frame}`", f"- rule: {o.why}"]
        if o.unexpected is not None:
            lines.append(f"- rows breaking it: {o.unexpected} of {o.checked}")
        if o.observed is not None:
            lines.append(f"- observed: `{jsonable(o.observed)}`")
        if o.error:
            lines.append(f"- error: {o.error}")
        if o.examples:
            lines += ["", *_table(o.examples)]
        lines.append("")
    lines += ["## Passed", ""]
    lines += [f"- `{o.rule}`: {o.expectation} ({o.checked} rows)" for o in result.outcomes if o.success]
    return "\n".join(lines) + "\n"


def _table(rows: list[dict]) -> list[str]:
    columns = list(rows[0])
    out = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    out += ["| " + " | ".join(str(jsonable(r.get(c))) for c in columns) + " |" for r in rows]
    return out


# ---------------------------------------------------------------- running expectations

_BATCH = None


def _batch_definition():
    """One ephemeral GX context per process, progress bars off; frames are passed per validation."""
    global _BATCH
    if _BATCH is None:
        import great_expectations as gx
        from great_expectations.data_context.types.base import ProgressBarsConfig

        logging.getLogger("great_expectations").setLevel(logging.WARNING)
        context = gx.get_context(mode="ephemeral")
        context.variables.progress_bars = ProgressBarsConfig(globally=False)
        asset = context.data_sources.add_pandas("frames").add_dataframe_asset("frame")
        _BATCH = asset.add_batch_definition_whole_dataframe("whole")
    return _BATCH


def _expectation_text(config) -> str:
    def short(value: Any) -> Any:
        if isinstance(value, list) and len(value) > 6:
            return f"[{value[0]}, ..., {value[-1]}] ({len(value)} values)"
        return value

    args = ", ".join(f"{k}={short(v)}" for k, v in config.kwargs.items() if k not in {"batch_id", "result_format"})
    return f"{config.type}({args})"


def _error_text(info: dict) -> str | None:
    if not info:
        return None
    if "raised_exception" in info:
        return info.get("exception_message") if info.get("raised_exception") else None
    messages = [v.get("exception_message") for v in info.values() if isinstance(v, dict)]
    return "; ".join(m for m in messages if m) or None


def run_rules(gate: str, frames: Mapping[str, Frame], rules: Sequence[Rule], example_rows: int) -> GateResult:
    """Validate every frame with its rules (one GX suite per frame) and collect named outcomes."""
    import great_expectations as gx

    batch_definition = _batch_definition()
    outcomes: list[Outcome] = []
    for frame_name, frame in frames.items():
        mine = [r for r in rules if r.frame == frame_name]
        if not mine:
            continue
        by_name = {r.name: r for r in mine}
        suite = gx.ExpectationSuite(name=f"{gate}.{frame_name}", expectations=[r.expectation for r in mine])
        batch = batch_definition.get_batch(batch_parameters={"dataframe": frame.data})
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # GX's own deprecation chatter; failures come back as results
            validation = batch.validate(
                suite, result_format={"result_format": "SUMMARY", "partial_unexpected_count": example_rows}
            )
        for result in validation.results:
            rule = by_name[result.expectation_config.meta["rule"]]
            outcomes.append(_outcome(rule, result, frame, example_rows))
    order = {r.name: i for i, r in enumerate(rules)}
    outcomes.sort(key=lambda o: order[o.rule])
    return GateResult(gate, outcomes, {name: len(f.data) for name, f in frames.items()})


def _outcome(rule: Rule, result, frame: Frame, example_rows: int) -> Outcome:
    info = result.result or {}
    error = _error_text(result.exception_info)
    examples = []
    if not result.success and info.get("partial_unexpected_index_list"):
        columns = [c for c in dict.fromkeys([*frame.keys, *rule.show]) if c in frame.data.columns]
        index = info["partial_unexpected_index_list"][:example_rows]
        examples = [jsonable(r) for r in frame.data.loc[index, columns].to_dict("records")]
    observed = info.get("observed_value")
    if observed is None and not result.success and "details" in info:
        observed = info["details"]
    return Outcome(
        rule=rule.name,
        frame=rule.frame,
        expectation=_expectation_text(result.expectation_config),
        why=rule.why,
        success=bool(result.success) and error is None,
        checked=len(frame.data),
        unexpected=info.get("unexpected_count"),
        observed=jsonable(observed),
        examples=examples,
        error=error,
    )


def _rule(name: str, frame: str, kind: str, why: str, show: Sequence[str] = (), **kwargs) -> Rule:
    import great_expectations.expectations as gxe

    expectation = getattr(gxe, kind)(**kwargs, meta={"rule": name})
    return Rule(name, frame, expectation, why, tuple(show))


# ---------------------------------------------------------------- schema (every gate)


def type_family(duckdb_type: str | None) -> str | None:
    """INTEGER for every integer width, DECIMAL for every precision, else the type itself."""
    if duckdb_type is None or (isinstance(duckdb_type, float) and math.isnan(duckdb_type)):
        return None
    upper = str(duckdb_type).upper()
    if upper in _INTEGER_TYPES:
        return "INTEGER"
    return "DECIMAL" if upper.startswith("DECIMAL") else upper


def read_schema(con: duckdb.DuckDBPyConnection, expected: Mapping[str, Mapping[str, str]]) -> pd.DataFrame:
    """(relation, column, expected_type, actual_type) for every expected column; actual None if absent."""
    rows = []
    for relation, columns in expected.items():
        schema, table = relation.split(".")
        found = dict(
            con.execute(
                "select column_name, data_type from information_schema.columns "
                "where table_catalog = current_database() and table_schema = ? and table_name = ?",
                [schema, table],
            ).fetchall()
        )
        rows += [(relation, c, t, type_family(found.get(c))) for c, t in columns.items()]
    return pd.DataFrame(rows, columns=["relation", "column", "expected_type", "actual_type"])


def schema_rules(gate: str) -> list[Rule]:
    return [
        _rule(
            f"{gate}.schema",
            "schema",
            "ExpectColumnPairValuesToBeEqual",
            "every column the publication reads exists with its type (integers of any width are INTEGER)",
            column_A="expected_type",
            column_B="actual_type",
            ignore_row_if="neither",
        )
    ]


def check_schema(gate: str, schema: pd.DataFrame, example_rows: int) -> GateResult:
    """Run first: the other frames of a gate cannot even be read when a column is missing."""
    frames = {"schema": Frame(schema, ("relation", "column", "expected_type", "actual_type"))}
    return run_rules(gate, frames, schema_rules(gate), example_rows)


# ---------------------------------------------------------------- foundation


def _dates_filter(dates: Sequence[dt.date], column: str = "trade_date") -> tuple[str, list]:
    return f"{column} between ? and ? and list_contains(?, {column})", [min(dates), max(dates), list(dates)]


def read_frame(con: duckdb.DuckDBPyConnection, sql: str, params: Sequence[Any]) -> pd.DataFrame:
    """A query's rows through Arrow: strings as categoricals, dates as datetime64.

    For the foundation gate's 24.6 M rows of a full export this is 2 to 3 times faster than ``.df()``,
    which makes a Python string per row; GX then hashes and de-duplicates category codes, not strings.
    """
    table = con.execute(sql, params).to_arrow_table()
    return table.to_pandas(strings_to_categorical=True, date_as_object=False)


def read_foundation(
    con: duckdb.DuckDBPyConnection, dates: Sequence[dt.date], config: Mapping
) -> dict[str, pd.DataFrame]:
    """The foundation gate's inputs for these dates: price and return keys, judged returns, price density.

    Only the columns a rule reads or a report shows: every column is hashed by GX per batch.
    """
    where, params = _dates_filter(dates)
    prices = read_frame(con, f"select ts_code, trade_date from intermediate.int_prices__daily where {where}", params)
    # One read of the returns for both frames (a second filtered query cost more than the mask).
    returns = read_frame(
        con,
        "select ts_code, trade_date, simple_return, stock_row_number, gap_trading_days "
        f"from intermediate.int_returns__daily where {where}",
        params,
    )
    # A return is judged after a stock's first rows (no price limit on them) and over one trading day only.
    judged = (returns["gap_trading_days"] == 1) & (
        returns["stock_row_number"] > config["foundation"]["unlimited_first_rows"]
    )
    cal_where, cal_params = _dates_filter(dates, "c.trade_date")
    density = con.execute(
        f"""
        with listed as (
            select c.trade_date, s.exchange, s.ts_code
            from marts.dim_trading_calendar as c
            inner join marts.dim_security as s
                on s.list_date <= c.trade_date and (s.delist_date is null or c.trade_date < s.delist_date)
            where {cal_where}
        )
        select l.trade_date, l.exchange, count(*) as n_listed, count(p.ts_code) as n_priced,
            count(p.ts_code) / count(*) as density
        from listed as l
        left join intermediate.int_prices__daily as p on p.ts_code = l.ts_code and p.trade_date = l.trade_date
        group by grouping sets ((l.trade_date, l.exchange), (l.trade_date))
        order by l.trade_date, l.exchange nulls first
        """,
        cal_params,
    ).df()
    density["exchange"] = density["exchange"].fillna(ALL_EXCHANGES)
    missing = sorted(set(dates) - set(density["trade_date"].dt.date))
    if missing:  # a date with no listed stock at all, or not in the calendar: density 0
        extra = pd.DataFrame({"trade_date": pd.to_datetime(missing), "exchange": ALL_EXCHANGES, "n_listed": 0})
        extra = extra.assign(n_priced=0, density=0.0)
        density = pd.concat([density, extra], ignore_index=True)
    return {
        "prices": prices,
        "returns": returns[["ts_code", "trade_date"]],
        "judged_returns": returns.loc[judged, ["ts_code", "trade_date", "simple_return", "stock_row_number"]],
        "density": density,
    }


def foundation_rules(config: Mapping) -> list[Rule]:
    c = config["foundation"]
    limit = c["max_abs_one_day_return"]
    return [
        _rule(
            "foundation.prices_keys_unique",
            "prices",
            "ExpectCompoundColumnsToBeUnique",
            "one price per stock and day",
            column_list=["ts_code", "trade_date"],
        ),
        _rule(
            "foundation.returns_keys_unique",
            "returns",
            "ExpectCompoundColumnsToBeUnique",
            "one return per stock and day",
            column_list=["ts_code", "trade_date"],
        ),
        _rule(
            "foundation.no_toxic_returns",
            "judged_returns",
            "ExpectColumnValuesToBeBetween",
            f"|one-day return| <= {limit}: beyond any A-share price limit (first "
            f"{c['unlimited_first_rows']} rows of a stock not judged)",
            show=["simple_return", "stock_row_number"],
            column="simple_return",
            min_value=-limit,
            max_value=limit,
        ),
        _rule(
            "foundation.price_density",
            "density",
            "ExpectColumnValuesToBeBetween",
            f"share of listed stocks with a price >= {c['min_density']}, per date and per exchange (an exchange "
            f"with fewer than {c['min_listed_per_exchange']} listed stocks only in the date's total)",
            show=["n_listed", "n_priced", "density"],
            column="density",
            min_value=c["min_density"],
        ),
    ]


def check_foundation(inputs: Mapping[str, pd.DataFrame], config: Mapping) -> GateResult:
    c = config["foundation"]
    density = inputs["density"]
    judged_density = density[
        (density["exchange"] == ALL_EXCHANGES) | (density["n_listed"] >= c["min_listed_per_exchange"])
    ]
    frames = {
        "prices": Frame(inputs["prices"], ("ts_code", "trade_date")),
        "returns": Frame(inputs["returns"], ("ts_code", "trade_date")),
        "judged_returns": Frame(inputs["judged_returns"], ("ts_code", "trade_date")),
        "density": Frame(judged_density, ("trade_date", "exchange")),
    }
    return run_rules("foundation", frames, foundation_rules(config), config["reports"]["example_rows"])


# ---------------------------------------------------------------- exposures


def style_moments(exposures: pd.DataFrame) -> pd.DataFrame:
    """Per date and style over the ESTU: cap-weighted mean, equal-weighted population std and variance.

    Nulls are left out (the null rule reports them); a style without a value gives NaN moments.
    """
    estu = exposures[exposures["in_estu"].fillna(False).astype(bool)]
    rows = []
    for date, group in estu.groupby("trade_date", sort=True):
        cap = group["total_mv"].to_numpy(dtype=np.float64)
        for style in STYLES:
            x = group[style].to_numpy(dtype=np.float64)
            ok = np.isfinite(x) & np.isfinite(cap)
            n = int(ok.sum())
            mean = float(np.sum(cap[ok] * x[ok]) / np.sum(cap[ok])) if n else np.nan
            std = float(np.std(x[ok])) if n else np.nan
            rows.append((date, style, n, mean, std, std * std))
    return pd.DataFrame(rows, columns=["trade_date", "style", "n_estu", "cap_weighted_mean", "std", "variance"])


def estu_coverage(factors: pd.DataFrame, universe: pd.DataFrame) -> pd.DataFrame:
    """Per date: ESTU members in int_barra__universe, ESTU rows about to be published, and their ratio."""
    published = factors[factors["in_estu"].fillna(False).astype(bool)].groupby("trade_date").size()
    out = universe.copy()
    out["n_estu_published"] = out["trade_date"].map(published).fillna(0).astype(int)
    with np.errstate(divide="ignore", invalid="ignore"):
        out["coverage"] = out["n_estu_published"] / out["n_estu_universe"].replace(0, np.nan)
    return out


def exposures_rules(config: Mapping, industries: Sequence[str]) -> list[Rule]:
    c = config["exposures"]
    rules = [
        _rule(
            "exposures.keys_unique",
            "factors",
            "ExpectCompoundColumnsToBeUnique",
            "one row per stock and date",
            column_list=["ts_code", "trade_date"],
        ),
        _rule(
            "exposures.one_industry_per_row",
            "factors",
            "ExpectMulticolumnSumToEqual",
            "exactly one ind_ column is 1 (the row's industry is one of the seed's)",
            show=["industry"],
            column_list=industry_columns(industries),
            sum_total=1,
        ),
        _rule(
            "exposures.descriptor_keys_unique",
            "descriptors",
            "ExpectCompoundColumnsToBeUnique",
            "one descriptor row per stock and date",
            column_list=["ts_code", "trade_date"],
        ),
    ]
    rules += [
        _rule(
            f"exposures.{style}_not_null_in_estu",
            "estu",
            "ExpectColumnValuesToNotBeNull",
            f"every ESTU member has a {style} exposure",
            show=[style],
            column=style,
        )
        for style in STYLES
    ]
    rules += [
        _rule(
            "exposures.estu_not_empty",
            "coverage",
            "ExpectColumnValuesToBeBetween",
            "every published date has an estimation universe",
            column="n_estu_universe",
            min_value=1,
        ),
        _rule(
            "exposures.estu_coverage",
            "coverage",
            "ExpectColumnValuesToBeBetween",
            f"ESTU members published / ESTU members in int_barra__universe >= {c['min_estu_coverage']}",
            show=["n_estu_universe", "n_estu_published", "coverage"],
            column="coverage",
            min_value=c["min_estu_coverage"],
        ),
        _rule(
            "exposures.moments_defined",
            "moments",
            "ExpectColumnValuesToNotBeNull",
            "every style has values in the ESTU (moments computable)",
            show=["n_estu"],
            column="std",
        ),
        _rule(
            "exposures.cap_weighted_mean_zero",
            "moments",
            "ExpectColumnValuesToBeBetween",
            f"|cap-weighted mean over the ESTU| <= {c['max_abs_cap_weighted_mean']}",
            show=["cap_weighted_mean"],
            column="cap_weighted_mean",
            min_value=-c["max_abs_cap_weighted_mean"],
            max_value=c["max_abs_cap_weighted_mean"],
        ),
        _rule(
            "exposures.std_one",
            "moments",
            "ExpectColumnValuesToBeBetween",
            f"|equal-weighted std over the ESTU - 1| <= {c['max_abs_std_error']}",
            show=["std"],
            column="std",
            min_value=1 - c["max_abs_std_error"],
            max_value=1 + c["max_abs_std_error"],
        ),
        _rule(
            "exposures.variance_above_floor",
            "moments",
            "ExpectColumnValuesToBeBetween",
            f"cross-sectional variance over the ESTU >= {c['min_style_variance']}",
            show=["variance"],
            column="variance",
            min_value=c["min_style_variance"],
        ),
    ]
    return rules


def check_exposures(
    exposures: pd.DataFrame,
    factors: pd.DataFrame,
    descriptors: pd.DataFrame,
    universe: pd.DataFrame,
    industries: Sequence[str],
    config: Mapping,
) -> GateResult:
    """``exposures``: the mart rows (with total_mv); ``factors``: barra.factor_frame, the rows about to be
    published; ``descriptors``: the descriptor rows; ``universe``: barra.read_estu_counts.

    Each frame holds the columns its rules read or show, no more: GX hashes every column of every frame
    it validates, and the ESTU rows are copied (checks of a 200-date chunk of the bench market: 4.8 s -> 3.0 s)."""
    keys = ["trade_date", "ts_code"]
    in_estu = factors["in_estu"].fillna(False).astype(bool)
    frames = {
        "factors": Frame(factors[[*keys, "industry", *industry_columns(industries)]], tuple(keys)),
        "estu": Frame(factors.loc[in_estu, [*keys, *STYLES]], tuple(keys)),
        "descriptors": Frame(descriptors[keys], tuple(keys)),
        "coverage": Frame(estu_coverage(factors, universe), ("trade_date",)),
        "moments": Frame(style_moments(exposures), ("trade_date", "style")),
    }
    return run_rules("exposures", frames, exposures_rules(config, industries), config["reports"]["example_rows"])


# ---------------------------------------------------------------- risk


def matrix_diagnostics(date: dt.date, matrix: np.ndarray, factors: Sequence[str]) -> dict[str, Any]:
    """One row of the risk gate's ``matrices`` frame: what a DAILY covariance forecast must satisfy.

    Active factors are those with a finite variance; inactive ones (an industry without stocks) are left out.
    Missing pairs among active factors are counted, then read as 0 for the remaining diagnostics."""
    active = active_factors(matrix)
    inactive_required = [f for f, on in zip(factors, active, strict=True) if not on and (f == COUNTRY or f in STYLES)]
    row: dict[str, Any] = {
        "estimation_date": date,
        "n_active": int(active.sum()),
        "n_inactive_required": len(inactive_required),
        "inactive_required": ",".join(inactive_required),
        "n_missing_pairs": 0,
        "max_relative_asymmetry": 0.0,
        "worst_pair": "",
        "min_variance": np.nan,
        "min_variance_factor": "",
        "min_correlation_eigenvalue": np.nan,
    }
    if not active.any():
        return row
    names = [f for f, on in zip(factors, active, strict=True) if on]
    block = matrix[np.ix_(active, active)]
    row["n_missing_pairs"] = int((~np.isfinite(block)).sum())
    block = np.where(np.isfinite(block), block, 0.0)
    diagonal = np.diag(block)
    scale = float(np.max(np.abs(diagonal))) or 1.0
    asymmetry = np.abs(block - block.T) / scale
    i, j = np.unravel_index(int(np.argmax(asymmetry)), asymmetry.shape)
    row["max_relative_asymmetry"] = float(asymmetry[i, j])
    row["worst_pair"] = f"{names[i]}/{names[j]}"
    row["min_variance"] = float(diagonal.min())
    row["min_variance_factor"] = names[int(np.argmin(diagonal))]
    row["min_correlation_eigenvalue"] = _min_correlation_eigenvalue(block)
    return row


def _min_correlation_eigenvalue(covariance: np.ndarray) -> float:
    """Smallest eigenvalue of the correlation matrix of a covariance (NaN without one, or with a variance <= 0).

    Scale-free, unlike the covariance's: factor variances span orders of magnitude, and the risk model's
    own repair floors exactly these eigenvalues (riskmodel.params CovarianceParams.psd_floor)."""
    variances = np.diag(covariance)
    if len(variances) == 0 or np.any(variances <= 0):
        return np.nan
    scale = np.sqrt(variances)
    symmetric = (covariance + covariance.T) / 2
    return float(np.linalg.eigvalsh(symmetric / np.outer(scale, scale)).min())


def risk_rules(config: Mapping, factors: Sequence[str]) -> list[Rule]:
    c = config["risk"]
    return [
        _rule(
            "risk.covariance_keys_unique",
            "covariance",
            "ExpectCompoundColumnsToBeUnique",
            "one value per date and factor pair",
            column_list=["trade_date", "factor_1", "factor_2"],
        ),
        *(
            _rule(
                f"risk.known_{column}",
                "covariance",
                "ExpectColumnValuesToBeInSet",
                "factor names are country, the seed's industries and the ten styles",
                show=["factor_1", "factor_2"],
                column=column,
                value_set=list(factors),
            )
            for column in ("factor_1", "factor_2")
        ),
        _rule(
            "risk.country_and_styles_active",
            "matrices",
            "ExpectColumnValuesToBeBetween",
            "country and every style have a forecast (only an industry without stocks may be inactive)",
            show=["inactive_required"],
            column="n_inactive_required",
            min_value=0,
            max_value=0,
        ),
        _rule(
            "risk.covariance_complete",
            "matrices",
            "ExpectColumnValuesToBeBetween",
            "every pair of active factors has a finite value",
            show=["n_active", "n_missing_pairs"],
            column="n_missing_pairs",
            min_value=0,
            max_value=0,
        ),
        _rule(
            "risk.covariance_symmetric",
            "matrices",
            "ExpectColumnValuesToBeBetween",
            f"max |C - C'| / max |diag C| <= {c['max_relative_asymmetry']}",
            show=["max_relative_asymmetry", "worst_pair"],
            column="max_relative_asymmetry",
            max_value=c["max_relative_asymmetry"],
        ),
        _rule(
            "risk.variances_positive",
            "matrices",
            "ExpectColumnValuesToBeBetween",
            "every active factor variance > 0",
            show=["min_variance", "min_variance_factor"],
            column="min_variance",
            min_value=0,
            strict_min=True,
        ),
        _rule(
            "risk.covariance_positive_definite",
            "matrices",
            "ExpectColumnValuesToBeBetween",
            f"smallest eigenvalue of the active factors' correlation matrix > {c['min_correlation_eigenvalue']}",
            show=["min_correlation_eigenvalue"],
            column="min_correlation_eigenvalue",
            min_value=c["min_correlation_eigenvalue"],
            strict_min=True,
        ),
        _rule(
            "risk.eigenvalues_defined",
            "matrices",
            "ExpectColumnValuesToNotBeNull",
            "a forecast has active factors, all with a positive variance",
            show=["n_active", "min_variance"],
            column="min_correlation_eigenvalue",
        ),
        _rule(
            "risk.specific_keys_unique",
            "specific",
            "ExpectColumnValuesToBeUnique",
            "one specific risk per stock",
            column="ts_code",
        ),
        _rule(
            "risk.specific_risk_in_range",
            "specific",
            "ExpectColumnValuesToBeBetween",
            f"annualized specific volatility within [{c['min_specific_risk']}, {c['max_specific_risk']}]",
            show=["specific_risk"],
            column="specific_risk",
            min_value=c["min_specific_risk"],
            max_value=c["max_specific_risk"],
        ),
        _rule(
            "risk.specific_risk_not_null",
            "specific",
            "ExpectColumnValuesToNotBeNull",
            "every published stock has a specific risk",
            column="specific_risk",
        ),
        _rule(
            "risk.latest_has_estu",
            "latest",
            "ExpectColumnValuesToBeBetween",
            "the specific risks' estimation date has an estimation universe in fct_barra_exposures",
            show=["n_estu", "n_specific"],
            column="n_estu",
            min_value=1,
        ),
        _rule(
            "risk.latest_has_specific_risks",
            "latest",
            "ExpectColumnValuesToBeBetween",
            "the latest forecast comes with specific risks",
            show=["n_estu", "n_specific"],
            column="n_specific",
            min_value=1,
        ),
        _rule(
            "risk.estu_covered",
            "specific_coverage",
            "ExpectColumnValuesToNotBeNull",
            "every ESTU member of the estimation date has a specific risk",
            column="specific_risk",
        ),
    ]


def check_risk(
    covariance: pd.DataFrame,
    matrices: pd.DataFrame,
    specific: pd.DataFrame,
    estu: pd.DataFrame,
    factors: Sequence[str],
    config: Mapping,
    latest: dt.date | None = None,
) -> GateResult:
    """``covariance``: long mart rows; ``matrices``: one ``matrix_diagnostics`` row per date; ``specific``:
    (ts_code, specific_risk ANNUALIZED) about to be published; ``estu``: ts_code of the ESTU on the specific
    risks' estimation date ``latest`` (None, and empty frames, when this run does not publish them)."""
    coverage = estu[["ts_code"]].merge(specific[["ts_code", "specific_risk"]], on="ts_code", how="left")
    summary = pd.DataFrame(
        [(latest, len(estu), len(specific))] if latest is not None else [],
        columns=["estimation_date", "n_estu", "n_specific"],
    )
    frames = {
        "covariance": Frame(covariance, ("trade_date", "factor_1", "factor_2")),
        "matrices": Frame(matrices, ("estimation_date",)),
        "specific": Frame(specific, ("ts_code",)),
        "specific_coverage": Frame(coverage, ("ts_code",)),
        "latest": Frame(summary, ("estimation_date",)),
    }
    return run_rules("risk", frames, risk_rules(config, factors), config["reports"]["example_rows"])


# ---------------------------------------------------------------- qlib


def qlib_files_frame(calendar: pd.DataFrame, files: pd.DataFrame) -> pd.DataFrame:
    """The Qlib plan with what each file must be: the calendar positions of its span (NaN when a span date
    is not in the calendar) and the number of values the span needs (first occurrence for duplicates)."""
    days = pd.to_datetime(calendar["date"]).tolist()
    position: dict[pd.Timestamp, int] = {}
    for i, d in enumerate(days):
        position.setdefault(d, i)
    out = files.copy()
    out["span_start_index"] = pd.to_datetime(out["span_start"]).map(position).astype("float64")
    out["span_end_index"] = pd.to_datetime(out["span_end"]).map(position).astype("float64")
    out["expected_n_values"] = out["span_end_index"] - out["span_start_index"] + 1
    return out


def qlib_rules() -> list[Rule]:
    span = ["span_start", "span_end", "start_index", "n_values"]
    return [
        _rule("qlib.calendar_not_null", "calendar", "ExpectColumnValuesToNotBeNull", "no empty date", column="date"),
        _rule(
            "qlib.calendar_unique",
            "calendar",
            "ExpectColumnValuesToBeUnique",
            "each trading day once (Qlib maps value i to calendar[start + i])",
            column="date",
        ),
        _rule(
            "qlib.calendar_sorted",
            "calendar",
            "ExpectColumnValuesToBeIncreasing",
            "ascending in file order: Qlib never sorts calendars/day.txt",
            column="date",
            strictly=True,
        ),
        _rule(
            "qlib.symbol_format",
            "files",
            "ExpectColumnValuesToMatchRegex",
            f"symbols match {QLIB_SYMBOL}",
            show=["symbol"],
            column="symbol",
            regex=QLIB_SYMBOL,
        ),
        _rule(
            "qlib.symbol_not_null", "files", "ExpectColumnValuesToNotBeNull", "every file has a symbol", column="symbol"
        ),
        _rule(
            "qlib.field_format",
            "files",
            "ExpectColumnValuesToMatchRegex",
            f"field names match {QLIB_FIELD} (lower case: Qlib reads <field>.day.bin only so)",
            show=["field"],
            column="field",
            regex=QLIB_FIELD,
        ),
        _rule(
            "qlib.file_keys_unique",
            "files",
            "ExpectCompoundColumnsToBeUnique",
            "one file per symbol and field",
            column_list=["symbol", "field"],
        ),
        _rule(
            "qlib.span_start_in_calendar",
            "files",
            "ExpectColumnValuesToNotBeNull",
            "span_start is a calendar date",
            show=["span_start"],
            column="span_start_index",
        ),
        _rule(
            "qlib.span_end_in_calendar",
            "files",
            "ExpectColumnValuesToNotBeNull",
            "span_end is a calendar date",
            show=["span_end"],
            column="span_end_index",
        ),
        _rule(
            "qlib.span_ordered",
            "files",
            "ExpectColumnPairValuesAToBeGreaterThanB",
            "span_end is not before span_start in the calendar",
            show=span,
            column_A="span_end_index",
            column_B="span_start_index",
            or_equal=True,
        ),
        _rule(
            "qlib.start_index_matches_span",
            "files",
            "ExpectColumnPairValuesToBeEqual",
            "start_index is the calendar index of span_start",
            show=[*span, "span_start_index"],
            column_A="start_index",
            column_B="span_start_index",
            ignore_row_if="neither",
        ),
        _rule(
            "qlib.length_matches_span",
            "files",
            "ExpectColumnPairValuesToBeEqual",
            "n_values is the number of calendar days from span_start to span_end",
            show=[*span, "expected_n_values"],
            column_A="n_values",
            column_B="expected_n_values",
            ignore_row_if="neither",
        ),
    ]


def validate_qlib(calendar_df: pd.DataFrame, files_df: pd.DataFrame, *, config: Mapping | None = None) -> GateResult:
    """The Qlib gate on the exporter's plan, before anything is written.

    ``calendar_df``: one column ``date`` (datetime64), in file order. ``files_df``: one row per .bin file as
    it will be after the export: ``symbol`` (SH600000), ``field``, ``start_index`` (the file's first float),
    ``n_values`` (values after it), ``span_start`` and ``span_end`` (first and last date of its values).
    Returns the result; the caller decides (exporters.publish raises GateFailed and writes the report).
    """
    config = config or load_config()
    missing = [c for c in ("date",) if c not in calendar_df.columns]
    missing += [
        c for c in ("symbol", "field", "start_index", "n_values", "span_start", "span_end") if c not in files_df.columns
    ]
    if missing:
        raise ValueError(f"validate_qlib: the plan lacks column(s) {missing}")
    calendar = calendar_df[["date"]].reset_index(drop=True)
    frames = {
        "calendar": Frame(calendar, ("date",)),
        "files": Frame(qlib_files_frame(calendar, files_df.reset_index(drop=True)), ("symbol", "field")),
    }
    return run_rules("qlib", frames, qlib_rules(), config["reports"]["example_rows"])
