-- Listing spans: the stretches a stock was listed and trading. A span breaks when the stock has
-- no row for more than var('span_break_trading_days') trading days (a listing suspension and a
-- relisting); a shorter gap is a trading halt inside the span, whose days consumers see as
-- missing values. Qlib's instruments file writes one line per span.
with returns as (
    select
        ts_code,
        trade_date,
        gap_trading_days
    from {{ ref('int_returns__daily') }}
),

span_starts as (
    select
        ts_code,
        trade_date as span_start,
        lead(trade_date) over (partition by ts_code order by trade_date) as next_span_start
    from returns
    where
        gap_trading_days is null
        or gap_trading_days > {{ var('span_break_trading_days') | int }}
)

select
    s.ts_code,
    cast(row_number() over (partition by s.ts_code order by s.span_start) as integer) as span_number,
    s.span_start,
    max(r.trade_date) as span_end,
    count(*) as n_trading_days
from span_starts as s
inner join returns as r
    on
        s.ts_code = r.ts_code
        and s.span_start <= r.trade_date
        and (s.next_span_start is null or s.next_span_start > r.trade_date)
group by s.ts_code, s.span_start
