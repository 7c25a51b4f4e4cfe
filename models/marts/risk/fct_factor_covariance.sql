-- The factor covariance forecast made at the close of each date: the eigen-adjusted EWMA/Newey-West
-- covariance scaled by the square of the volatility regime multiplier of the date (spec §7.4,
-- F_VRA = lambda^2 F_eigen). Dates before the multiplier exists have no rows. DAILY covariances
-- of daily factor returns (annualize with x 252; the risk JSON states its units).

with regime as (
    select
        trade_date,
        vra_multiplier
    from {{ ref('int_risk__factor_regime') }}
    where vra_multiplier is not null and {{ after_watermark('trade_date') }}
)

select
    e.trade_date,
    e.factor_1,
    e.factor_2,
    e.eigen_covariance * (r.vra_multiplier * r.vra_multiplier) as value
from {{ ref('int_risk__factor_covariance_eigen') }} as e
inner join regime as r
    on e.trade_date = r.trade_date
