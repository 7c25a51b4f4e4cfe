{#- The key and version columns every Tushare financial statement shares.
    known_date is when the version became public: coalesce(f_ann_date, ann_date);
    it is usable from the next trading day. -#}
{% macro statement_keys() -%}
        ts_code,
        {{ yyyymmdd_to_date('end_date') }} as end_date,
        report_type,
        {{ yyyymmdd_to_date('ann_date') }} as ann_date,
        {{ yyyymmdd_to_date('f_ann_date') }} as f_ann_date,
        coalesce({{ yyyymmdd_to_date('f_ann_date') }}, {{ yyyymmdd_to_date('ann_date') }}) as known_date,
        comp_type,
        cast(end_type as integer) as fiscal_quarter,
        update_flag = '1' as is_latest_version,
{%- endmacro %}
