{#- Window input for an incremental model keyed by (ts_code, stock_row_number).

    A full build windows over every row. An incremental build windows over the new rows plus,
    for each stock with new rows, the n_rows rows just before its first new one, read back from
    `history`; `is_new` marks the rows to keep. Because rows are counted per stock (not by date),
    the history is exact however long the stock was suspended, and the windowed values equal a
    full build's (the prefix property). `floor_date` (a date literal from history_floor_date or
    previous_row_floor_date) bounds the history read by date, so the scan skips older row groups
    instead of joining every row ever built. -#}
{% macro window_input(history, new_rows, n_rows, floor_date) -%}
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
        where h.trade_date >= {{ floor_date }}
    {% endif %}
{%- endmacro %}

{#- A date literal no later than any history row an incremental model reads: the oldest trading day
    of the stocks' first needed rows, `first_needed_row` being an SQL expression of `first_new_row`
    (the stock's first new row; a result below 1 means row 1). Rendered as a literal so the history
    scans filter by date (zonemaps) instead of reading every row ever built.

    It is derived without reading the history: a stock's consecutive rows are
    gap_trading_days apart in the trading-day index, and int_security__trading_gaps lists every
    row where that is more than 1, so
        index(row n) = index(first new row) - (first new row - n)
                       - sum(gap_trading_days - 1 over the gaps ending after row n, up to the first new row)
    exactly. Only the new rows, the gaps table and the calendar are read. A model that calls it
    declares `-- depends_on:` int_prices__daily, int_security__trading_gaps and dim_trading_calendar
    (the refs here run only at execution). In a full build: the null watermark, no history. -#}
{% macro history_floor_date(first_needed_row) -%}
    {%- set mark = watermark_literal() -%}
    {%- set query -%}
        with firsts as (
            select
                ts_code,
                min(stock_row_number) as first_new_row,
                min(trading_day_index) as first_new_index
            from {{ ref('int_prices__daily') }}
            where trade_date > {{ mark }}
            group by ts_code
        ),

        needed as (
            select
                *,
                greatest({{ first_needed_row }}, 1) as needed_row
            from firsts
        ),

        floors as (
            select
                n.first_new_index - (n.first_new_row - n.needed_row)
                - coalesce(sum(g.gap_trading_days - 1), 0) as floor_index
            from needed as n
            left join {{ ref('int_security__trading_gaps') }} as g
                on
                    n.ts_code = g.ts_code
                    and g.stock_row_number > n.needed_row
                    and g.stock_row_number <= n.first_new_row
            group by n.ts_code, n.first_new_index, n.first_new_row, n.needed_row
        )

        select strftime(min(c.trade_date), '%Y-%m-%d')
        from {{ ref('dim_trading_calendar') }} as c
        where c.trading_day_index = (select min(floor_index) from floors)
    {%- endset -%}
    {{ floor_date_literal(query, mark) }}
{%- endmacro %}

{#- The same bound for a model that reads only each new row's previous row: the oldest
    prev_trade_date of the new rows of int_prices__daily (the watermark when none has one). -#}
{% macro previous_row_floor_date() -%}
    {%- set mark = watermark_literal() -%}
    {%- set query -%}
        select strftime(min(prev_trade_date), '%Y-%m-%d')
        from {{ ref('int_prices__daily') }}
        where trade_date > {{ mark }}
    {%- endset -%}
    {{ floor_date_literal(query, mark) }}
{%- endmacro %}

{#- The date a floor query returns (YYYY-MM-DD, from our own tables), as a literal; the watermark
    when it returns null (no history row is needed) or in a full build (the watermark is then null,
    and nothing is queried). -#}
{% macro floor_date_literal(query, mark) -%}
    {%- if execute and mark != 'null' -%}
        {%- set floor = run_query(query).columns[0].values()[0] -%}
        {{ "date '" ~ floor ~ "'" if floor else mark }}
    {%- else -%}
        {{ mark }}
    {%- endif -%}
{%- endmacro %}
