{#- Point-in-time statements (docs/cne5-choices.md): a version is known on known_date and usable
    on the trading days after it. -#}

{#- One row per version of a consolidated statement: (ts_code, end_date, known_date) with the
    columns asked for; on a tie, the version flagged latest (update_flag 1). -#}
{% macro pit_versions(relation, columns) -%}
    select
        ts_code,
        end_date,
        known_date,
        {{ columns | join(', ') }}
    from {{ relation }}
    where report_type = '1' and known_date is not null and end_date is not null
    qualify row_number() over (
        partition by ts_code, end_date, known_date
        order by is_latest_version desc, source_file desc
    ) = 1
{%- endmacro %}

{#- Per stock and known_date on which some version became known: the newest period and the
    newest fiscal year (end_date on 12-31) known by then. With `built_through` (a date literal, the
    newest trading day already built), only the events a later trading day can still use: per
    stock, its newest event known by then and every later one (a day uses the newest event known
    before it). The versions are all read either way: an event's values look back five years. -#}
{% macro pit_events(versions, built_through='null') -%}
    select
        ts_code,
        known_date,
        max(current_period) as current_period,
        max(newest_fiscal_year) as newest_fiscal_year
    from (
        select
            ts_code,
            known_date,
            max(end_date) over known_by as current_period,
            max(case when month(end_date) = 12 then end_date end) over known_by as newest_fiscal_year
        from {{ versions }}
        window known_by as (
            partition by ts_code order by known_date range between unbounded preceding and current row
        )
    )
    group by ts_code, known_date
    {%- if built_through != 'null' %}
        qualify known_date >= coalesce(
            max(known_date) filter (where known_date <= {{ built_through }}) over (partition by ts_code),
            known_date
        )
    {%- endif %}
{%- endmacro %}

{#- The value of each (event, role, period) query as known on the event's known_date: the
    period's newest version known by then (an ASOF join on known_date). `queries` has ts_code,
    known_date, role, period. -#}
{% macro pit_lookup(queries, versions, columns) -%}
    select
        q.ts_code,
        q.known_date,
        q.role,
        q.period,
        {%- for column in columns %}
            v.{{ column }}{{ "," if not loop.last }}
        {%- endfor %}
    from {{ queries }} as q
    asof left join {{ versions }} as v
        on q.ts_code = v.ts_code and q.period = v.end_date and q.known_date >= v.known_date
{%- endmacro %}

{#- The periods a TTM needs, as (role, period) structs for an unnest: the current period, the
    last fiscal year before it, and the prior year's same year-to-date. -#}
{% macro ttm_periods(current_period) -%}
    {'role': 'current', 'period': {{ current_period }}},
    {'role': 'last_fiscal_year', 'period': make_date(year({{ current_period }}) - 1, 12, 31)},
    {'role': 'prior_year_to_date', 'period': {{ current_period }} - interval 1 year}
{%- endmacro %}

{#- Trailing twelve months of a cumulative year-to-date flow: the period itself at a fiscal year
    end, else last fiscal year + this year-to-date - the prior year's same year-to-date; the
    year-to-date annualized when one of those is missing. -#}
{% macro ttm(current, last_fiscal_year, prior_year_to_date, current_period) -%}
    case
        when {{ current }} is null then null
        when month({{ current_period }}) = 12 then {{ current }}
        when {{ last_fiscal_year }} is null or {{ prior_year_to_date }} is null
            then {{ current }} * 4.0 / (month({{ current_period }}) / 3.0)
        else {{ last_fiscal_year }} + {{ current }} - {{ prior_year_to_date }}
    end
{%- endmacro %}

{#- Growth of a series over fiscal years: the OLS slope of the values present on the fiscal year,
    over their mean absolute value; null with fewer than 3 values or a zero mean. Computed from
    exact integer sums (values at a resolution of 2^-20 CNY, years as offsets from `base_year`),
    so that the result does not depend on the order in which the aggregate sees the rows:
        slope / mean|y| = (n Sxy - Sx Sy) / (n Sxx - Sx^2) / (S|y| / n). -#}
{% macro growth_ratio(value, period, base_year, condition) -%}
    {%- set x = '(year(' ~ period ~ ') - ' ~ base_year ~ ')' -%}
    {%- set y = 'cast(' ~ value ~ ' * 1048576.0 as hugeint)' -%}
    {%- set present = '(' ~ condition ~ ') and ' ~ value ~ ' is not null' -%}
    case
        when count(*) filter (where {{ present }}) >= 3
            and sum(abs({{ y }})) filter (where {{ present }}) > 0
            then cast(
                count(*) filter (where {{ present }}) * sum({{ x }} * {{ y }}) filter (where {{ present }})
                - sum({{ x }}) filter (where {{ present }}) * sum({{ y }}) filter (where {{ present }})
                as double
            )
            / cast(
                count(*) filter (where {{ present }}) * sum({{ x }} * {{ x }}) filter (where {{ present }})
                - sum({{ x }}) filter (where {{ present }}) * sum({{ x }}) filter (where {{ present }})
                as double
            )
            / (cast(sum(abs({{ y }})) filter (where {{ present }}) as double)
            / count(*) filter (where {{ present }}))
    end
{%- endmacro %}
