-- Listing spans: the stretches a stock was listed and trading. A span starts on the stock's first
-- bar and after every gap that breaks the listing (int_security__trading_gaps); a shorter halt
-- stays inside its span, and consumers see its days as missing values. Qlib's instruments file
-- writes one line per span.
with breaks as (
    select
        ts_code,
        trade_date,
        prev_trade_date,
        stock_row_number
    from {{ ref('int_security__trading_gaps') }}
    where breaks_listing_span
),

stocks as (
    select
        ts_code,
        min(trade_date) as first_trade_date,
        max(trade_date) as last_trade_date,
        max(stock_row_number) as n_rows
    from {{ ref('int_prices__daily') }}
    group by ts_code
),

starts as (
    select
        ts_code,
        first_trade_date as span_start,
        1 as start_row
    from stocks
    union all
    select
        ts_code,
        trade_date as span_start,
        stock_row_number as start_row
    from breaks
),

bounded as (
    select
        ts_code,
        span_start,
        start_row,
        lead(span_start) over by_stock as next_span_start,
        lead(start_row) over by_stock as next_start_row
    from starts
    window by_stock as (partition by ts_code order by span_start)
)

select
    b.ts_code,
    b.span_start,
    cast(row_number() over (partition by b.ts_code order by b.span_start) as integer) as span_number,
    coalesce(g.prev_trade_date, s.last_trade_date) as span_end,
    coalesce(b.next_start_row, s.n_rows + 1) - b.start_row as n_trading_days
from bounded as b
inner join stocks as s on b.ts_code = s.ts_code
left join breaks as g on b.ts_code = g.ts_code and b.next_span_start = g.trade_date
