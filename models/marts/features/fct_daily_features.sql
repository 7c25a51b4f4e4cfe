{{ config(materialized='view') }}

-- Everything the Qlib export and researchers read per stock and trading day: Qlib's price fields
-- (back-adjusted prices, volume as raw volume / factor, factor = adjusted / raw price, amount,
-- change) and the daily features. One row per stock and day it traded.
-- A view over the incremental feature tables, which share the key (ts_code, trade_date): nothing
-- is stored twice, and a date filter on it reaches every table's zonemaps.

with prices as (
    select
        ts_code,
        trade_date,
        stock_row_number,
        adj_open,
        adj_high,
        adj_low,
        adj_close,
        adj_vwap,
        adj_factor,
        volume,
        amount
    from {{ ref('int_prices__adjusted') }}
),

returns as (
    select
        ts_code,
        trade_date,
        simple_return
    from {{ ref('int_returns__daily') }}
),

windows as (
    select * exclude (stock_row_number)
    from {{ ref('int_features__windows') }}
),

smoothed as (
    select
        ts_code,
        trade_date,
        atr_14,
        rsi_14
    from {{ ref('int_features__smoothed') }}
),

macd as (
    select
        ts_code,
        trade_date,
        macd,
        macd_signal,
        macd_hist
    from {{ ref('int_features__macd_signal') }}
)

select
    -- keys
    p.ts_code,
    p.trade_date,
    p.stock_row_number,
    -- Qlib's fields: back-adjusted prices (CNY), volume in adjusted shares, the factor
    p.adj_open as open,
    p.adj_high as high,
    p.adj_low as low,
    p.adj_close as close,
    p.adj_vwap as vwap,
    p.volume / p.adj_factor as volume,
    p.adj_factor as factor,
    p.amount,
    r.simple_return as change,
    -- features
    w.returns_1d,
    w.returns_5d,
    w.returns_20d,
    w.alpha_daily,
    w.alpha_5d,
    w.alpha_20d,
    w.price_range,
    w.daily_return,
    w.volume_ratio,
    p.amount as money_flow,
    w.volatility_20d,
    s.atr_14,
    s.rsi_14,
    m.macd,
    m.macd_signal,
    m.macd_hist,
    w.bb_upper,
    w.bb_middle,
    w.bb_lower
from prices as p
inner join returns as r on p.ts_code = r.ts_code and p.trade_date = r.trade_date
inner join windows as w on p.ts_code = w.ts_code and p.trade_date = w.trade_date
inner join smoothed as s on p.ts_code = s.ts_code and p.trade_date = s.trade_date
inner join macd as m on p.ts_code = m.ts_code and p.trade_date = m.trade_date
