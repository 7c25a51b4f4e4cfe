{#- The as-of date of a build, validated: dbt vars are rendered into SQL, so the value
    must be proven to be a date before it is. -#}
{% macro end_date_literal() -%}
    {%- set value = var('end_date') -%}
    {%- if value is none or value == '' -%}
        null
    {%- else -%}
        {%- if not modules.re.fullmatch('[0-9]{4}-[0-9]{2}-[0-9]{2}', value | string) -%}
            {{ exceptions.raise_compiler_error("var end_date must be YYYY-MM-DD, got '" ~ value ~ "'") }}
        {%- endif -%}
        date '{{ value }}'
    {%- endif -%}
{%- endmacro %}

{#- True for rows dated on or before the build's as-of date. -#}
{% macro within_end_date(column) -%}
    ({{ end_date_literal() }} is null or {{ column }} <= {{ end_date_literal() }})
{%- endmacro %}

{#- Daily risk-free rate compounded over n trading days, from var risk_free_rate_annual. -#}
{% macro risk_free_return(n_days='1') -%}
    (pow(1.0 + {{ var('risk_free_rate_annual') | float }}, ({{ n_days }}) / 252.0) - 1.0)
{%- endmacro %}

{#- In an incremental run, keep only rows dated after the newest date already built
    (an empty target counts as nothing built). Renders nothing in a full build. -#}
{% macro after_watermark(column='trade_date') -%}
    {%- if is_incremental() -%}
        {{ column }} > (select coalesce(max(trade_date), date '1900-01-01') from {{ this }})
    {%- else -%}
        true
    {%- endif -%}
{%- endmacro %}
