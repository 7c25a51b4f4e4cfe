-- depends_on: {{ ref('int_prices__daily') }} (read by previous_row_floor_date at run time)
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
        prev_trade_date,
        adj_close,
        total_mv
    from {{ ref('int_prices__adjusted') }}
),

new_rows as (
    select * from prices
    where {{ after_watermark('trade_date') }}
),

window_input as (
    {{ window_input('prices', 'new_rows', 1, previous_row_floor_date()) }}
),

with_previous as (
    select
        ts_code,
        trade_date,
        trading_day_index,
        stock_row_number,
        adj_close,
        total_mv,
        is_new,
        prev_trade_date,
        trading_day_index - lag(trading_day_index) over by_stock as gap_trading_days,
        lag(adj_close) over by_stock as prev_adj_close,
        lag(total_mv) over by_stock as prev_total_mv
    from window_input
    window by_stock as (partition by ts_code order by stock_row_number)
)

select
    -- keys
    ts_code,
    trade_date,
    trading_day_index,
    stock_row_number,
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
where is_new
-- Written in date order, so that a read of a range of days (the Barra return windows reach 525
-- days back) skips the other row groups by their zonemaps; the window above emits stock by stock.
order by trade_date
