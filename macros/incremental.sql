{#- Window input for an incremental model keyed by (ts_code, stock_row_number).

    A full build windows over every row. An incremental build windows over the new rows plus,
    for each stock with new rows, the n_rows rows just before its first new one, read back from
    `history`; `is_new` marks the rows to keep. Because rows are counted per stock (not by date),
    the history is exact however long the stock was suspended, and the windowed values equal a
    full build's (the prefix property). -#}
{% macro window_input(history, new_rows, n_rows) -%}
    select
        *,
        true as is_new
    from {{ new_rows }}
    {% if is_incremental() %}
        union all by name
        select
            h.*,
            false as is_new
        from {{ history }} as h
        inner join (
            select
                ts_code,
                min(stock_row_number) as first_new_row
            from {{ new_rows }}
            group by ts_code
        ) as f
            on
                h.ts_code = f.ts_code
                and h.stock_row_number >= f.first_new_row - {{ n_rows | int }}
                and h.stock_row_number < f.first_new_row
    {% endif %}
{%- endmacro %}
