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

    The running sums are exact_sum()s of DECIMAL(38, 16) terms: |w| stays below 1e20 for prices
    below 1e6 (beta^-(B-1) < 1e14), and a term of 0.07 CNY keeps 13 significant digits.

    Usage, in three consecutive CTEs over rows with ts_code and stock_row_number:
      exact_sum(ema_scaled(u, beta, B), in_block, 16) -> P   (in_block: the rows of the block so far)
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

{#- A window sum that is the same bit for bit whatever the partition around its frame.
    DuckDB sums doubles in a window through a segment tree whose shape follows the partition's
    length, so the same frame can sum to different last bits in a full and an incremental build.
    A sum of DECIMAL(precision, scale) is exact (integers), hence independent of the order; each
    term is rounded to 10^-scale first, which the callers choose far below the precision they need.
    DECIMAL(18, s) terms (64-bit) are about as fast as doubles; DECIMAL(38, s) (128-bit) about three
    times slower, for terms that need more than 18 digits. A term out of range fails the build. -#}
{% macro exact_sum(expression, window, scale, precision=38) -%}
    cast(sum(cast({{ expression }} as decimal({{ precision }}, {{ scale }}))) over {{ window }} as double)
{%- endmacro %}

{#- The grouped twin of exact_sum: the exact sum of the expression over the group's rows that
    satisfy the condition. -#}
{% macro exact_group_sum(expression, condition, scale) -%}
    cast(sum(cast({{ expression }} as decimal(38, {{ scale }}))) filter (where {{ condition }}) as double)
{%- endmacro %}
