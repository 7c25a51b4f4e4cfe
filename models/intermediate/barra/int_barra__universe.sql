-- The estimation universe (ESTU), regression weights and factor industries per stock and day it
-- traded (docs/cne5-choices.md). A stock is in the ESTU on D when it traded on D, has a positive
-- total market cap, its current listing span is at least var('barra_estu_min_age_days') market
-- days old, it has a factor industry, and it is listed in Shanghai or Shenzhen.

with new_rows as (
    select
        ts_code,
        trade_date,
        trading_day_index,
        total_mv
    from {{ ref('int_prices__daily') }}
    where {{ after_watermark('trade_date') }}
),

-- A listing span starts on a stock's first row and on each row after a span-breaking gap.
span_starts as (
    select
        ts_code,
        trade_date as span_start,
        trading_day_index as span_start_index
    from {{ ref('int_prices__daily') }}
    where stock_row_number = 1
    union all
    select
        g.ts_code,
        g.trade_date as span_start,
        p.trading_day_index as span_start_index
    from {{ ref('int_security__trading_gaps') }} as g
    inner join {{ ref('int_prices__daily') }} as p
        on g.ts_code = p.ts_code and g.trade_date = p.trade_date
    where g.breaks_listing_span
),

-- A stock's listing span and Shenwan membership change only on a few dates (span starts, in_date
-- and out_date of its membership spells): its breakpoints. Each day takes the state of its latest
-- breakpoint, so one join of the rows with the intervals of this small timeline replaces an as-of
-- join and a range join of every row with every spell (28 s -> 7 s for 24.6 M rows).
members as (
    select
        ts_code,
        l1_code,
        in_date,
        out_date
    from {{ ref('stg_tushare__index_member_all') }}
),

breakpoints as (
    select
        ts_code,
        span_start as breakpoint
    from span_starts
    union
    select
        ts_code,
        in_date
    from members
    union
    select
        ts_code,
        out_date
    from members
    where out_date is not null
),

-- Shenwan level-1 membership from a breakpoint on: in_date <= D < out_date; overlapping spells
-- resolve to the newest in_date.
membership_timeline as (
    select
        b.ts_code,
        b.breakpoint,
        arg_max(m.l1_code, m.in_date) as l1_code
    from breakpoints as b
    left join members as m
        on
            b.ts_code = m.ts_code
            and b.breakpoint >= m.in_date
            and (m.out_date is null or b.breakpoint < m.out_date)
    group by b.ts_code, b.breakpoint
),

-- Every breakpoint on or after a stock's first span start has a span.
timeline as (
    select
        t.ts_code,
        t.breakpoint,
        t.l1_code,
        s.span_start,
        s.span_start_index,
        lead(t.breakpoint) over (partition by t.ts_code order by t.breakpoint) as next_breakpoint
    from membership_timeline as t
    asof inner join span_starts as s
        on t.ts_code = s.ts_code and t.breakpoint >= s.span_start
),

with_state as (
    select
        n.*,
        t.span_start,
        n.trading_day_index - t.span_start_index as span_age_days,
        t.l1_code
    from new_rows as n
    inner join timeline as t
        on
            n.ts_code = t.ts_code
            and n.trade_date >= t.breakpoint
            and (t.next_breakpoint is null or n.trade_date < t.next_breakpoint)
)

select
    -- keys
    w.ts_code,
    w.trade_date,
    w.trading_day_index,
    -- listing span: its first day and its age in market trading days
    w.span_start,
    w.span_age_days,
    -- total market cap, CNY, and the regression weight sqrt(CNY)
    w.total_mv,
    sqrt(w.total_mv) as regression_weight,
    -- classification
    b.exchange,
    w.l1_code,
    i.factor_industry,
    -- estimation universe
    coalesce(
        w.total_mv > 0
        and w.span_age_days >= {{ var('barra_estu_min_age_days') | int }}
        and i.factor_industry is not null
        and b.exchange in ('SSE', 'SZSE'),
        false
    ) as in_estu
from with_state as w
left join {{ ref('industry_factor_map') }} as i
    on w.l1_code = i.l1_code
left join {{ ref('stg_tushare__stock_basic') }} as b
    on w.ts_code = b.ts_code
-- Date order: fct_barra_exposures reads one batch of dates at a time, and a table written in
-- stock order would make every batch scan every row group.
order by w.trade_date, w.ts_code
