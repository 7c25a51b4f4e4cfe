-- Tushare's pre_close is the previous close carried through the day's ex-rights adjustment:
-- pre_close = prev_close x prev_adj_factor / adj_factor (to the cent). A row that breaks this
-- has a wrong adj_factor or a wrong price (the vendor errors of tushare issues 1165/1166), and
-- the return through it is not explained by adj_factor.
-- It reads int_returns__daily too, so it runs after the returns and their own rules: a damaged
-- price is reported both here (the day after) and by the return rule (the day itself).
with prices as (
    select
        ts_code,
        trade_date,
        close,
        pre_close,
        adj_factor
    from {{ ref('int_prices__daily') }}
),

returns as (
    select
        ts_code,
        trade_date,
        prev_trade_date
    from {{ ref('int_returns__daily') }}
    where prev_trade_date is not null
)

select
    r.ts_code,
    r.trade_date,
    r.prev_trade_date,
    cur.pre_close,
    prev.close * prev.adj_factor / cur.adj_factor as implied_pre_close
from returns as r
inner join prices as cur
    on r.ts_code = cur.ts_code and r.trade_date = cur.trade_date
inner join prices as prev
    on r.ts_code = prev.ts_code and r.prev_trade_date = prev.trade_date
where abs(cur.pre_close - prev.close * prev.adj_factor / cur.adj_factor) > 0.0101 + 0.001 * cur.pre_close
