-- depends_on: {{ ref('int_prices__daily') }}, {{ ref('int_security__trading_gaps') }},
--     {{ ref('dim_trading_calendar') }} (read by history_floor_date at run time)
-- depends_on: {{ ref('int_features__smoothed') }}, for scheduling only: each DuckDB query already uses
--     every core, and the two full builds side by side took 10% longer than one after the other.
-- Windowed daily features per stock and trading row, on back-adjusted prices and volume
-- adjusted as raw volume / adj_factor. Windows count the stock's own trading rows: a suspended
-- day is not a row, and the first row after a halt (or a relisting) continues the windows of the
-- rows before it. A feature is NULL until its window is full (its warm-up); see the YAML.

with prices as (
    select
        ts_code,
        trade_date,
        stock_row_number,
        adj_open,
        adj_high,
        adj_low,
        adj_close,
        volume / adj_factor as adj_volume
    from {{ ref('int_prices__adjusted') }}
),

new_rows as (
    select * from prices
    where {{ after_watermark('trade_date') }}
),

-- The longest look-back is 20 rows (returns_20d, volatility_20d).
window_input as (
    {{ window_input('prices', 'new_rows', 20, history_floor_date('first_new_row - 20')) }}
),

with_returns as (
    select
        *,
        ln(adj_close / lag(adj_close, 1) over by_stock) as returns_1d,
        ln(adj_close / lag(adj_close, 5) over by_stock) as returns_5d,
        ln(adj_close / lag(adj_close, 20) over by_stock) as returns_20d,
        -- Exact sums (macros/exact_sums.sql): a double window sum could differ in its
        -- last bits between a full and an incremental build. 64-bit integers hold volumes below
        -- 8e12 shares at 2^-20; prices and their squares (whose difference is a variance) take
        -- 128 bits at 2^-60.
        {{ exact_sum('adj_volume', 'last_20', 20, 'bigint') }} / 20.0 as mean_volume_20d,
        {{ exact_sum('adj_close', 'last_20', 60) }} / 20.0 as mean_close_20d,
        {{ exact_sum('adj_close * adj_close', 'last_20', 60) }} / 20.0 as mean_square_close_20d
    from window_input
    window
        by_stock as (partition by ts_code order by stock_row_number),
        last_20 as (partition by ts_code order by stock_row_number rows between 19 preceding and current row)
),

with_volatility as (
    select
        *,
        sqrt(greatest(mean_square_close_20d - mean_close_20d * mean_close_20d, 0)) as std_close_20d,
        {{ exact_sum('returns_1d', 'last_20', 56, 'bigint') }} as sum_returns_20d,
        {{ exact_sum('returns_1d * returns_1d', 'last_20', 60) }} as sum_square_returns_20d
    from with_returns
    window last_20 as (partition by ts_code order by stock_row_number rows between 19 preceding and current row)
)

select
    -- keys
    ts_code,
    trade_date,
    stock_row_number,
    -- log returns over 1, 5 and 20 rows, and Qlib's alpha convention (their negatives)
    returns_1d,
    returns_5d,
    returns_20d,
    -returns_1d as alpha_daily,
    -returns_5d as alpha_5d,
    -returns_20d as alpha_20d,
    -- the day's bar, CNY (back-adjusted) and fraction
    adj_high - adj_low as price_range,
    (adj_close - adj_open) / adj_open as daily_return,
    -- volume against its 20-row mean (this row included)
    case when stock_row_number >= 20 then adj_volume / mean_volume_20d end as volume_ratio,
    -- sample std of the last 20 one-row log returns
    case
        when stock_row_number >= 21
            then sqrt(greatest(sum_square_returns_20d - sum_returns_20d * sum_returns_20d / 20.0, 0) / 19.0)
    end as volatility_20d,
    -- Bollinger bands: 20-row mean of close +- 2 population standard deviations (as TA-Lib)
    case when stock_row_number >= 20 then mean_close_20d + 2 * std_close_20d end as bb_upper,
    case when stock_row_number >= 20 then mean_close_20d end as bb_middle,
    case when stock_row_number >= 20 then mean_close_20d - 2 * std_close_20d end as bb_lower
from with_volatility
where is_new
