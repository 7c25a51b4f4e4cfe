{#- Recursive averages (EMA, Wilder) in set-based SQL, to a proven truncation.

    A recursion E_r = beta * E_(r-1) + u_r over a stock's rows r (u_r the weighted input; the seed
    enters as u_s = seed, and u = 0 before it) is the sum E_r = sum_(i<=r) beta^(r-i) u_i. The rows
    are cut into blocks of B rows (block = r div B, offset = r mod B). Inputs are scaled to their
    block's start, w_i = u_i * beta^(-offset_i), and summed cumulatively within the block (P_r).
    Then
        E_r = beta^offset_r * P_r + beta^(offset_r + B) * T_(block - 1)
    where T is the previous block's total. Everything older than the previous block is dropped;
    its weight is at most beta^(B+1), and B is chosen so that beta^B < 1e-13: the truncation is
    below 1e-13 relative to the value of the average two blocks earlier (1e-11 for a price that
    moved 100x in 2B rows). Until a stock has two full blocks nothing is dropped and the result is
    the exact recursion, seeded as the reference seeds it.

    The running sums are exact integers: the terms scaled by 2^53 (a resolution of 1.1e-16) and
    rounded, summed as 128-bit integers, so |w| may reach 1e22, far above a price of 1e6 times
    beta^-(B-1) < 1e14. Each block's total is stored on the block's last row (state_<name>, null
    on the other rows). An incremental run reads, per stock, the rows of its current block
    (recomputing their terms: the same integers) and the last row of the block before (its stored
    total). Integer addition is exact, so the values equal a full build's bit for bit while one
    block of history at most is read.

    Usage, in three consecutive CTEs over rows with ts_code and stock_row_number:
      sum(ema_carried_term(u, ...)) over the block so far -> P   (hugeint)
      P on each block's last row                          -> T   (the block's total, stored)
      ema_value(P, T of the previous block, beta, B)      -> E
-#}



{% macro ema_block(rows) -%}
    (stock_row_number // {{ rows }})
{%- endmacro %}

{% macro ema_offset(rows) -%}
    (stock_row_number % {{ rows }})
{%- endmacro %}

{% macro ema_scaled(u, beta, rows) -%}
    (({{ u }}) * pow({{ beta }}, -{{ ema_offset(rows) }}))
{%- endmacro %}

{#- The block-scaled input as an exact integer at a resolution of 2^-53. -#}
{% macro ema_term(u, beta, rows) -%}
    cast({{ ema_scaled(u, beta, rows) }} * {{ 2 ** 53 }}.0 as hugeint)
{%- endmacro %}

{#- E from the integer running sum of the block and the previous block's integer total. -#}
{% macro ema_value(running, previous_total, beta, rows) -%}
    (pow({{ beta }}, {{ ema_offset(rows) }}) * (cast({{ running }} as double) / {{ 2 ** 53 }}.0)
    + pow({{ beta }}, {{ ema_offset(rows) }} + {{ rows }})
    * (cast(coalesce({{ previous_total }}, 0) as double) / {{ 2 ** 53 }}.0))
{%- endmacro %}

{#- The rows an incremental EMA model works on: the new rows and, per stock with new rows,
    for each block size, the rows of the block holding its last built row (the anchor) and the
    last row of the block before (which stores that block's total), so from the earliest of
    those rows to the anchor; from row 1 when those blocks hold seed rows.
    History rows come from `history`, with the block totals stored on block-end rows of this
    model (state_<name>; null on the other rows, which need none). Both are read from
    history_floor_date on (a constant filter DuckDB applies in the scans), so the model declares
    `-- depends_on:` its three relations. A full build has no history rows. -#}
{% macro ema_window_input(history, new_rows, seed_rows, block_sizes, states) -%}
    select
        *,
        true as is_new,
        {%- for name in states %}
            null::hugeint as stored_{{ name }}{{ "," if not loop.last }}
        {%- endfor %}
    from {{ new_rows }}
    {% if is_incremental() %}
        {%- set oldest = history_floor_date(ema_history_first_row('first_new_row - 1', seed_rows, block_sizes)) %}
        union all by name
        select
            h.*,
            false as is_new,
            {%- for name in states %}
                st.state_{{ name }} as stored_{{ name }}{{ "," if not loop.last }}
            {%- endfor %}
        from {{ history }} as h
        inner join ({{ ema_first_new_rows(new_rows) }}) as f
            on h.ts_code = f.ts_code and h.stock_row_number < f.first_new_row
        left join (
            select *
            from {{ this }}
            where
                trade_date >= {{ oldest }}
                and (
                    {%- for rows in block_sizes %}
                        {{ ema_offset(rows) }} = {{ rows - 1 }}{{ " or" if not loop.last }}
                    {%- endfor %}
                )
        ) as st
            on h.ts_code = st.ts_code and h.stock_row_number = st.stock_row_number
        where
            h.stock_row_number >= {{ ema_history_first_row('f.first_new_row - 1', seed_rows, block_sizes) }}
            and h.trade_date >= {{ oldest }}
    {% endif %}
{%- endmacro %}

{#- The first history row needed for an anchor row: the last row before the earliest of the
    anchor's blocks, or row 1 when those blocks hold seed rows (the seeds need all of them). -#}
{% macro ema_history_first_row(anchor_row, seed_rows, block_sizes) -%}
    {%- set start -%}
        least(
            {%- for rows in block_sizes -%}
                ({{ anchor_row }}) // {{ rows }} * {{ rows }} - 1{{ ", " if not loop.last }}
            {%- endfor -%}
        )
    {%- endset -%}
    (case when {{ start }} <= {{ seed_rows }} then 1 else {{ start }} end)
{%- endmacro %}

{% macro ema_first_new_rows(new_rows) -%}
    select
        ts_code,
        min(stock_row_number) as first_new_row
    from {{ new_rows }}
    group by ts_code
{%- endmacro %}

{#- The block of the stock's last history row (null in a full build, which has none). -#}
{% macro ema_anchor_block(rows) -%}
    {%- if is_incremental() -%}
        (max(case when not is_new then stock_row_number end) over (partition by ts_code) // {{ rows }})
    {%- else -%}
        null::bigint
    {%- endif -%}
{%- endmacro %}

{#- A row's integer term of its block's running sum: the exact term of a new row or of a
    history row in the anchor's block (recomputed: the same integer), the stored total on the
    last row of an earlier block, 0 on the other history rows. -#}
{% macro ema_carried_term(u, beta, rows, stored, anchor_block) -%}
    case
        when is_new or {{ ema_block(rows) }} = {{ anchor_block }} then {{ ema_term(u, beta, rows) }}
        when {{ ema_offset(rows) }} = {{ rows - 1 }} then {{ stored }}
        else 0
    end
{%- endmacro %}

{#- The state a row stores: its block's total on the block's last row, null elsewhere. -#}
{% macro ema_stored_total(running, rows) -%}
    case when {{ ema_offset(rows) }} = {{ rows - 1 }} then {{ running }} end
{%- endmacro %}
