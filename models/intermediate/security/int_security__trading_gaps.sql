-- One row per stock and trading day that ends a gap: the stock had no bar on one or more
-- trading days before it. Tushare publishes adj_factor for every listed stock on every trading
-- day, halted or not; a gap without a single adj_factor row means the listing itself was
-- suspended, and the stock relists here. A gap longer than var('span_break_trading_days') breaks
-- the listing span too, for vendors that do not publish factors through halts.

with gaps as (
    select
        ts_code,
        trade_date,
        prev_trade_date,
        gap_trading_days,
        stock_row_number
    from {{ ref('int_returns__daily') }}
    where
        gap_trading_days > 1
        and {{ after_watermark('trade_date') }}
),

factors_in_gap as (
    select
        g.ts_code,
        g.trade_date,
        count(a.trade_date) as n_adj_factor_rows
    from gaps as g
    left join {{ ref('stg_tushare__adj_factor') }} as a
        on
            g.ts_code = a.ts_code
            and g.prev_trade_date < a.trade_date
            and g.trade_date > a.trade_date
    group by g.ts_code, g.trade_date
)

select
    g.ts_code,
    g.trade_date,
    g.prev_trade_date,
    g.gap_trading_days,
    g.stock_row_number,
    f.n_adj_factor_rows as adj_factor_rows_in_gap,
    (
        f.n_adj_factor_rows = 0
        or g.gap_trading_days > {{ var('span_break_trading_days') | int }}
    ) as breaks_listing_span
from gaps as g
inner join factors_in_gap as f
    on g.ts_code = f.ts_code and g.trade_date = f.trade_date
