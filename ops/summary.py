"""A short, human summary of what a build produced and where it is."""

from __future__ import annotations

import duckdb

from ops.settings import PROJECT_ROOT, Paths

SUMMARY_TABLES = [
    ("marts", "dim_trading_calendar"),
    ("marts", "dim_security"),
    ("intermediate", "int_prices__daily"),
    ("intermediate", "int_returns__daily"),
    ("intermediate", "int_market__daily_return"),
    ("intermediate", "int_features__windows"),
    ("intermediate", "int_features__smoothed"),
    ("intermediate", "int_barra__descriptors"),
    ("marts", "fct_barra_exposures"),
    ("marts", "fct_factor_returns"),
    ("marts", "fct_specific_returns"),
]


def warehouse_summary(paths: Paths) -> str:
    lines = [f"warehouse: {paths.duckdb_path}", f"raw data:  {paths.raw_dir}"]
    with duckdb.connect(str(paths.duckdb_path), read_only=True) as con:
        first, last, n_days = con.execute(
            "select min(trade_date), max(trade_date), count(*) from marts.dim_trading_calendar"
        ).fetchone()
        lines.append(f"calendar:  {n_days} trading days, {first} .. {last}")
        for schema, table in SUMMARY_TABLES:
            (n,) = con.execute(
                "select estimated_size from duckdb_tables() where schema_name = ? and table_name = ?",
                [schema, table],
            ).fetchone() or (None,)
            lines.append(f"  {schema}.{table}: {n} rows")
        stats = con.execute(
            """
            select count(distinct ts_code), avg(simple_return), stddev_samp(simple_return)
            from intermediate.int_returns__daily where gap_trading_days = 1
            """
        ).fetchone()
        lines.append(f"returns:   {stats[0]} stocks, mean daily return {stats[1]:.5f}, daily std {stats[2]:.4f}")
        (mkt_vol,) = con.execute(
            "select stddev_samp(market_return) * sqrt(252) from intermediate.int_market__daily_return"
        ).fetchone()
        lines.append(f"market:    cap-weighted return, annualized volatility {mkt_vol:.1%}")
        last, n_stocks, rsi, vol = con.execute(
            """
            select trade_date, count(*), avg(rsi_14), avg(volatility_20d)
            from marts.fct_daily_features
            where trade_date = (select max(trade_date) from marts.fct_daily_features)
            group by trade_date
            """
        ).fetchone()
        lines.append(
            f"features:  marts.fct_daily_features on {last}: {n_stocks} stocks, mean RSI(14) {rsi:.1f}, "
            f"mean 20-day volatility {vol:.4f}"
        )
        last, n_stocks, n_estu, n_industries, no_industry = con.execute(
            """
            select trade_date, count(*), count(*) filter (where in_estu), count(distinct industry),
                count(*) filter (where industry is null)
            from marts.fct_barra_exposures
            where trade_date = (select max(trade_date) from marts.fct_barra_exposures)
            group by trade_date
            """
        ).fetchone()
        lines.append(
            f"barra:     marts.fct_barra_exposures on {last}: {n_stocks} stocks, {n_estu} in the estimation "
            f"universe, {n_industries} industries, {no_industry} without an industry"
        )
        n_dates, r2, country_vol = con.execute(
            """
            select count(distinct trade_date), avg(r_squared),
                stddev_samp(factor_return) filter (where factor = 'country') * sqrt(252)
            from marts.fct_factor_returns
            """
        ).fetchone()
        if n_dates:
            lines.append(
                f"risk:      marts.fct_factor_returns: {n_dates} daily regressions, mean R^2 {r2:.3f}, "
                f"country factor annualized volatility {country_vol or float('nan'):.1%}"
            )
        else:
            lines.append("risk:      marts.fct_factor_returns: no date has enough history for a regression yet")
        lines.append(_forecast_line(con))
    lines.append(f"docs:      invoke docs -> {PROJECT_ROOT / 'target' / 'static_index.html'}")
    return "\n".join(lines)


def _forecast_line(con) -> str:
    """The newest published forecast (covariance and specific risk, annualized here for reading) and the
    mean rolling bias statistic of each portfolio class."""
    last, country_vol = con.execute(
        """
        select trade_date, sqrt(value * 252)
        from marts.fct_factor_covariance
        where factor_1 = 'country' and factor_2 = 'country'
        order by trade_date desc limit 1
        """
    ).fetchone() or (None, None)
    if last is None:
        return "risk:      marts.fct_factor_covariance: no forecast yet (the model needs about 220 trading days)"
    n_stocks, median_specific = con.execute(
        """
        select count(*), median(specific_risk_annualized) from marts.fct_specific_risk
        where trade_date = (select max(trade_date) from marts.fct_specific_risk)
        """
    ).fetchone()
    bias = con.execute(
        "select portfolio_class, avg(bias_statistic) from marts.fct_risk_bias_statistics group by 1 order by 1"
    ).fetchall()
    bias_text = ", ".join(f"{kind} {value:.2f}" for kind, value in bias) or "not enough history for a window"
    return (
        f"risk:      forecast of {last}: country volatility {country_vol:.1%} annualized, {n_stocks or 0} "
        f"specific risks (median {median_specific or float('nan'):.1%} annualized); mean rolling bias: {bias_text}"
    )
