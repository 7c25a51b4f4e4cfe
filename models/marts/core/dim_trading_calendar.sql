-- Trading days of the A-share calendar of record (SSE) up to the build's as-of date, with a
-- dense index: windows over "n trading days" and gaps between rows are index differences.
with open_days as (
    select cal_date as trade_date
    from {{ ref('stg_tushare__trade_cal') }}
    where
        exchange = 'SSE'
        and is_open
        and {{ within_end_date('cal_date') }}
)

select
    trade_date,
    cast(row_number() over (order by trade_date) - 1 as integer) as trading_day_index,
    cast(extract(year from trade_date) as integer) as calendar_year,
    lag(trade_date) over (order by trade_date) as prev_trade_date
from open_days
