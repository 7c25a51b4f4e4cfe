"""fct_risk_bias_statistics: rolling bias statistics of the risk model's test portfolios (cne5-spec §9).

For each portfolio of int_risk__bias_portfolios, the standardized returns b_t = R_t / sigma_(t-1) (the
forecast made the day before) and, over windows of WINDOW_DAYS consecutive dates of the portfolio moved
forward STEP_DAYS at a time, the bias statistic B = sample standard deviation of b (eq. A2, A4): 1 is
ideal, above 1 risk was underpredicted. Computed with and without the volatility regime adjustments.

[CHOICE] Daily periods in one-year windows (252 dates) stepped monthly (21 dates): USE4 uses monthly
periods in 12-month windows; daily periods give a year's window 252 observations instead of 12 (95% band
1 +/- 0.09 instead of 1 +/- 0.41) on histories too short for many monthly windows.

Rebuilt whole on every run (a table): its windows span the history, and it is small (portfolios x windows).
Grain: (portfolio_class, portfolio, window_end). Dimensionless.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from riskmodel.bias import bias_statistic

WINDOW_DAYS, STEP_DAYS = 252, 21

SCHEMA = pa.schema(
    [
        ("portfolio_class", pa.string()),
        ("portfolio", pa.string()),
        ("window_start", pa.date32()),
        ("window_end", pa.date32()),
        ("periods", pa.int64()),
        ("bias_statistic", pa.float64()),
        ("bias_statistic_no_vra", pa.float64()),
    ]
)


def _windows(dates, standardized, standardized_no_vra, kind: str, name: str) -> list[tuple]:
    rows = []
    for start in range(0, len(dates) - WINDOW_DAYS + 1, STEP_DAYS):
        window = slice(start, start + WINDOW_DAYS)
        b, b_no = standardized[window], standardized_no_vra[window]
        rows.append(
            (
                kind,
                name,
                dates[start],
                dates[start + WINDOW_DAYS - 1],
                int(np.isfinite(b).sum()),
                float(bias_statistic(b)),
                float(bias_statistic(b_no)),
            )
        )
    return rows


def model(dbt, session):
    dbt.config(materialized="table")
    portfolios = dbt.ref("int_risk__bias_portfolios")
    query = f"""
        select portfolio_class, portfolio, trade_date,
            realized_return / forecast_volatility as b, realized_return / forecast_volatility_no_vra as b_no_vra
        from ({portfolios.sql_query()}) as p
        order by portfolio_class, portfolio, trade_date
    """
    data = session.execute(query).fetchnumpy()
    if len(data["portfolio"]) == 0:
        return SCHEMA.empty_table()
    keys = np.char.add(np.asarray(data["portfolio_class"], dtype=str), "/" + np.asarray(data["portfolio"], dtype=str))
    rows: list[tuple] = []
    starts = np.flatnonzero(np.r_[True, keys[1:] != keys[:-1]])
    for first, last in zip(starts, [*starts[1:], len(keys)], strict=True):
        part = slice(first, last)
        rows += _windows(
            np.asarray(data["trade_date"]).astype("datetime64[D]")[part],
            np.asarray(data["b"], dtype=float)[part],
            np.asarray(data["b_no_vra"], dtype=float)[part],
            str(data["portfolio_class"][first]),
            str(data["portfolio"][first]),
        )
    if not rows:
        return SCHEMA.empty_table()
    columns = list(zip(*rows, strict=True))
    return pa.table({f.name: np.asarray(values) for f, values in zip(SCHEMA, columns, strict=True)}, schema=SCHEMA)
