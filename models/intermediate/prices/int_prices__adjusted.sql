{{
    config(
        materialized='incremental',
        incremental_strategy='delete+insert',
        unique_key=['trade_date'],
        on_schema_change='fail'
    )
}}

-- Raw and back-adjusted prices, volume and caps: one row per stock and day it traded.
-- Back-adjusted = raw x adj_factor (never forward-adjusted: that looks ahead).
-- stock_row_number counts the stock's own trading rows, so windows of n rows and the previous
-- row are exact joins, however long a suspension lasted.

with daily as (
    select *
    from {{ ref('stg_tushare__daily') }}
    where
        {{ within_end_date('trade_date') }}
        and {{ after_watermark('trade_date') }}
),

calendar as (
    select
        trade_date,
        trading_day_index
    from {{ ref('dim_trading_calendar') }}
),

adj as (
    select
        ts_code,
        trade_date,
        adj_factor
    from {{ ref('stg_tushare__adj_factor') }}
),

basic as (
    select
        ts_code,
        trade_date,
        total_shares,
        float_shares,
        total_mv,
        float_mv
    from {{ ref('stg_tushare__daily_basic') }}
),

{% if is_incremental() %}
    rows_before as (
        select ts_code, max(stock_row_number) as n_rows
        from {{ this }}
        group by ts_code
    ),
{% endif %}

joined as (
    select
        -- keys
        d.ts_code,
        d.trade_date,
        c.trading_day_index,
        {% if is_incremental() %}coalesce(p.n_rows, 0) + {% endif %}
        row_number() over (partition by d.ts_code order by d.trade_date) as stock_row_number,
        -- raw prices, CNY
        d.open,
        d.high,
        d.low,
        d.close,
        d.pre_close,
        d.amount / nullif(d.volume, 0) as vwap,
        -- adjustment
        a.adj_factor,
        d.open * a.adj_factor as adj_open,
        d.high * a.adj_factor as adj_high,
        d.low * a.adj_factor as adj_low,
        d.close * a.adj_factor as adj_close,
        d.amount / nullif(d.volume, 0) * a.adj_factor as adj_vwap,
        -- volume in shares, amount in CNY
        d.volume,
        d.amount,
        -- shares and caps at the close, shares and CNY
        b.total_shares,
        b.float_shares,
        b.total_mv,
        b.float_mv,
        d.volume / nullif(b.float_shares, 0) as turnover
    from daily as d
    inner join calendar as c on d.trade_date = c.trade_date
    left join adj as a on d.ts_code = a.ts_code and d.trade_date = a.trade_date
    left join basic as b on d.ts_code = b.ts_code and d.trade_date = b.trade_date
    {% if is_incremental() %}
        left join rows_before as p on d.ts_code = p.ts_code
    {% endif %}
)

select * from joined
