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

    The running sums are exact integers (the terms scaled by 2^53 and rounded), stored with each
    row as its state. An incremental run carries them on: a new row's running sum is the stored
    sum of the stock's last row in the same block plus the new terms, and the previous block's
    total is the stored sum on that block's last row. Integer addition is exact, so the values
    equal a full build's bit for bit while only a handful of history rows per stock are read.

    The running sums are exact_sum()s at a resolution of 2^-53 (1.1e-16) in 128-bit integers: |w|
    may reach 1e22, far above a price of 1e6 times beta^-(B-1) < 1e14.

    Usage, in three consecutive CTEs over rows with ts_code and stock_row_number:
      sum(ema_term(u, beta, B)) over the block so far -> P   (a hugeint: the row's state)
      P on each block's last row                      -> T   (the block's total)
      ema_value(P, T of the previous block, beta, B)  -> E
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

{#- The rows an incremental EMA model works on: the new rows, and per stock with new rows its
    last seed_rows history rows (seeds and lagged values) plus, for each block size, the last row
    of the block before its newest history row (that block's total). History rows bring their
    stored state columns (state_<name> of this model) as stored_<name>; a full build has none. -#}
{% macro ema_window_input(history, new_rows, seed_rows, block_sizes, states) -%}
    select
        *,
        true as is_new,
        {%- for name in states %}
            null::hugeint as stored_{{ name }}{{ "," if not loop.last }}
        {%- endfor %}
    from {{ new_rows }}
    {% if is_incremental() %}
        union all by name
        select
            h.*,
            false as is_new,
            {%- for name in states %}
                st.state_{{ name }} as stored_{{ name }}{{ "," if not loop.last }}
            {%- endfor %}
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
                and (
                    h.stock_row_number between f.first_new_row - {{ seed_rows }} and f.first_new_row - 1
                    {%- for rows in block_sizes %}
                        or h.stock_row_number = (f.first_new_row - 1) // {{ rows }} * {{ rows }} - 1
                    {%- endfor %}
                )
        inner join {{ this }} as st
            on h.ts_code = st.ts_code and h.stock_row_number = st.stock_row_number
    {% endif %}
{%- endmacro %}

{#- True on the history row that carries its stored sums into its block: the last history row
    of the block among the rows worked on (the sums of the block's earlier rows are inside it). -#}
{% macro ema_carries_state(rows) -%}
    (not is_new and coalesce(lead(is_new) over (
        partition by ts_code, {{ ema_block(rows) }} order by stock_row_number
    ), true))
{%- endmacro %}

{#- A row's integer term of its block's running sum: a new row's exact term, a carrying history
    row's stored sum, 0 for the other history rows. -#}
{% macro ema_carried_term(u, beta, rows, stored, carries) -%}
    case
        when is_new then {{ ema_term(u, beta, rows) }}
        when {{ carries }} then {{ stored }}
        else 0
    end
{%- endmacro %}
