-- Time-series statistics of the price descriptors per stock and day it traded, over windows of
-- market trading days (docs/cne5-choices.md; macros/exponential_weights.sql):
--   BETA/HSIGMA: exponentially weighted moments of the one-day excess return e and the market's
--     (window var('barra_beta_window'), half-life var('barra_beta_half_life')), over the days with both;
--   DASTD: weighted moments of e (var('barra_dastd_window'), var('barra_dastd_half_life'));
--   RSTR: weighted sum of excess log returns l over the window var('barra_rstr_window') ending
--     var('barra_rstr_lag') days back, decay measured from the lag (var('barra_rstr_half_life'));
--   CMRA: sums of l over the last 1..var('barra_cmra_months') months of var('barra_month_days') days;
--   STOM/STOQ/STOA: turnover sums over 1, 3 and 12 months.
-- Weighted sums are unnormalized here; int_barra__descriptors turns them into descriptors.
-- An incremental run reads the days its longest window reaches back.

{% set beta_t = var('barra_beta_window') | int %}
{% set beta_h = var('barra_beta_half_life') %}
{% set dastd_t = var('barra_dastd_window') | int %}
{% set dastd_h = var('barra_dastd_half_life') %}
{% set rstr_t = var('barra_rstr_window') | int %}
{% set rstr_l = var('barra_rstr_lag') | int %}
{% set rstr_h = var('barra_rstr_half_life') %}
{% set month = var('barra_month_days') | int %}
{% set months = var('barra_cmra_months') | int %}
{% set reach = [beta_t, dastd_t, rstr_t + rstr_l, month * months] | max %}
{% set newest_built = watermark_index_literal() %}

with returns as (
    select
        ts_code,
        trade_date,
        trading_day_index,
        gap_trading_days,
        excess_return,
        excess_log_return
    from {{ ref('int_returns__daily') }}
    {% if newest_built != 'null' %}
        where trading_day_index > {{ newest_built }} - {{ reach }}
    {% endif %}
),

turnover as (
    select
        ts_code,
        trade_date,
        turnover
    from {{ ref('int_prices__adjusted') }}
    {% if newest_built != 'null' %}
        where trading_day_index > {{ newest_built }} - {{ reach }}
    {% endif %}
),

inputs as (
    select
        r.ts_code,
        r.trade_date,
        r.trading_day_index,
        r.trading_day_index > {{ newest_built if newest_built != 'null' else -1 }} as is_new,
        case when r.gap_trading_days = 1 then r.excess_return end as e,
        r.excess_log_return as l,
        case when r.gap_trading_days = 1 then m.market_excess_return end as m,
        t.turnover
    from returns as r
    left join {{ ref('int_barra__market_return') }} as m
        on r.trade_date = m.trade_date
    left join turnover as t
        on r.ts_code = t.ts_code and r.trade_date = t.trade_date
),

pairs as (
    select
        *,
        case when e is not null and m is not null then 1.0 end as pair,
        case when e is not null and m is not null then e end as pair_e,
        case when e is not null and m is not null then m end as pair_m,
        case when e is not null then 1.0 end as present
    from inputs
),

windows as (
    select
    -- keys
    ts_code,
    trade_date,
    trading_day_index,
    -- BETA / HSIGMA: weighted moments over the days with both returns (weights unnormalized)
    {{ day_window_count('pair', beta_t) }} as beta_observations,
    {{ ew_sum('pair', beta_h, beta_t) }} as beta_sw,
    {{ ew_sum('pair_m', beta_h, beta_t) }} as beta_sx,
    {{ ew_sum('pair_e', beta_h, beta_t) }} as beta_sy,
    {{ ew_sum('pair_m * pair_m', beta_h, beta_t) }} as beta_sxx,
    {{ ew_sum('pair_m * pair_e', beta_h, beta_t) }} as beta_sxy,
    {{ ew_sum('pair_e * pair_e', beta_h, beta_t) }} as beta_syy,
    -- DASTD: weighted moments of e
    {{ day_window_count('e', dastd_t) }} as dastd_observations,
    {{ ew_sum('present', dastd_h, dastd_t) }} as dastd_sw,
    {{ ew_sum('e', dastd_h, dastd_t) }} as dastd_sy,
    {{ ew_sum('e * e', dastd_h, dastd_t) }} as dastd_syy,
    -- RSTR: weighted sum of excess log returns, lagged
    {{ day_window_count('l', rstr_t, rstr_l) }} as rstr_observations,
    {{ ew_sum('l', rstr_h, rstr_t, rstr_l) }} as rstr_sum,
    -- CMRA: cumulative excess log returns over the last 1..12 months
    {%- for tau in range(1, months + 1) %}
        {{ day_window_sum('l', month * tau, 0, 50, 'bigint') }} as cumulative_log_return_{{ tau }}m,
    {%- endfor %}
    -- turnover (volume / float shares) summed over 1, 3 and 12 months
    {{ day_window_sum('turnover', month) }} as turnover_1m,
    {{ day_window_sum('turnover', 3 * month) }} as turnover_3m,
    {{ day_window_sum('turnover', 12 * month) }} as turnover_12m,
    is_new
    from pairs
)

select * exclude (is_new)
from windows
where is_new
