{#- The as-of date of a build (environment variable FW_END_DATE, YYYY-MM-DD; empty = all data),
    validated: it is rendered into SQL, so it must be proven to be a date first. An environment
    variable rather than a dbt var: changing a var makes dbt re-parse the whole project, and the
    as-of date changes every day. -#}
{% macro end_date_literal() -%}
    {%- set value = env_var('FW_END_DATE', '') -%}
    {%- if value is none or value == '' -%}
        null
    {%- else -%}
        {%- if not modules.re.fullmatch('[0-9]{4}-[0-9]{2}-[0-9]{2}', value | string) -%}
            {{ exceptions.raise_compiler_error("FW_END_DATE must be YYYY-MM-DD, got '" ~ value ~ "'") }}
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

{#- The newest trade_date already built in this incremental model, as a date literal; null in
    a full build. Read at run time and rendered as a literal (it comes from our own table, not
    from a user) so that the filter reaches Parquet statistics and DuckDB zonemaps, and an
    incremental day reads one day's row groups instead of the whole history. -#}
{% macro watermark_literal() -%}
    {%- if is_incremental() and execute -%}
        {%- set newest = run_query("select strftime(max(trade_date), '%Y-%m-%d') from " ~ this).columns[0].values()[0] -%}
        {{- "date '" ~ newest ~ "'" if newest else "null" -}}
    {%- else -%}
        null
    {%- endif -%}
{%- endmacro %}

{#- In an incremental run, keep only rows dated after the watermark; true in a full build. -#}
{% macro after_watermark(column='trade_date') -%}
    {%- set mark = watermark_literal() -%}
    {{- 'true' if mark == 'null' else column ~ ' > ' ~ mark -}}
{%- endmacro %}

{#- In an incremental run, keep only rows dated on or after the watermark (the newest date built); true
    in a full build. For what new rows read at their previous trading day: that day is the watermark
    or later. -#}
{% macro since_watermark(column='trade_date') -%}
    {%- set mark = watermark_literal() -%}
    {{- 'true' if mark == 'null' else column ~ ' >= ' ~ mark -}}
{%- endmacro %}

{#- The same two scopes on a vendor's YYYYMMDD key (a string compare Parquet statistics can
    prune on; a converted DATE cannot be pushed through the conversion). -#}
{% macro vendor_key_in_scope(column) -%}
    {%- set mark = watermark_literal() -%}
    {%- set end = end_date_literal() -%}
    ({{ 'true' if mark == 'null' else column ~ " > strftime(" ~ mark ~ ", '%Y%m%d')" }}
    and {{ 'true' if end == 'null' else column ~ " <= strftime(" ~ end ~ ", '%Y%m%d')" }})
{%- endmacro %}

{#- The newest trading_day_index already built in this incremental model, as a literal; null in
    a full build. Incremental window models read history from this index minus their longest
    window: a constant filter the scan applies. -#}
{% macro watermark_index_literal() -%}
    {%- if is_incremental() and execute -%}
        {%- set newest = run_query("select max(trading_day_index) from " ~ this).columns[0].values()[0] -%}
        {{- newest if newest is not none else "null" -}}
    {%- else -%}
        null
    {%- endif -%}
{%- endmacro %}
