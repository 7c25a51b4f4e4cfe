-- depends_on: {{ ref('int_prices__daily') }}, {{ ref('int_security__trading_gaps') }},
--     {{ ref('dim_trading_calendar') }} (read by history_floor_date at run time)
-- Recursive averages per stock and trading row, seeded exactly as TA-Lib seeds them (rows are
-- the stock's own trading rows, 1-based):
--   atr_14   Wilder's ATR: true range from row 2; row 15 = mean of rows 2..15; then (13 E + TR) / 14
--   rsi_14   Wilder's RSI: average gain and loss of the 14 changes of rows 2..15, then (13 E + x) / 14;
--            100 x (G / (G + L)), 0 when G + L is below 1e-8 (TA-Lib's zero test): exactly 100 for a
--            stock that only rises, exactly 0 for one that only falls
--   ema_12, ema_26, macd_line: MACD's two EMAs (k = 2 / (n + 1)), both seeded on row 26 as TA-Lib's
--            MACD does: the slow one with the mean of rows 1..26, the fast one with rows 15..26
-- The averages are block sums (macros/exponential_smoothing.sql) with B = var('ema_block_rows')
-- for the slow decays ((13/14)^B and (25/27)^B below 1e-13) and var('fast_ema_block_rows') for
-- the fast EMA ((11/13)^B below 1e-13; a longer block would scale its terms past 1e20).
-- Each block's last row stores the block's exact integer total (state_*): an incremental run
-- reads the rows of the stock's current blocks and the last row of the blocks before them (all
-- its rows while it is within its 26 seed rows).

{% set rows = var('ema_block_rows') | int %}
{% set fast_rows = var('fast_ema_block_rows') | int %}
{% set wilder = '(13.0 / 14.0)' %}
{% set slow = '(25.0 / 27.0)' %}
{% set fast = '(11.0 / 13.0)' %}

with prices as (
    select
        ts_code,
        trade_date,
        stock_row_number,
        adj_high,
        adj_low,
        adj_close
    from {{ ref('int_prices__adjusted') }}
),

new_rows as (
    select * from prices
    where {{ after_watermark('trade_date') }}
),

window_input as (
    {{ ema_window_input(
        'prices', 'new_rows', 26, [rows, fast_rows], ['atr', 'gain', 'loss', 'fast', 'slow']
    ) }}
),

changes as (
    select
        *,
        greatest(
            adj_high - adj_low,
            abs(adj_high - lag(adj_close) over by_stock),
            abs(adj_low - lag(adj_close) over by_stock)
        ) as true_range,
        greatest(adj_close - lag(adj_close) over by_stock, 0) as gain,
        greatest(lag(adj_close) over by_stock - adj_close, 0) as loss,
        {{ ema_anchor_block(rows) }} as anchor_block,
        {{ ema_anchor_block(fast_rows) }} as anchor_fast_block
    from window_input
    window by_stock as (partition by ts_code order by stock_row_number)
),

-- The seeds, from each stock's first rows only (exact sums: the same bits in every build). Only
-- a stock with a new row up to 26 uses them, and it has all its rows here.
seeds as (
    select
        ts_code,
        {{ exact_group_sum('true_range', 'stock_row_number between 2 and 15', 40) }} / 14.0 as seed_atr,
        {{ exact_group_sum('gain', 'stock_row_number between 2 and 15', 40) }} / 14.0 as seed_gain,
        {{ exact_group_sum('loss', 'stock_row_number between 2 and 15', 40) }} / 14.0 as seed_loss,
        {{ exact_group_sum('adj_close', 'stock_row_number between 15 and 26', 40) }} / 12.0 as seed_fast,
        {{ exact_group_sum('adj_close', 'stock_row_number between 1 and 26', 40) }} / 26.0 as seed_slow
    from changes
    where stock_row_number <= 26
    group by ts_code
),

-- u: the seed on the seed row, k x after it, 0 before.
inputs as (
    select
        c.*,
        case
            when c.stock_row_number = 15 then s.seed_atr
            when c.stock_row_number > 15 then c.true_range / 14.0
            else 0
        end as u_atr,
        case
            when c.stock_row_number = 15 then s.seed_gain
            when c.stock_row_number > 15 then c.gain / 14.0
            else 0
        end as u_gain,
        case
            when c.stock_row_number = 15 then s.seed_loss
            when c.stock_row_number > 15 then c.loss / 14.0
            else 0
        end as u_loss,
        case
            when c.stock_row_number = 26 then s.seed_fast
            when c.stock_row_number > 26 then c.adj_close * 2.0 / 13.0
            else 0
        end as u_fast,
        case
            when c.stock_row_number = 26 then s.seed_slow
            when c.stock_row_number > 26 then c.adj_close * 2.0 / 27.0
            else 0
        end as u_slow
    from changes as c
    left join seeds as s on c.ts_code = s.ts_code
),

-- Terms of the running sums (macros/exponential_smoothing.sql, ema_carried_term).
terms as (
    select
        ts_code,
        trade_date,
        stock_row_number,
        is_new,
        {{ ema_carried_term('u_atr', wilder, rows, 'stored_atr', 'anchor_block') }} as term_atr,
        {{ ema_carried_term('u_gain', wilder, rows, 'stored_gain', 'anchor_block') }} as term_gain,
        {{ ema_carried_term('u_loss', wilder, rows, 'stored_loss', 'anchor_block') }} as term_loss,
        {{ ema_carried_term('u_fast', fast, fast_rows, 'stored_fast', 'anchor_fast_block') }} as term_fast,
        {{ ema_carried_term('u_slow', slow, rows, 'stored_slow', 'anchor_block') }} as term_slow
    from inputs
),

running as (
    select
        ts_code,
        trade_date,
        stock_row_number,
        is_new,
        {{ ema_block(rows) }} as block_number,
        {{ ema_block(fast_rows) }} as fast_block_number,
        sum(term_atr) over in_block as p_atr,
        sum(term_gain) over in_block as p_gain,
        sum(term_loss) over in_block as p_loss,
        sum(term_fast) over in_fast_block as p_fast,
        sum(term_slow) over in_block as p_slow
    from terms
    window
        in_block as (
            partition by ts_code, {{ ema_block(rows) }}
            order by stock_row_number rows between unbounded preceding and current row
        ),
        in_fast_block as (
            partition by ts_code, {{ ema_block(fast_rows) }}
            order by stock_row_number rows between unbounded preceding and current row
        )
),

-- Each block's total is its running sum on its last row.
block_totals as (
    select
        ts_code,
        block_number + 1 as next_block_number,
        p_atr,
        p_gain,
        p_loss,
        p_slow
    from running
    where {{ ema_offset(rows) }} = {{ rows - 1 }}
),

fast_block_totals as (
    select
        ts_code,
        fast_block_number + 1 as next_block_number,
        p_fast
    from running
    where {{ ema_offset(fast_rows) }} = {{ fast_rows - 1 }}
),

with_totals as (
    select
        r.ts_code,
        r.trade_date,
        r.stock_row_number,
        r.is_new,
        r.p_atr,
        r.p_gain,
        r.p_loss,
        r.p_fast,
        r.p_slow,
        t.p_atr as t_atr,
        t.p_gain as t_gain,
        t.p_loss as t_loss,
        f.p_fast as t_fast,
        t.p_slow as t_slow
    from running as r
    left join block_totals as t
        on r.ts_code = t.ts_code and r.block_number = t.next_block_number
    left join fast_block_totals as f
        on r.ts_code = f.ts_code and r.fast_block_number = f.next_block_number
),

smoothed as (
    select
        *,
        {{ ema_value('p_atr', 't_atr', wilder, rows) }} as atr,
        {{ ema_value('p_gain', 't_gain', wilder, rows) }} as average_gain,
        {{ ema_value('p_loss', 't_loss', wilder, rows) }} as average_loss,
        {{ ema_value('p_fast', 't_fast', fast, fast_rows) }} as ema_fast,
        {{ ema_value('p_slow', 't_slow', slow, rows) }} as ema_slow
    from with_totals
)

select
    -- keys
    ts_code,
    trade_date,
    stock_row_number,
    -- Wilder averages, CNY (back-adjusted) and 0-100
    case when stock_row_number >= 15 then atr end as atr_14,
    case
        when stock_row_number < 15 then null
        when abs(average_gain + average_loss) < 1e-8 then 0.0
        -- the ratio first: G / (G + L) <= 1 exactly for L >= 0 (= 1 when L = 0), whereas (100 G) / G
        -- rounds to 100 +- 1 ulp; the averages are sums of non-negative terms, never below 0
        else 100.0 * (average_gain / (average_gain + average_loss))
    end as rsi_14,
    -- MACD's moving averages of close, CNY (back-adjusted)
    case when stock_row_number >= 26 then ema_fast end as ema_12,
    case when stock_row_number >= 26 then ema_slow end as ema_26,
    case when stock_row_number >= 26 then ema_fast - ema_slow end as macd_line,
    -- state for incremental runs: each block's exact total on its last row (hugeint, terms
    -- scaled by 2^53), null on the other rows
    {{ ema_stored_total('p_atr', rows) }} as state_atr,
    {{ ema_stored_total('p_gain', rows) }} as state_gain,
    {{ ema_stored_total('p_loss', rows) }} as state_loss,
    {{ ema_stored_total('p_fast', fast_rows) }} as state_fast,
    {{ ema_stored_total('p_slow', rows) }} as state_slow
from smoothed
where is_new
