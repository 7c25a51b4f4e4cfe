-- The cap-weighted market return per trading day: stocks weighted by total market value at the
-- previous close, over stocks that also traded the previous trading day (a return spanning a
-- suspension is not a one-day return, and a first day has none).

with returns as (
    select
        ts_code,
        trade_date,
        simple_return,
        prev_total_mv
    from {{ ref('int_returns__daily') }}
    where
        gap_trading_days = 1
        and prev_total_mv > 0
        and {{ after_watermark('trade_date') }}
),

-- Sums are exact (exact_group_sum: terms rounded to 2^-16 CNY and summed as integers): floating-
-- point addition is not associative, and a parallel double sum would make a full and an incremental
-- build differ in the last bits. The rounding is far below a double's precision of the result.
weighted as (
    select
        trade_date,
        count(*) as n_stocks,
        {{ exact_group_sum('prev_total_mv', 'true', 16) }} as total_weight_mv,
        {{ exact_group_sum('prev_total_mv * simple_return', 'true', 16) }} as weighted_return_sum
    from returns
    group by trade_date
)

select
    trade_date,
    n_stocks,
    total_weight_mv,
    weighted_return_sum / total_weight_mv as market_return,
    weighted_return_sum / total_weight_mv - {{ risk_free_return() }} as market_excess_return
from weighted
