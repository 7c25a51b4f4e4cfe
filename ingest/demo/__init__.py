"""The demo A-share market: Tushare-shaped raw Parquet plus the planted ground truth.

``generate_demo_market(raw_root, n_stocks, n_days, seed)`` writes

- ``raw_root/tushare/<table>/<YYYY>.parquet`` for the date-indexed tables (daily, daily_basic, adj_factor,
  index_daily) and ``raw_root/tushare/<table>/<table>.parquet`` for trade_cal, stock_basic, index_classify,
  index_member_all, income, balancesheet, cashflow, all in the raw contract's columns, types and Tushare units;
- ``raw_root/demo_truth/``: ``meta.json`` (seed, sizes, dates, risk-free rate, regime window, parameters,
  definitions, every trap with its ts_codes and dates), ``factor_returns.parquet``, ``exposures/<YYYY>.parquet``,
  ``specific/<YYYY>.parquet``, ``stocks.parquet`` and ``corporate_actions.parquet``.

Modules: ``calendar`` (SSE-like holidays), ``reference`` (Shenwan industries, boards, names), ``universe``
(securities, listing spans, traps, industries, planted characteristics), ``fundamentals`` (statements),
``pit`` (point-in-time fundamentals), ``planted`` (the factor model and exposures), ``market`` (the daily
simulation), ``write`` (Arrow/Parquet), ``generate`` (orchestration).
"""

from .generate import generate_demo_market
from .planted import RF_DAILY, RISK_FREE_ANNUAL, STYLES

__all__ = ["RF_DAILY", "RISK_FREE_ANNUAL", "STYLES", "generate_demo_market"]
