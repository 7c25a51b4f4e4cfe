{#- date_batched: an incremental table built in batches of trading days.

    For models whose every date depends on that date's rows only (cross-sectional steps) and
    whose one-pass full build over the whole history would hold every step of every date at once
    (fct_barra_exposures: 24.6 M rows through a dozen materialized steps went past 12 GB). The
    model filters its input with date_batch_filter(column); this materialization runs it once per
    batch of `batch_trading_days` dates (config, default 250), the batch bounds held in DuckDB
    variables, which DuckDB folds to constants before planning, so the filter reaches the scans
    like a literal would, and no value is ever rendered into SQL.

    Full build (first run or --full-refresh): the batches go into a new table that replaces the
    old one only after the last batch, in one transaction. Incremental run: the dates after the
    newest one built (and up to FW_END_DATE), inserted in the same transaction. The dates come from
    config `batch_dates` (a model name: its trade_date column lists the dates to build). A change
    of columns fails the run (like on_schema_change: fail): rebuild with --full-refresh. -#}
{% materialization date_batched, adapter='duckdb' %}
    {%- set existing = load_cached_relation(this) -%}
    {%- set target = this.incorporate(type='table') -%}
    {%- set full = existing is none or should_full_refresh() -%}
    {%- set building = make_intermediate_relation(target) if full else target -%}
    {%- set backup = make_backup_relation(target, 'table') -%}
    {%- set batch_rows = config.get('batch_trading_days', 250) | int -%}
    {%- set dates_model = config.require('batch_dates') -%}
    {%- if batch_rows < 1 -%}
        {{ exceptions.raise_compiler_error("batch_trading_days must be at least 1, got " ~ batch_rows) }}
    {%- endif -%}

    {{ drop_relation_if_exists(load_cached_relation(make_intermediate_relation(target))) }}
    {{ drop_relation_if_exists(load_cached_relation(backup)) }}
    {{ run_hooks(pre_hooks, inside_transaction=False) }}
    {{ run_hooks(pre_hooks, inside_transaction=True) }}

    {% if not full %}
        {%- set new_columns = get_columns_in_query(sql) | map('lower') | list -%}
        {%- set old_columns = adapter.get_columns_in_relation(existing) | map(attribute='name') | map('lower') | list -%}
        {%- if new_columns != old_columns -%}
            {{ exceptions.raise_compiler_error(
                "The columns of " ~ this ~ " changed (" ~ old_columns | join(', ') ~ " -> "
                ~ new_columns | join(', ') ~ "): rebuild it with --full-refresh") }}
        {%- endif -%}
    {% endif %}

    {#- One row per batch: its number and its first and last date. -#}
    {% call statement('date_batches') %}
        create or replace temp table fw_date_batches as
        with days as (
            select distinct trade_date
            from {{ ref(dates_model) }}
            where
                {{ within_end_date('trade_date') }}
                {% if not full %}
                    and trade_date > (select max(trade_date) from {{ target }})
                {% endif %}
        )
        select
            batch,
            min(trade_date) as first_day,
            max(trade_date) as last_day
        from (select trade_date, (row_number() over (order by trade_date) - 1) // {{ batch_rows }} as batch from days)
        group by batch
        order by batch
    {% endcall %}
    {%- set n_batches = run_query("select count(*) from fw_date_batches").columns[0].values()[0] | int -%}
    {{ log("  " ~ this.identifier ~ ": " ~ n_batches ~ " batch(es) of up to " ~ batch_rows ~ " trading days", info=(n_batches > 1)) }}

    {% if full %}
        {% call statement('create_empty') %}
            create table {{ building }} as select * from ({{ sql }}) limit 0
        {% endcall %}
    {% endif %}
    {% for batch in range(n_batches) %}
        {% call statement('batch_bounds') %}
            set variable fw_batch_first = (select first_day from fw_date_batches where batch = {{ batch }});
            set variable fw_batch_last = (select last_day from fw_date_batches where batch = {{ batch }});
        {% endcall %}
        {% call statement('main' if loop.last else 'batch') %}
            insert into {{ building }} select * from ({{ sql }})
        {% endcall %}
        {% if n_batches > 1 %}
            {{ log("  " ~ this.identifier ~ ": batch " ~ (batch + 1) ~ "/" ~ n_batches ~ " done", info=True) }}
        {% endif %}
    {% endfor %}
    {% if n_batches == 0 %}
        {% call statement('main') %} select 1 {% endcall %}
    {% endif %}
    {% call statement('reset_bounds') %}
        reset variable fw_batch_first;
        reset variable fw_batch_last;
        drop table if exists fw_date_batches;
    {% endcall %}

    {% if full %}
        {% if existing is not none %}
            {{ adapter.rename_relation(existing, backup) }}
        {% endif %}
        {{ adapter.rename_relation(building, target) }}
    {% endif %}

    {{ run_hooks(post_hooks, inside_transaction=True) }}
    {% do persist_docs(target, model) %}
    {{ adapter.commit() }}
    {{ drop_relation_if_exists(backup) }}
    {{ run_hooks(post_hooks, inside_transaction=False) }}
    {{ return({'relations': [target]}) }}
{% endmaterialization %}

{#- The input filter of a date_batched model: rows of the batch being built. Outside that
    materialization the bounds are unset (null), and the filter keeps no row. -#}
{% macro date_batch_filter(column) -%}
    {{ column }} between getvariable('fw_batch_first') and getvariable('fw_batch_last')
{%- endmacro %}
