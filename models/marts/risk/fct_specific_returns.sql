-- The specific returns u = r - X f of every stock with a one-day excess return on D and exposures
-- at the close of D-1 (its previous trading day), from the factor returns of D: the regression's
-- residuals for its stocks, and the same decomposition for the stocks outside it. Null where an
-- exposure or the industry's factor return is missing. DAILY simple returns (fractions).

{% set styles = ['size', 'beta', 'momentum', 'volatility', 'non_linear_size', 'book_to_price',
    'liquidity', 'earnings_yield', 'growth', 'leverage'] %}

with factor_returns as (
    select
        trade_date,
        factor,
        factor_return
    from {{ ref('fct_factor_returns') }}
    where {{ after_watermark('trade_date') }}
),

dated as (
    select
        trade_date,
        {%- for s in styles %}
            max(factor_return) filter (where factor = '{{ s }}') as f_{{ s }},
        {%- endfor %}
        max(factor_return) filter (where factor = 'country') as f_country
    from factor_returns
    group by trade_date
),

returns as (
    select
        ts_code,
        trade_date,
        prev_trade_date,
        excess_return
    from {{ ref('int_returns__daily') }}
    where gap_trading_days = 1 and {{ after_watermark('trade_date') }}
)

select
    r.ts_code,
    r.trade_date,
    r.excess_return,
    x.in_estu as in_estu_previous_day,
    r.excess_return - d.f_country - i.factor_return
    {%- for s in styles %}
        - x.{{ s }} * d.f_{{ s }}
    {%- endfor %} as specific_return
from returns as r
inner join dated as d
    on r.trade_date = d.trade_date
inner join {{ ref('fct_barra_exposures') }} as x
    on r.ts_code = x.ts_code and r.prev_trade_date = x.trade_date
left join factor_returns as i
    on r.trade_date = i.trade_date and x.industry = i.factor
-- the exposures of the new dates' previous trading days only (an incremental day reads one date), and
-- rows written in date order, so the risk models' date-bounded reads skip the rest (zonemaps)
where {{ since_watermark('x.trade_date') }}
order by r.trade_date, r.ts_code
