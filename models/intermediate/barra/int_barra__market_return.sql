-- The market return of the BETA and HSIGMA regressions: on day t, the mean of the one-day excess
-- returns of the stocks in the previous day's estimation universe, weighted by their total market
-- cap at the previous close (docs/cne5-choices.md). Exact sums: the same bits in every build.

with returns as (
    select
        ts_code,
        trade_date,
        trading_day_index,
        prev_trade_date,
        excess_return
    from {{ ref('int_returns__daily') }}
    where gap_trading_days = 1 and {{ after_watermark('trade_date') }}
)

select
    r.trade_date,
    r.trading_day_index,
    {{ exact_group_sum('u.total_mv * r.excess_return', 'true', 40) }}
    / {{ exact_group_sum('u.total_mv', 'true', 20) }} as market_excess_return,
    count(*) as n_stocks
from returns as r
inner join {{ ref('int_barra__universe') }} as u
    on r.ts_code = u.ts_code and r.prev_trade_date = u.trade_date
where u.in_estu
group by r.trade_date, r.trading_day_index
