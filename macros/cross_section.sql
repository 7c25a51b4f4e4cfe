{#- Per-date cross-sectional steps of the CNE5 exposures (docs/cne5-choices.md, "From descriptors
    to styles"). Each macro emits CTEs over an input CTE with columns trade_date, in_estu,
    total_mv, regression_weight, factor_industry and the value columns; statistics are over the
    date's ESTU rows with a value and are applied to every row. Sums are exact_group_sum()s, so a
    date's exposures are the same bits whatever else the build holds (full or incremental). -#}

{#- Step 1: values further than multiple x 1.4826 x MAD from the ESTU median become null
    (skipped when the MAD is 0). -#}
{% macro cs_remove_outliers(input, output, columns, multiple=10.0) -%}
{{ output }}_median as (
    select
        trade_date,
        {%- for c in columns %}
            median(case when in_estu then {{ c }} end) as med_{{ c }}{{ "," if not loop.last }}
        {%- endfor %}
    from {{ input }}
    group by trade_date
),

{{ output }}_mad as (
    select
        i.trade_date,
        {%- for c in columns %}
            median(case when i.in_estu then abs(i.{{ c }} - m.med_{{ c }}) end) as mad_{{ c }}{{ "," if not loop.last }}
        {%- endfor %}
    from {{ input }} as i
    inner join {{ output }}_median as m on i.trade_date = m.trade_date
    group by i.trade_date
),

{{ output }} as (
    select
        i.* replace (
            {%- for c in columns %}
                case
                    when d.mad_{{ c }} > 0 and abs(i.{{ c }} - m.med_{{ c }}) > {{ multiple }} * 1.4826 * d.mad_{{ c }}
                        then null
                    else i.{{ c }}
                end as {{ c }}{{ "," if not loop.last }}
            {%- endfor %}
        )
    from {{ input }} as i
    inner join {{ output }}_median as m on i.trade_date = m.trade_date
    inner join {{ output }}_mad as d on i.trade_date = d.trade_date
)
{%- endmacro %}

{#- standardize(x) = (x - cap-weighted mean) / equal-weighted population std, optionally clipped
    to [-clip, clip]; null for the whole date when the ESTU has no value or a zero std. -#}
{% macro cs_standardize(input, output, columns, clip=none) -%}
{{ output }}_mean as (
    select
        trade_date,
        {%- for c in columns %}
            {{ exact_group_sum('total_mv * ' ~ c, 'in_estu and ' ~ c ~ ' is not null', 40) }}
            / {{ exact_group_sum('total_mv', 'in_estu and ' ~ c ~ ' is not null', 20) }} as cap_mean_{{ c }},
            {{ exact_group_sum(c, 'in_estu', 60) }} / count(case when in_estu then {{ c }} end) as mean_{{ c }}
            {{- "," if not loop.last }}
        {%- endfor %}
    from {{ input }}
    group by trade_date
),

{{ output }}_std as (
    select
        i.trade_date,
        {%- for c in columns %}
            sqrt(
                {{ exact_group_sum('(i.' ~ c ~ ' - m.mean_' ~ c ~ ') * (i.' ~ c ~ ' - m.mean_' ~ c ~ ')', 'i.in_estu', 60) }}
                / count(case when i.in_estu then i.{{ c }} end)
            ) as std_{{ c }}{{ "," if not loop.last }}
        {%- endfor %}
    from {{ input }} as i
    inner join {{ output }}_mean as m on i.trade_date = m.trade_date
    group by i.trade_date
),

{{ output }} as (
    select
        i.* replace (
            {%- for c in columns %}
                {%- set z = '(i.' ~ c ~ ' - m.cap_mean_' ~ c ~ ') / s.std_' ~ c %}
                {#- greatest and least skip nulls: a missing value must not become a bound #}
                case
                    when s.std_{{ c }} > 0 and i.{{ c }} is not null
                        then {{ 'greatest(' ~ (-clip) ~ ', least(' ~ clip ~ ', ' ~ z ~ '))' if clip else z }}
                end as {{ c }}{{ "," if not loop.last }}
            {%- endfor %}
        )
    from {{ input }} as i
    inner join {{ output }}_mean as m on i.trade_date = m.trade_date
    inner join {{ output }}_std as s on i.trade_date = s.trade_date
)
{%- endmacro %}

{#- Step 2 (and 4): standardize, clip, standardize. -#}
{% macro cs_standardize_clip_standardize(input, output, columns, clip) -%}
{{ cs_standardize(input, output ~ '_clipped', columns, clip) }},

{{ cs_standardize(output ~ '_clipped', output, columns) }}
{%- endmacro %}

{#- Step 5: a missing value becomes the fitted value of the sqrt(cap)-weighted regression, over
    the ESTU rows with the value, of the column on the industry dummies and `size`: Size's slope
    from within-industry deviations, each industry's intercept from its weighted means (the
    sample-wide means for an industry without sample rows). Rows without an industry or Size stay
    null. -#}
{% macro cs_fill(input, output, columns, size) -%}
{%- set sample = 'in_estu and factor_industry is not null and ' ~ size ~ ' is not null' -%}
{{ output }}_industry as (
    select
        trade_date,
        factor_industry,
        {%- for c in columns %}
            {{ exact_group_sum('regression_weight * ' ~ c, sample ~ ' and ' ~ c ~ ' is not null', 60) }}
            / {{ exact_group_sum('regression_weight', sample ~ ' and ' ~ c ~ ' is not null', 60) }} as y_{{ c }},
            {{ exact_group_sum('regression_weight * ' ~ size, sample ~ ' and ' ~ c ~ ' is not null', 60) }}
            / {{ exact_group_sum('regression_weight', sample ~ ' and ' ~ c ~ ' is not null', 60) }} as s_{{ c }}
            {{- "," if not loop.last }}
        {%- endfor %}
    from {{ input }}
    where factor_industry is not null
    group by trade_date, factor_industry
),

{{ output }}_slope as (
    select
        i.trade_date,
        {%- for c in columns %}
            {%- set here = 'i.in_estu and i.factor_industry is not null and i.' ~ size ~ ' is not null and i.' ~ c ~ ' is not null' %}
            {{ exact_group_sum('i.regression_weight * (i.' ~ size ~ ' - g.s_' ~ c ~ ') * (i.' ~ c ~ ' - g.y_' ~ c ~ ')', here, 60) }} as sxy_{{ c }},
            {{ exact_group_sum('i.regression_weight * (i.' ~ size ~ ' - g.s_' ~ c ~ ') * (i.' ~ size ~ ' - g.s_' ~ c ~ ')', here, 60) }} as sxx_{{ c }},
            {{ exact_group_sum('i.regression_weight * i.' ~ c, here, 60) }}
            / {{ exact_group_sum('i.regression_weight', here, 60) }} as y_{{ c }},
            {{ exact_group_sum('i.regression_weight * i.' ~ size, here, 60) }}
            / {{ exact_group_sum('i.regression_weight', here, 60) }} as s_{{ c }}
            {{- "," if not loop.last }}
        {%- endfor %}
    from {{ input }} as i
    left join {{ output }}_industry as g
        on i.trade_date = g.trade_date and i.factor_industry = g.factor_industry
    group by i.trade_date
),

{{ output }} as (
    select
        i.* replace (
            {%- for c in columns %}
                {%- set b = 'case when t.sxx_' ~ c ~ ' > 0 then t.sxy_' ~ c ~ ' / t.sxx_' ~ c ~ ' else 0 end' %}
                case
                    when i.{{ c }} is not null then i.{{ c }}
                    when i.factor_industry is null or i.{{ size }} is null or t.y_{{ c }} is null then null
                    else coalesce(g.y_{{ c }}, t.y_{{ c }}) - ({{ b }}) * coalesce(g.s_{{ c }}, t.s_{{ c }})
                        + ({{ b }}) * i.{{ size }}
                end as {{ c }}{{ "," if not loop.last }}
            {%- endfor %}
        )
    from {{ input }} as i
    inner join {{ output }}_slope as t on i.trade_date = t.trade_date
    left join {{ output }}_industry as g
        on i.trade_date = g.trade_date and i.factor_industry = g.factor_industry
)
{%- endmacro %}


{#- Step 7: the residual y - a - Z b of the sqrt(cap)-weighted regression with an intercept of
    `column` on one or two regressors, over the ESTU rows with every value; null on rows missing
    one, and for the whole date when the sample has no more rows than regressors. A zero-variance
    regressor gets slope 0 (one regressor); two regressors are solved by Cramer's rule. -#}
{% macro cs_orthogonalize(input, output, column, regressors) -%}
{%- set ns = namespace(sample='i.in_estu and i.regression_weight is not null and i.' ~ column ~ ' is not null') -%}
{%- for r in regressors -%}
    {%- set ns.sample = ns.sample ~ ' and i.' ~ r ~ ' is not null' -%}
{%- endfor -%}
{%- set sample = ns.sample -%}
{{ output }}_means as (
    select
        i.trade_date,
        count(case when {{ sample }} then 1 end) as n,
        {{ exact_group_sum('i.regression_weight', sample, 60) }} as sw,
        {{ exact_group_sum('i.regression_weight * i.' ~ column, sample, 60) }} as swy
        {%- for r in regressors %},
            {{ exact_group_sum('i.regression_weight * i.' ~ r, sample, 60) }} as swx{{ loop.index }}
        {%- endfor %}
    from {{ input }} as i
    group by i.trade_date
),

{{ output }}_moments as (
    select
        i.trade_date,
        {%- set centered = {'y': '(i.' ~ column ~ ' - m.swy / m.sw)'} %}
        {%- for r in regressors %}
            {%- do centered.update({'x' ~ loop.index: '(i.' ~ r ~ ' - m.swx' ~ loop.index ~ ' / m.sw)'}) %}
        {%- endfor %}
        {%- for r in regressors %}
            {%- set k = loop.index %}
            {{ exact_group_sum('i.regression_weight * ' ~ centered['x' ~ k] ~ ' * ' ~ centered['y'], sample, 60) }} as sxy{{ k }},
            {%- for r2 in regressors if loop.index >= k %}
                {{ exact_group_sum('i.regression_weight * ' ~ centered['x' ~ k] ~ ' * ' ~ centered['x' ~ loop.index], sample, 60) }} as sxx{{ k }}{{ loop.index }},
            {%- endfor %}
        {%- endfor %}
        any_value(m.n) as n,
        any_value(m.sw) as sw,
        any_value(m.swy) as swy
        {%- for r in regressors %},
            any_value(m.swx{{ loop.index }}) as swx{{ loop.index }}
        {%- endfor %}
    from {{ input }} as i
    inner join {{ output }}_means as m on i.trade_date = m.trade_date
    group by i.trade_date
),

{{ output }}_coefficients as (
    select
        trade_date,
        n,
        {%- if regressors | length == 1 %}
            case when sxx11 > 0 then sxy1 / sxx11 else 0 end as b1,
            swy / sw - (case when sxx11 > 0 then sxy1 / sxx11 else 0 end) * swx1 / sw as a
        {%- else %}
            (sxy1 * sxx22 - sxx12 * sxy2) / (sxx11 * sxx22 - sxx12 * sxx12) as b1,
            (sxx11 * sxy2 - sxx12 * sxy1) / (sxx11 * sxx22 - sxx12 * sxx12) as b2,
            swy / sw
            - (sxy1 * sxx22 - sxx12 * sxy2) / (sxx11 * sxx22 - sxx12 * sxx12) * swx1 / sw
            - (sxx11 * sxy2 - sxx12 * sxy1) / (sxx11 * sxx22 - sxx12 * sxx12) * swx2 / sw as a
        {%- endif %}
    from {{ output }}_moments
),

{{ output }} as (
    select
        i.* replace (
            case
                when c.n > {{ regressors | length }}
                    then i.{{ column }} - c.a
                    {%- for r in regressors %} - c.b{{ loop.index }} * i.{{ r }}{% endfor %}
            end as {{ column }}
        )
    from {{ input }} as i
    inner join {{ output }}_coefficients as c on i.trade_date = c.trade_date
)
{%- endmacro %}
