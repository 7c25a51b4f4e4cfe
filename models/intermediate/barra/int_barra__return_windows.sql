-- depends_on: {{ ref('int_barra__fundamentals') }}, for scheduling only: the two full builds side
--     by side exceed the memory limit (profiles.yml) they share in one DuckDB process.
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
-- A full build takes every sum as a difference of exact running totals over a dense, sorted grid
-- of market days (streaming windows: one pass, no per-window segment trees). An incremental run
-- reads the days its longest window reaches back and sums each new row's windows directly, as
-- grouped sums of the same integer terms: integer sums are exact, so they equal the differences
-- of running totals bit for bit, and a grouped sum runs on every core where the streaming passes
-- run on one (20 s for a day of 5,000 stocks).

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
{#- The decays: (key, half-life, window = block). -#}
{% set decays = [('beta', beta_h, beta_t), ('dastd', dastd_h, dastd_t), ('rstr', rstr_h, rstr_t)] %}
{#- Exponentially weighted sums: (name, expression, decay). 2^-80 resolution on terms scaled by at
    most 2^(window / half-life) leaves 2^47 / 2^(window / half-life) for the grid's summed magnitude. -#}
{% set ew_bits = 80 %}
{% set weighted = [
    ('beta_sw', 'pair', 'beta'),
    ('beta_sx', 'pair_m', 'beta'),
    ('beta_sy', 'pair_e', 'beta'),
    ('beta_sxx', 'pair_m * pair_m', 'beta'),
    ('beta_sxy', 'pair_m * pair_e', 'beta'),
    ('beta_syy', 'pair_e * pair_e', 'beta'),
    ('dastd_sw', 'present', 'dastd'),
    ('dastd_sy', 'e', 'dastd'),
    ('dastd_syy', 'e * e', 'dastd'),
    ('rstr_unlagged', 'l', 'rstr'),
] %}
{#- Each decay's block, and the day its window ends on: the row's own day, RSTR's b = a - lag. -#}
{% set block_of = {} %}
{% set window_end_of = {} %}
{% for key, _, block in decays %}
    {% do block_of.update({key: block}) %}
    {% do window_end_of.update({key: 'rstr_end' if key == 'rstr' else 'trading_day_index'}) %}
{% endfor %}
{#- Plain sums: (name, expression, bits). Log returns at 2^-50, turnover at 2^-60. -#}
{% set log_return_bits, turnover_bits = 50, 60 %}
{% set plain = [('log_return', 'l', log_return_bits), ('turnover', 'turnover', turnover_bits)] %}
{#- Counts of non-null values: (name, expression, window). -#}
{% set counted = [('pair', 'pair', beta_t), ('present', 'e', dastd_t), ('log_return', 'l', rstr_t)] %}
{#- Each row's terms, on both paths: the integers every window sum adds up. -#}
{% set scale_columns -%}
    {%- for key, half_life, block in decays %}
        {{ block_scale(half_life, block) }} as scale_{{ key }}{{ "," if not loop.last }}
    {%- endfor %}
{%- endset %}
{% set term_columns -%}
    {%- for name, expression, key in weighted %}
        {{ exact_term(expression, ew_bits, 'scale_' ~ key) }} as term_{{ name }},
    {%- endfor %}
    {%- for name, expression, bits in plain %}
        {{ exact_term(expression, bits) }} as term_{{ name }},
    {%- endfor %}
    {%- for name, expression, _ in counted %}
        {{ expression }} as counted_{{ name }}{{ "," if not loop.last }}
    {%- endfor %}
{%- endset %}

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

{% if newest_built != 'null' %}

    -- The incremental path: each new row's window sums, grouped over the stock's rows in reach.
    row_terms as (
        select
            ts_code,
            trading_day_index,
            {{ term_columns }}
        from (
            select
                *,
                {{ scale_columns }}
            from pairs
        )
    ),

    -- A new row a and, for RSTR, the day b = a - lag its window ends on (a grid day, traded or not).
    new_days as (
        select
            ts_code,
            trade_date,
            trading_day_index,
            trading_day_index - {{ rstr_l }} as rstr_end
        from pairs
        where trading_day_index > {{ newest_built }}
    ),

    -- Integer window sums (null when the window holds no term: the totals' difference is then 0).
    window_integers as (
        select
            n.ts_code,
            n.trade_date,
            n.trading_day_index,
            n.rstr_end,
            {%- for name, _, key in weighted %}
                {%- set block = block_of[key] %}
                {%- set last = 'n.' ~ window_end_of[key] %}
                coalesce(sum(h.term_{{ name }}) filter (
                    where h.trading_day_index <= {{ last }} and h.trading_day_index > {{ last }} - {{ block }}
                ), 0) as whole_{{ name }},
                coalesce(sum(h.term_{{ name }}) filter (
                    where
                        h.trading_day_index <= {{ last }}
                        and h.trading_day_index >= {{ last }} - {{ block_offset(block, last) }}
                ), 0) as part_{{ name }},
            {%- endfor %}
            {%- for tau in range(1, months + 1) %}
                coalesce(sum(h.term_log_return) filter (
                    where h.trading_day_index > n.trading_day_index - {{ month * tau }}
                ), 0) as sum_{{ tau }}m_log_return,
            {%- endfor %}
            {%- for tau in [1, 3, 12] %}
                coalesce(sum(h.term_turnover) filter (
                    where h.trading_day_index > n.trading_day_index - {{ month * tau }}
                ), 0) as sum_{{ tau }}m_turnover,
            {%- endfor %}
            count(h.counted_pair) filter (
                where h.trading_day_index > n.trading_day_index - {{ beta_t }}
            ) as count_pair,
            count(h.counted_present) filter (
                where h.trading_day_index > n.trading_day_index - {{ dastd_t }}
            ) as count_present,
            count(h.counted_log_return) filter (
                where h.trading_day_index <= n.rstr_end and h.trading_day_index > n.rstr_end - {{ rstr_t }}
            ) as rstr_observations
        from new_days as n
        inner join row_terms as h
            on
                n.ts_code = h.ts_code
                and h.trading_day_index <= n.trading_day_index
                and h.trading_day_index > n.trading_day_index - {{ reach }}
        group by n.ts_code, n.trade_date, n.trading_day_index, n.rstr_end
    ),

{% else %}

-- Every market day of each stock's range read, and `reach` days before it (no terms there), so
-- that each lag of a real row stays within its stock.
stock_ranges as (
    select
        ts_code,
        min(trading_day_index) - {{ reach }} as first_index,
        max(trading_day_index) as last_index
    from returns
    group by ts_code
),

grid as (
    select
        ts_code,
        first_index,
        unnest(range(first_index, last_index + 1)) as trading_day_index
    from stock_ranges
),

gridded as (
    select
        g.ts_code,
        g.trading_day_index,
        g.first_index,
        p.* exclude (ts_code, trading_day_index),  -- noqa: RF02
        g.trading_day_index = g.first_index as is_stock_start
    from grid as g
    left join pairs as p
        on g.ts_code = p.ts_code and g.trading_day_index = p.trading_day_index
    -- Sorted here, before the terms are computed: the sort then moves a few doubles per row
    -- instead of thirteen 16-byte integers.
    order by g.ts_code, g.trading_day_index
),

terms as (
    select
        ts_code,
        trading_day_index,
        trade_date,
        is_stock_start,
        {{ term_columns }}
    from (
        select
            *,
            {{ scale_columns }}
        from gridded
    )
),

-- Pass 1 (streaming, in the grid's order): running totals.
totals as (
    select
        *,
        row_number() over () as grid_row,
        {%- for name, _, _ in weighted %}
            {{ running_total('term_' ~ name) }} as total_{{ name }},
        {%- endfor %}
        {%- for name, _, _ in plain %}
            {{ running_total('term_' ~ name) }} as total_{{ name }},
        {%- endfor %}
        {%- for name, _, _ in counted %}
            count(counted_{{ name }}) over (rows between unbounded preceding and current row) as total_count_{{ name }}
            {{- "," if not loop.last }}
        {%- endfor %}
    from terms
),

-- Pass 2 (streaming): the totals at block ends and some days back.
anchors as (
    select
        *,
        row_number() over () as anchor_row,
        lag(ts_code) over () as previous_ts_code,
        lag(trading_day_index) over () as previous_index,
        {%- for name, _, key in weighted %}
            {{ total_at_block_end('total_' ~ name, block_of[key]) }} as block_end_{{ name }},
            lag(total_{{ name }}, {{ block_of[key] }}) over () as back_{{ name }},
        {%- endfor %}
        {%- for tau in range(1, months + 1) %}
            lag(total_log_return, {{ month * tau }}) over () as back_{{ tau }}m_log_return,
        {%- endfor %}
        {%- for tau in [1, 3, 12] %}
            lag(total_turnover, {{ month * tau }}) over () as back_{{ tau }}m_turnover,
        {%- endfor %}
        {%- for name, _, window in counted %}
            lag(total_count_{{ name }}, {{ window }}) over () as back_count_{{ name }}
            {{- "," if not loop.last }}
        {%- endfor %}
    from totals
),

-- Integer window sums: differences of running totals (exact), the incremental path's columns.
window_integers as (
    select
        ts_code,
        trading_day_index,
        trade_date,
        {%- for name, _, key in weighted %}
            total_{{ name }} - back_{{ name }} as whole_{{ name }},
            total_{{ name }} - block_end_{{ name }} as part_{{ name }},
        {%- endfor %}
        {%- for name, _, _ in counted %}
            total_count_{{ name }} - back_count_{{ name }} as count_{{ name }},
        {%- endfor %}
        {%- for tau in range(1, months + 1) %}
            total_log_return - back_{{ tau }}m_log_return as sum_{{ tau }}m_log_return,
        {%- endfor %}
        {%- for tau in [1, 3, 12] %}
            total_turnover - back_{{ tau }}m_turnover as sum_{{ tau }}m_turnover{{ "," if not loop.last }}
        {%- endfor %}
    from anchors
    -- The running totals are only right if both passes saw the grid in its sorted order.
    where case
        when
            grid_row = anchor_row
            and (
                (ts_code = previous_ts_code and trading_day_index = previous_index + 1)
                or (is_stock_start and (previous_ts_code is null or ts_code > previous_ts_code))
            )
            then true
        else error('int_barra__return_windows: the grid reached the running totals out of order')
    end
),

-- Pass 3 (streaming): RSTR's window ends var('barra_rstr_lag') days back, on day b = a - lag.
window_integers_lagged as (
    select
        * exclude (whole_rstr_unlagged, part_rstr_unlagged, count_log_return),
        trading_day_index - {{ rstr_l }} as rstr_end,
        lag(whole_rstr_unlagged, {{ rstr_l }}) over () as whole_rstr_unlagged,
        lag(part_rstr_unlagged, {{ rstr_l }}) over () as part_rstr_unlagged,
        lag(count_log_return, {{ rstr_l }}) over () as rstr_observations
    from window_integers
),

{% endif %}

-- Both paths: the window sums as doubles, RSTR's at b.
statistics as (
    select
        ts_code,
        trade_date,
        cast(trading_day_index as bigint) as trading_day_index,  -- as the full path's grid
        count_pair,
        count_present,
        rstr_observations,
        {%- for name, _, key in weighted %}
            {{ ew_combine(
                'whole_' ~ name, 'part_' ~ name, block_of[key], ew_bits, 'near_' ~ key, 'far_' ~ key, window_end_of[key]
            ) }}
            as {{ 'rstr_sum' if name == 'rstr_unlagged' else name }},
        {%- endfor %}
        {%- for tau in range(1, months + 1) %}
            {{ exact_value('sum_' ~ tau ~ 'm_log_return', log_return_bits) }} as cumulative_log_return_{{ tau }}m,
        {%- endfor %}
        {%- for tau in [1, 3, 12] %}
            {{ exact_value('sum_' ~ tau ~ 'm_turnover', turnover_bits) }} as turnover_{{ tau }}m
            {{- "," if not loop.last }}
        {%- endfor %}
    from (
        select
            *,
            {%- for key, half_life, block in decays %}
                {{ ew_near(half_life, block, window_end_of[key]) }} as near_{{ key }},
                {{ ew_far(half_life, block, window_end_of[key]) }} as far_{{ key }}{{ "," if not loop.last }}
            {%- endfor %}
        from {{ 'window_integers' if newest_built != 'null' else 'window_integers_lagged' }}
    )
)

select
    -- keys
    ts_code,
    trade_date,
    trading_day_index,
    -- BETA / HSIGMA: weighted moments over the days with both returns (weights unnormalized)
    count_pair as beta_observations,
    beta_sw,
    beta_sx,
    beta_sy,
    beta_sxx,
    beta_sxy,
    beta_syy,
    -- DASTD: weighted moments of e
    count_present as dastd_observations,
    dastd_sw,
    dastd_sy,
    dastd_syy,
    -- RSTR: weighted sum of excess log returns, lagged
    rstr_observations,
    rstr_sum,
    -- CMRA: cumulative excess log returns over the last 1..12 months
    {%- for tau in range(1, months + 1) %}
        cumulative_log_return_{{ tau }}m,
    {%- endfor %}
    -- turnover (volume / float shares) summed over 1, 3 and 12 months
    turnover_1m,
    turnover_3m,
    turnover_12m
from statistics
where trade_date is not null
    {%- if newest_built != 'null' %}
        and trading_day_index > {{ newest_built }}
    {%- endif %}
