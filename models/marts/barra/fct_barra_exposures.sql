-- The ten CNE5 style exposures per stock and day it traded, with the industry, the estimation
-- universe flag and the regression weight (docs/cne5-choices.md, steps 1 to 7, each a set of
-- per-date CTEs from macros/cross_section.sql). Each date depends on that date's rows only.
-- Layout rules are off for this file: most of its SQL is emitted by those macros.
-- noqa: disable=LT02,LT05
-- Built batch of dates by batch of dates (macros/materializations/date_batched.sql): a one-pass
-- full build over the whole history would hold every step of every date at once.
{{ config(materialized='date_batched', batch_dates='int_barra__universe', batch_trading_days=250) }}

{% set descriptors = [
    'lncap', 'beta', 'hsigma', 'rstr', 'dastd', 'cmra', 'stom', 'stoq', 'stoa',
    'etop', 'cetop', 'btop', 'mlev', 'dtoa', 'blev', 'egro', 'sgro'
] %}
{#- Styles built from one descriptor, and the composites with the CNE5 weights of the descriptors
    Tushare's basic tables allow (rescaled over those present, row by row). -#}
{% set single = {'beta': 'beta', 'momentum': 'rstr', 'book_to_price': 'btop'} %}
{% set composites = {
    'volatility': {'dastd': 0.74, 'cmra': 0.16, 'hsigma': 0.10},
    'liquidity': {'stom': 0.35, 'stoq': 0.35, 'stoa': 0.30},
    'earnings_yield': {'etop': 0.11, 'cetop': 0.21},
    'growth': {'egro': 0.24, 'sgro': 0.47},
    'leverage': {'mlev': 0.38, 'dtoa': 0.35, 'blev': 0.27}
} %}
{% set filled = ['beta', 'momentum', 'book_to_price'] + composites.keys() | list %}

with raw as (
    select
        d.*,
        u.in_estu,
        u.total_mv,
        u.regression_weight,
        u.factor_industry
    from {{ ref('int_barra__descriptors') }} as d
    inner join {{ ref('int_barra__universe') }} as u
        on d.ts_code = u.ts_code and d.trade_date = u.trade_date
    where {{ date_batch_filter('d.trade_date') }}
),

-- Steps 1 and 2, per descriptor: outliers out, then standardize, clip, standardize.
{{ cs_remove_outliers('raw', 'cleaned', descriptors) }},

{{ cs_standardize_clip_standardize('cleaned', 'descriptor_scores', descriptors, 3) }},

-- Step 3: the styles (Size is LNCAP's score, standardized again at step 6 with the others).
styles as (
    select
        ts_code,
        trade_date,
        in_estu,
        total_mv,
        regression_weight,
        factor_industry,
        lncap as size,
        {%- for style, d in single.items() %}
            {{ d }} as {{ style }},
        {%- endfor %}
        {%- for style, weights in composites.items() %}
            (
                {%- for d, w in weights.items() %}
                    coalesce({{ w }} * {{ d }}, 0){{ " +" if not loop.last }}
                {%- endfor %}
            ) / nullif(
                {%- for d, w in weights.items() %}
                    case when {{ d }} is not null then {{ w }} else 0 end{{ " +" if not loop.last }}
                {%- endfor %},
                0
            ) as {{ style }}{{ "," if not loop.last }}
        {%- endfor %}
    from descriptor_scores
),

-- Step 4: composites standardized, clipped and standardized again.
{{ cs_standardize_clip_standardize('styles', 'composite_scores', composites.keys() | list, 3) }},

-- Size's step 6 first: it is the regressor of every fill.
{{ cs_standardize('composite_scores', 'sized', ['size']) }},

-- Step 5: fill the missing values from industry and Size; step 6: standardize.
{{ cs_fill('sized', 'filled', filled, 'size') }},

{{ cs_standardize('filled', 'restandardized', filled) }},

-- Step 7: orthogonalize on the final Size and Beta, then standardize.
with_cube as (
    select
        *,
        size * size * size as non_linear_size
    from restandardized
),

{{ cs_orthogonalize('with_cube', 'volatility_residual', 'volatility', ['beta', 'size']) }},

{{ cs_orthogonalize('volatility_residual', 'liquidity_residual', 'liquidity', ['size']) }},

{{ cs_orthogonalize('liquidity_residual', 'non_linear_size_residual', 'non_linear_size', ['size']) }},

{{ cs_standardize('non_linear_size_residual', 'final', ['volatility', 'liquidity', 'non_linear_size']) }}

select
    -- keys
    ts_code,
    trade_date,
    -- the ten styles, standardized over the ESTU (cap-weighted mean 0, equal-weighted std 1)
    size,
    beta,
    momentum,
    volatility,
    non_linear_size,
    book_to_price,
    liquidity,
    earnings_yield,
    growth,
    leverage,
    -- industry, estimation universe, regression weight sqrt(CNY), total market cap CNY
    factor_industry as industry,
    in_estu,
    regression_weight,
    total_mv
from final
