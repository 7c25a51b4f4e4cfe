{{ config(materialized='view') }}

-- The raw CNE5 descriptors with the universe they are standardized over: one row per stock and
-- day it traded (definitions: int_barra__descriptors and docs/cne5-choices.md).

-- every descriptor column of int_barra__descriptors, then the universe's
select
    d.*,  -- noqa: AM04
    u.factor_industry as industry,
    u.in_estu,
    u.regression_weight,
    u.total_mv
from {{ ref('int_barra__descriptors') }} as d
inner join {{ ref('int_barra__universe') }} as u
    on d.ts_code = u.ts_code and d.trade_date = u.trade_date
