-- Tushare's pre_close is the previous close carried through the day's ex-rights adjustment:
-- pre_close = prev_close x prev_adj_factor / adj_factor (to the cent). A row that breaks this
-- has a wrong adj_factor or a wrong price (the vendor errors of tushare issues 1165/1166), and
-- every return through it would be wrong.
with prices as (
    select
        ts_code,
        trade_date,
        stock_row_number,
        close,
        pre_close,
        adj_factor
    from {{ ref('int_prices__adjusted') }}
)

select
    cur.ts_code,
    cur.trade_date,
    prev.trade_date as prev_trade_date,
    cur.pre_close,
    prev.close * prev.adj_factor / cur.adj_factor as implied_pre_close
from prices as cur
inner join prices as prev
    on cur.ts_code = prev.ts_code and cur.stock_row_number - 1 = prev.stock_row_number
where abs(cur.pre_close - prev.close * prev.adj_factor / cur.adj_factor) > 0.0101 + 0.001 * cur.pre_close
