-- depends_on: {{ ref('int_prices__daily') }}, {{ ref('int_security__trading_gaps') }},
--     {{ ref('dim_trading_calendar') }} (read by history_floor_date at run time)
-- MACD's signal line: the 9-row EMA (k = 0.2) of macd_line, seeded as TA-Lib seeds it, with the
-- mean of macd_line over rows 26..34 on row 34; MACD, its signal and histogram are NULL before
-- row 34 (TA-Lib's look-back of 33). Block sums with stored block totals as in
-- int_features__smoothed (history: the current block and the previous block's last row, or
-- all rows up to the seed row 34), with
-- B = var('signal_block_rows'): 0.8^B is below 1e-13.

{% set rows = var('signal_block_rows') | int %}
{% set decay = '0.8' %}

with lines as (
    select
        ts_code,
        trade_date,
        stock_row_number,
        macd_line
    from {{ ref('int_features__smoothed') }}
),

new_rows as (
    select * from lines
    where {{ after_watermark('trade_date') }}
),

window_input as (
    {{ ema_window_input('lines', 'new_rows', 34, [rows], ['signal']) }}
),

flagged as (
    select
        *,
        {{ ema_anchor_block(rows) }} as anchor_block
    from window_input
),

seeds as (
    select
        ts_code,
        {{ exact_group_sum('macd_line', 'stock_row_number between 26 and 34', 53) }} / 9.0 as seed_signal
    from window_input
    where stock_row_number <= 34
    group by ts_code
),

inputs as (
    select
        w.*,
        case
            when w.stock_row_number = 34 then s.seed_signal
            when w.stock_row_number > 34 then w.macd_line * 0.2
            else 0
        end as u_signal
    from flagged as w
    left join seeds as s on w.ts_code = s.ts_code
),

running as (
    select
        ts_code,
        trade_date,
        stock_row_number,
        is_new,
        macd_line,
        {{ ema_block(rows) }} as block_number,
        sum({{ ema_carried_term('u_signal', decay, rows, 'stored_signal', 'anchor_block') }}) over in_block
            as p_signal
    from inputs
    window in_block as (
        partition by ts_code, {{ ema_block(rows) }}
        order by stock_row_number rows between unbounded preceding and current row
    )
),

block_totals as (
    select
        ts_code,
        block_number + 1 as next_block_number,
        p_signal
    from running
    where {{ ema_offset(rows) }} = {{ rows - 1 }}
),

signal as (
    select
        r.ts_code,
        r.trade_date,
        r.stock_row_number,
        r.is_new,
        r.macd_line,
        r.p_signal,
        {{ ema_value('r.p_signal', 't.p_signal', decay, rows) }} as signal_line
    from running as r
    left join block_totals as t
        on r.ts_code = t.ts_code and r.block_number = t.next_block_number
)

select
    ts_code,
    trade_date,
    stock_row_number,
    case when stock_row_number >= 34 then macd_line end as macd,
    case when stock_row_number >= 34 then signal_line end as macd_signal,
    case when stock_row_number >= 34 then macd_line - signal_line end as macd_hist,
    -- state for incremental runs: each block's exact total on its last row (hugeint, terms
    -- scaled by 2^53), null on the other rows
    {{ ema_stored_total('p_signal', rows) }} as state_signal
from signal
where is_new
