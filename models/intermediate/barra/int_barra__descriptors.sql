-- The raw CNE5 descriptors per stock and day it traded (docs/cne5-choices.md), null where the
-- inputs do not allow one. Ratios to market cap use total market cap at the close of D.

{% set min_obs = var('barra_min_observations') | int %}
{% set month = var('barra_month_days') | int %}
{% set months = var('barra_cmra_months') | int %}
{% set rstr_t = var('barra_rstr_window') | int %}
{% set rstr_lambda = ew_lambda(var('barra_rstr_half_life')) %}

with universe as (
    select * from {{ ref('int_barra__universe') }}
    where {{ after_watermark('trade_date') }}
),

joined as (
    select
        u.ts_code,
        u.trade_date,
        u.span_age_days,
        u.total_mv,
        w.* exclude (ts_code, trade_date, trading_day_index),  -- noqa: RF02
        f.* exclude (ts_code, trade_date),  -- noqa: RF02
        f.parent_equity - coalesce(f.preferred_equity, 0) as book_equity,
        coalesce(f.preferred_equity, 0) as preferred,
        coalesce(f.non_current_liabilities, 0) as long_term_debt
    from universe as u
    inner join {{ ref('int_barra__return_windows') }} as w
        on u.ts_code = w.ts_code and u.trade_date = w.trade_date
    inner join {{ ref('int_barra__fundamentals') }} as f
        on u.ts_code = f.ts_code and u.trade_date = f.trade_date
),

moments as (
    select
        *,
        beta_sx / beta_sw as mean_x,
        beta_sy / beta_sw as mean_y,
        beta_sxy / beta_sw - (beta_sx / beta_sw) * (beta_sy / beta_sw) as cov_xy,
        beta_sxx / beta_sw - (beta_sx / beta_sw) * (beta_sx / beta_sw) as var_x,
        beta_syy / beta_sw - (beta_sy / beta_sw) * (beta_sy / beta_sw) as var_y
    from joined
    where true
),

with_beta as (
    select
        *,
        case when beta_observations >= {{ min_obs }} and var_x > 0 then cov_xy / var_x end as beta
    from moments
),

-- CMRA's cumulative returns, each floored at -0.99 so that ln(1 + Z) exists.
cmra_range as (
    select
        *,
        greatest(
            {%- for tau in range(1, months + 1) %}
                cumulative_log_return_{{ tau }}m{{ "," if not loop.last }}
            {%- endfor %}
        ) as cumulative_max,
        least(
            {%- for tau in range(1, months + 1) %}
                cumulative_log_return_{{ tau }}m{{ "," if not loop.last }}
            {%- endfor %}
        ) as cumulative_min
    from with_beta
)

select
    -- keys
    ts_code,
    trade_date,
    -- size
    case when total_mv > 0 then ln(total_mv) end as lncap,
    -- beta and residual volatility
    beta,
    case when beta is not null then sqrt(greatest(var_y - beta * cov_xy, 0)) end as hsigma,
    case
        when dastd_observations >= {{ min_obs }}
            then sqrt(greatest(dastd_syy / dastd_sw - (dastd_sy / dastd_sw) * (dastd_sy / dastd_sw), 0))
    end as dastd,
    case
        when span_age_days >= {{ month * months }}
            then ln(1 + greatest(cumulative_max, -0.99)) - ln(1 + greatest(cumulative_min, -0.99))
    end as cmra,
    -- momentum: normalized by the full window's weight sum (a constant)
    case
        when rstr_observations >= {{ min_obs }}
            then rstr_sum * (1 - {{ rstr_lambda }}) / (1 - pow({{ rstr_lambda }}, {{ rstr_t }}))
    end as rstr,
    -- liquidity
    case when span_age_days >= {{ month }} and turnover_1m > 0 then ln(turnover_1m) end as stom,
    case when span_age_days >= {{ 3 * month }} and turnover_3m > 0 then ln(turnover_3m / 3) end as stoq,
    case when span_age_days >= {{ 12 * month }} and turnover_12m > 0 then ln(turnover_12m / 12) end as stoa,
    -- earnings yield and value
    case when total_mv > 0 then ttm_net_income / total_mv end as etop,
    case when total_mv > 0 then ttm_operating_cash_flow / total_mv end as cetop,
    case when total_mv > 0 then book_equity / total_mv end as btop,
    -- growth
    earnings_growth as egro,
    sales_growth as sgro,
    -- leverage
    case
        when total_mv > 0 and balance_sheet_known_date is not null
            then (total_mv + preferred + long_term_debt) / total_mv
    end as mlev,
    case when total_assets > 0 then (long_term_debt + current_liabilities) / total_assets end as dtoa,
    case when book_equity > 0 then (book_equity + preferred + long_term_debt) / book_equity end as blev
from cmra_range
-- Date order: fct_barra_exposures reads one batch of dates at a time (see int_barra__universe).
order by trade_date, ts_code
