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

    An incremental run recomputes the same sums over the same rows (the current and the previous
    block: 2B history rows), so its values equal a full build's bit for bit.

    The running sums are exact_sum()s at a resolution of 2^-53 (1.1e-16) in 128-bit integers: |w|
    may reach 1e22, far above a price of 1e6 times beta^-(B-1) < 1e14.

    Usage, in three consecutive CTEs over rows with ts_code and stock_row_number:
      exact_sum(ema_scaled(u, beta, B), in_block, 53) -> P   (in_block: the rows of the block so far)
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

{% macro ema_value(running, previous_total, beta, rows) -%}
    (pow({{ beta }}, {{ ema_offset(rows) }}) * {{ running }}
    + pow({{ beta }}, {{ ema_offset(rows) }} + {{ rows }}) * coalesce({{ previous_total }}, 0))
{%- endmacro %}
