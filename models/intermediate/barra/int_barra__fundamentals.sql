-- Point-in-time fundamentals per stock and day it traded (docs/cne5-choices.md): on D, each
-- statement's newest period known before D, every period at its newest version known before D.
-- Amounts in CNY. Each statement table has its own current period.
-- An incremental run computes only the events its new days can use (pit_events); the versions
-- they look up are read in full (a few rows per stock and quarter).

{% set built_through = watermark_literal() %}

with new_rows as (
    select
        ts_code,
        trade_date
    from {{ ref('int_prices__daily') }}
    where {{ after_watermark('trade_date') }}
),

income_versions as (
    {{ pit_versions(ref('stg_tushare__income'), ['net_income_parent', 'total_revenue']) }}
),

balance_versions as (
    {{ pit_versions(ref('stg_tushare__balancesheet'), [
        'parent_equity', 'preferred_equity', 'non_current_liabilities', 'current_liabilities', 'total_assets'
    ]) }}
),

cashflow_versions as (
    {{ pit_versions(ref('stg_tushare__cashflow'), ['operating_cash_flow']) }}
),

income_events as (
    {{ pit_events('income_versions', built_through) }}
),

balance_events as (
    {{ pit_events('balance_versions', built_through) }}
),

cashflow_events as (
    {{ pit_events('cashflow_versions', built_through) }}
),

-- The periods each event needs: the current one, the last fiscal year before it, the prior
-- year's same period (for TTM), and five fiscal years back from the newest (for growth).
income_queries as (
    select
        ts_code,
        known_date,
        -- the struct unnests into the columns role and period
        unnest([  -- noqa: AL03
            {{ ttm_periods('current_period') }},
            {%- for i in range(5) %}
                { 'role': 'fiscal_year_{{ i }}', 'period': make_date(year(newest_fiscal_year) - {{ i }}, 12, 31) }
                {{- "," if not loop.last }}
            {%- endfor %}
        ], recursive := true)
    from income_events
),

cashflow_queries as (
    select
        ts_code,
        known_date,
        -- the struct unnests into the columns role and period
        unnest([{{ ttm_periods('current_period') }}], recursive := true)  -- noqa: AL03
    from cashflow_events
),

income_values as (
    {{ pit_lookup('income_queries', 'income_versions', ['net_income_parent', 'total_revenue']) }}
),

cashflow_values as (
    {{ pit_lookup('cashflow_queries', 'cashflow_versions', ['operating_cash_flow']) }}
),

income_state as (
    select
        e.ts_code,
        e.known_date,
        {{ ttm(
            "max(v.net_income_parent) filter (where v.role = 'current')",
            "max(v.net_income_parent) filter (where v.role = 'last_fiscal_year')",
            "max(v.net_income_parent) filter (where v.role = 'prior_year_to_date')",
            'e.current_period'
        ) }} as ttm_net_income,
        {{ growth_ratio(
            'v.net_income_parent', 'v.period', 'year(e.newest_fiscal_year)', "v.role like 'fiscal_year_%'"
        ) }} as earnings_growth,
        {{ growth_ratio(
            'v.total_revenue', 'v.period', 'year(e.newest_fiscal_year)', "v.role like 'fiscal_year_%'"
        ) }} as sales_growth
    from income_events as e
    inner join income_values as v
        on e.ts_code = v.ts_code and e.known_date = v.known_date
    group by e.ts_code, e.known_date, e.current_period, e.newest_fiscal_year
),

cashflow_state as (
    select
        e.ts_code,
        e.known_date,
        {{ ttm(
            "max(v.operating_cash_flow) filter (where v.role = 'current')",
            "max(v.operating_cash_flow) filter (where v.role = 'last_fiscal_year')",
            "max(v.operating_cash_flow) filter (where v.role = 'prior_year_to_date')",
            'e.current_period'
        ) }} as ttm_operating_cash_flow
    from cashflow_events as e
    inner join cashflow_values as v
        on e.ts_code = v.ts_code and e.known_date = v.known_date
    group by e.ts_code, e.known_date, e.current_period
),

balance_state as (
    select
        e.ts_code,
        e.known_date,
        v.parent_equity,
        v.preferred_equity,
        v.non_current_liabilities,
        v.current_liabilities,
        v.total_assets
    from balance_events as e
    asof left join balance_versions as v
        on e.ts_code = v.ts_code and e.current_period = v.end_date and e.known_date >= v.known_date
),

-- One timeline of every date a statement changed, each with all three statements' states as
-- of that date: the trading days then need one as-of join, not three (each of 24.6 M rows).
timeline as (
    select
        ts_code,
        known_date
    from income_state
    union
    select
        ts_code,
        known_date
    from cashflow_state
    union
    select
        ts_code,
        known_date
    from balance_state
),

states as (
    select
        t.ts_code,
        t.known_date,
        i.ttm_net_income,
        c.ttm_operating_cash_flow,
        i.earnings_growth,
        i.sales_growth,
        b.known_date as balance_sheet_known_date,
        b.parent_equity,
        b.preferred_equity,
        b.non_current_liabilities,
        b.current_liabilities,
        b.total_assets
    from timeline as t
    asof left join income_state as i
        on t.ts_code = i.ts_code and t.known_date >= i.known_date
    asof left join cashflow_state as c
        on t.ts_code = c.ts_code and t.known_date >= c.known_date
    asof left join balance_state as b
        on t.ts_code = b.ts_code and t.known_date >= b.known_date
)

select
    -- keys
    n.ts_code,
    n.trade_date,
    -- flows, CNY: trailing twelve months
    s.ttm_net_income,
    s.ttm_operating_cash_flow,
    -- growth: OLS slope over fiscal years / mean absolute value, 1 / year
    s.earnings_growth,
    s.sales_growth,
    -- balance sheet of the current period, CNY (known_date null: no balance sheet yet)
    s.balance_sheet_known_date,
    s.parent_equity,
    s.preferred_equity,
    s.non_current_liabilities,
    s.current_liabilities,
    s.total_assets
from new_rows as n
asof left join states as s
    on n.ts_code = s.ts_code and n.trade_date > s.known_date
