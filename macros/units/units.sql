{#- Unit conversions from Tushare's units to shares, CNY and fractions. One place each. -#}

{% macro yyyymmdd_to_date(column) -%}
    cast(try_strptime({{ column }}, '%Y%m%d') as date)
{%- endmacro %}

{% macro lots_to_shares(column) -%}
    ({{ column }} * 100.0)
{%- endmacro %}

{% macro thousand_cny_to_cny(column) -%}
    ({{ column }} * 1000.0)
{%- endmacro %}

{% macro ten_thousand_to_units(column) -%}
    ({{ column }} * 10000.0)
{%- endmacro %}

{% macro percent_to_fraction(column) -%}
    ({{ column }} / 100.0)
{%- endmacro %}
