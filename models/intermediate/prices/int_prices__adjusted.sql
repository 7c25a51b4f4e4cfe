{{ config(materialized='view') }}

-- Raw and back-adjusted prices: the stored daily facts plus what follows from them.
-- Back-adjusted = raw x adj_factor (never forward-adjusted: that looks ahead).
select
    -- keys
    ts_code,
    trade_date,
    trading_day_index,
    stock_row_number,
    prev_trade_date,
    -- raw prices, CNY
    open,
    high,
    low,
    close,
    pre_close,
    adj_factor,
    -- volume in shares, amount in CNY, shares and caps
    volume,
    amount,
    total_shares,
    float_shares,
    total_mv,
    float_mv,
    -- derived: vwap, back-adjusted prices, turnover
    amount / nullif(volume, 0) as vwap,
    open * adj_factor as adj_open,
    high * adj_factor as adj_high,
    low * adj_factor as adj_low,
    close * adj_factor as adj_close,
    amount / nullif(volume, 0) * adj_factor as adj_vwap,
    volume / nullif(float_shares, 0) as turnover
from {{ ref('int_prices__daily') }}
