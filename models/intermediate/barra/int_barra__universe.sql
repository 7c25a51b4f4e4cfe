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

with_span as (
    select
        n.*,
        s.span_start,
        n.trading_day_index - s.span_start_index as span_age_days
    from new_rows as n
    asof inner join span_starts as s
        on n.ts_code = s.ts_code and n.trade_date >= s.span_start
),

-- Shenwan level-1 membership on D: in_date <= D < out_date; overlapping spells resolve to the
-- newest in_date.
memberships as (
    select
        w.ts_code,
        w.trade_date,
        arg_max(m.l1_code, m.in_date) as l1_code
    from with_span as w
    inner join {{ ref('stg_tushare__index_member_all') }} as m
        on
            w.ts_code = m.ts_code
            and w.trade_date >= m.in_date
            and (m.out_date is null or w.trade_date < m.out_date)
    group by w.ts_code, w.trade_date
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
    m.l1_code,
    i.factor_industry,
    -- estimation universe
    coalesce(
        w.total_mv > 0
        and w.span_age_days >= {{ var('barra_estu_min_age_days') | int }}
        and i.factor_industry is not null
        and b.exchange in ('SSE', 'SZSE'),
        false
    ) as in_estu
from with_span as w
left join memberships as m
    on w.ts_code = m.ts_code and w.trade_date = m.trade_date
left join {{ ref('industry_factor_map') }} as i
    on m.l1_code = i.l1_code
left join {{ ref('stg_tushare__stock_basic') }} as b
    on w.ts_code = b.ts_code
-- Date order: fct_barra_exposures reads one batch of dates at a time, and a table written in
-- stock order would make every batch scan every row group.
order by w.trade_date, w.ts_code
