-- One row per stock and trading day that ends a gap: the stock had no bar on one or more
-- trading days before it. Tushare publishes adj_factor for every listed stock on every trading
-- day, halted or not; a gap without a single adj_factor row means the listing itself was
-- suspended, and the stock relists here. A gap longer than var('span_break_trading_days') breaks
-- the listing span too, for vendors that do not publish factors through halts.

-- The gaps come from the prices and the calendar, not from int_returns__daily (which has the same
-- gap_trading_days): so this model, and the listing spans and security dimension after it, build
-- beside the returns instead of after them (the foundation's daily chain is one model shorter).
with new_rows as (
    select
        ts_code,
        trade_date,
        prev_trade_date,
        trading_day_index,
        stock_row_number
    from {{ ref('int_prices__daily') }}
    where {{ after_watermark('trade_date') }}
),

-- materialized: the gaps (60,946 of 24.6 M price rows on the bench market) are computed once for
-- their two uses; inline, the full build scanned and joined the prices twice (1.6 s -> 2.9 s).
gaps as materialized (
    select
        n.ts_code,
        n.trade_date,
        n.prev_trade_date,
        n.trading_day_index - c.trading_day_index as gap_trading_days,
        n.stock_row_number,
        c.trading_day_index as prev_trading_day_index,
        n.trading_day_index
    from new_rows as n
    inner join {{ ref('dim_trading_calendar') }} as c on n.prev_trade_date = c.trade_date
    where n.trading_day_index - c.trading_day_index > 1
),

{#- An incremental run reads adj_factor from the oldest previous day of its new rows on: the
    filter is on the vendor's YYYYMMDD key, so Parquet statistics skip the older files. -#}
{%- set floor = previous_row_floor_date() if is_incremental() else 'null' %}
adj_factors as (
    select
        ts_code,
        trade_date
    from {{ ref('stg_tushare__adj_factor') }}
    {%- if floor != 'null' %}
        where vendor_trade_date > strftime({{ floor }}, '%Y%m%d')
    {%- endif %}
),

-- The trading days inside each gap (187,727 on the bench market, against 24.7 M adj_factor rows), so
-- that adj_factor is matched on (stock, day) equality: a range join compared every gap with every
-- factor row of its stock (full build 5.8 s -> 1.6 s, the same rows).
days_in_gap as (
    select
        g.ts_code,
        g.trade_date,
        c.trade_date as day_in_gap
    from (
        select
            ts_code,
            trade_date,
            unnest(range(prev_trading_day_index + 1, trading_day_index)) as day_index
        from gaps
    ) as g
    inner join {{ ref('dim_trading_calendar') }} as c on g.day_index = c.trading_day_index
),

factors_in_gap as (
    select
        d.ts_code,
        d.trade_date,
        count(a.trade_date) as n_adj_factor_rows
    from days_in_gap as d
    left join adj_factors as a
        on d.ts_code = a.ts_code and d.day_in_gap = a.trade_date
    group by d.ts_code, d.trade_date
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
