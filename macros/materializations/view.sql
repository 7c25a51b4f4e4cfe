{#- view (DuckDB): create or replace the view only when its compiled SQL changed.

    A daily build re-runs every view of its layers (eleven staging views in the foundation alone).
    Re-creating one costs dbt's rename dance and DuckDB's bind of its Parquet glob, about 0.1 s
    each, and changes nothing when the SQL is the same: a DuckDB view is bound again at every query,
    so new raw files show up without it. The view's comment holds the md5 of the SQL it was created
    from; a run whose SQL has the same md5 leaves the view alone. The SQL holds everything that can
    change a view (the data directory, the as-of date), so the md5 changes with them.

    Created or replaced in one transaction (`create or replace view`: DuckDB replaces it
    atomically); --full-refresh re-creates it whatever the md5. A relation of another type under
    the same name is dropped first. If persist_docs writes the relation's description into the
    comment, the md5 is overwritten and the view is simply re-created on every run, as dbt's own
    view materialization does. -#}
{% materialization view, adapter='duckdb' %}
    {%- set existing = load_cached_relation(this) -%}
    {%- set target = this.incorporate(type='view') -%}
    {#- Readable where dbt docs shows the relation's comment. -#}
    {%- set fingerprint = 'fw-sql-md5:' ~ local_md5(sql) ~ ' (the view is re-created when its SQL changes)' -%}
    {%- set unchanged = existing is not none and existing.is_view and not should_full_refresh()
        and view_comment(target) == fingerprint -%}

    {{ run_hooks(pre_hooks, inside_transaction=False) }}
    {{ run_hooks(pre_hooks, inside_transaction=True) }}

    {%- if unchanged %}
        {%- call statement('main') -%}
            select 'unchanged' as view_status
        {%- endcall %}
    {%- else %}
        {%- if existing is not none and not existing.is_view %}
            {{ adapter.drop_relation(existing) }}
        {%- endif %}
        {%- call statement('main') -%}
            create or replace view {{ target }} as (
                {{ sql }}
            );
            comment on view {{ target }} is {{ dbt.string_literal(fingerprint) }};
        {%- endcall %}
        {% do persist_docs(target, model) %}
    {%- endif %}

    {{ run_hooks(post_hooks, inside_transaction=True) }}
    {{ adapter.commit() }}
    {{ run_hooks(post_hooks, inside_transaction=False) }}

    {{ return({'relations': [target]}) }}
{% endmaterialization %}

{#- The comment DuckDB holds for a view, or none. The names are the model's own relation. -#}
{% macro view_comment(relation) -%}
    {%- set found = run_query(
        "select comment from duckdb_views() where database_name = " ~ dbt.string_literal(relation.database)
        ~ " and schema_name = " ~ dbt.string_literal(relation.schema)
        ~ " and view_name = " ~ dbt.string_literal(relation.identifier)
    ) -%}
    {{- return(found.columns[0].values()[0] if found.rows | length == 1 else none) -}}
{%- endmacro %}
