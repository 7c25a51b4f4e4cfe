-- One row per security ever listed (delisted and suspended names included, so history has no
-- survivorship bias), with its listing dates and what it actually traded up to the as-of date.
with securities as (
    select * from {{ ref('stg_tushare__stock_basic') }}
),

traded as (
    select
        ts_code,
        min(trade_date) as first_trade_date,
        max(trade_date) as last_trade_date,
        count(*) as n_trading_days
    from {{ ref('int_prices__daily') }}
    group by ts_code
),

spans as (
    select
        ts_code,
        count(*) as n_listing_spans
    from {{ ref('dim_security_listing_spans') }}
    group by ts_code
)

select
    s.ts_code,
    s.symbol,
    s.name,
    s.market,
    s.exchange,
    s.list_status,
    s.list_date,
    s.delist_date,
    t.first_trade_date,
    t.last_trade_date,
    coalesce(t.n_trading_days, 0) as n_trading_days,
    coalesce(p.n_listing_spans, 0) as n_listing_spans,
    -- Daily price limit of the board (ST names aside): 10% main boards, 20% ChiNext and STAR,
    -- 30% Beijing.
    case
        when s.exchange = 'BSE' then 0.30
        when s.market in ('创业板', '科创板') then 0.20
        else 0.10
    end as price_limit
from securities as s
left join traded as t on s.ts_code = t.ts_code
left join spans as p on s.ts_code = p.ts_code
where {{ within_end_date('s.list_date') }}
