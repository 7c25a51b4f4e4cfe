{{
    config(
        materialized='incremental',
        incremental_strategy='delete+insert',
        unique_key=['trade_date'],
        on_schema_change='fail'
    )
}}

-- Daily total returns through adj_factor: one row per stock and trading day, measured from the
-- stock's previous trading row. After a suspension the return spans gap_trading_days days (the
-- risk-free return is compounded over the gap); on a stock's first row it is null (the IPO
-- issue price is not a market close).

with prices as (
    select
        ts_code,
        trade_date,
        trading_day_index,
        stock_row_number,
        adj_close,
        total_mv
    from {{ ref('int_prices__adjusted') }}
),

new_rows as (
    select *
    from prices
    where {{ after_watermark('trade_date') }}
),

with_previous as (
    select
        n.ts_code,
        n.trade_date,
        n.trading_day_index,
        p.trade_date as prev_trade_date,
        n.adj_close,
        p.adj_close as prev_adj_close,
        n.total_mv,
        p.total_mv as prev_total_mv,
        n.trading_day_index - p.trading_day_index as gap_trading_days
    from new_rows as n
    left join prices as p
        on n.ts_code = p.ts_code and n.stock_row_number - 1 = p.stock_row_number
)

select
    -- keys
    ts_code,
    trade_date,
    trading_day_index,
    prev_trade_date,
    gap_trading_days,
    -- back-adjusted closes, CNY
    adj_close,
    prev_adj_close,
    -- returns, fractions (log returns in nepers)
    adj_close / prev_adj_close - 1 as simple_return,
    ln(adj_close / prev_adj_close) as log_return,
    {{ risk_free_return('gap_trading_days') }} as risk_free_return,
    adj_close / prev_adj_close - 1 - {{ risk_free_return('gap_trading_days') }} as excess_return,
    ln(adj_close / prev_adj_close) - ln(1 + {{ risk_free_return('gap_trading_days') }}) as excess_log_return,
    -- total market value, CNY: at this close and at the previous close (the weight of this return)
    total_mv,
    prev_total_mv
from with_previous
