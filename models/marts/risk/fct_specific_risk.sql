-- The published specific risk forecast made at the close of each date: the shrunk specific
-- volatility (Newey-West time series blended with the structural model, shrunk by size decile)
-- times the specific volatility regime multiplier of the date (spec §8.4, sigma = lambda_S x
-- sigma_SH). Dates before the multiplier exists have no rows. DAILY volatility of the daily
-- specific return, and the same annualized (x sqrt(252)).

with regime as (
    select
        trade_date,
        vra_multiplier
    from {{ ref('int_risk__specific_regime') }}
    where vra_multiplier is not null and {{ after_watermark('trade_date') }}
)

select
    v.ts_code,
    v.trade_date,
    v.shrunk_volatility * r.vra_multiplier as specific_risk,
    v.shrunk_volatility * r.vra_multiplier * sqrt(252.0) as specific_risk_annualized,
    r.vra_multiplier,
    v.gamma,
    v.observations
from {{ ref('int_risk__specific_volatility') }} as v
inner join regime as r
    on v.trade_date = r.trade_date
where v.shrunk_volatility is not null
