{#- Window sums over market trading days from running totals, exact and in one pass.

    The rows are a dense grid: every market day of each stock's range, plus `padding` days before
    it, with no term on a day the stock did not trade; sorted by (ts_code, trading_day_index)
    once. Each term is scaled to an integer (exact_term) and a running total P is kept over the
    whole sorted grid by streaming windows (`over ()` without PARTITION/ORDER: DuckDB runs them in
    input order, in one pass, with no segment tree). A window sum over days (a - T, a] is then
    P(a) - P(a - T): integers, so exact, and the same bits in a full and an incremental build
    whatever rows come before. The padding (at least the longest lag) keeps every lag of a real
    row inside its own stock, where P is flat before the first term.

    Exponentially weighted sums S(a) = sum_{j < T} lambda^j x_(a-j), lambda = 0.5^(1 / h), use
    blocks of T days: with o = a mod T and y_s = x_s lambda^(-(s mod T)) (each term scaled to its
    own block), every term of the window lies in a's block or the one before, and
        S(a) = lambda^o (1 - lambda^T) C + lambda^(o + T) W
    where W = P(a) - P(a - T) sums y over the window and C = P(a) - P(a - o - 1) over the part in
    a's block: P(a - o - 1) is the total at the latest block end before a's block. No power of
    lambda beyond lambda^-(T-1) appears.

    A running total that leaves the integer type fails the build (DuckDB checks the addition), so
    the callers choose `bits` (resolution 2^-bits per term) with room to spare. -#}

{% macro ew_lambda(half_life) -%}
    pow(0.5, 1.0 / {{ half_life }})
{%- endmacro %}

{#- Position of a day in its block of `block` days (0 .. block - 1, also for the padding's
    negative indices). -#}
{% macro block_offset(block, index='trading_day_index') -%}
    ((({{ index }} % {{ block }}) + {{ block }}) % {{ block }})
{%- endmacro %}

{#- lambda^-(position in block): scales a term to its block. -#}
{% macro block_scale(half_life, block) -%}
    pow({{ ew_lambda(half_life) }}, -{{ block_offset(block) }})
{%- endmacro %}

{#- The integer a term contributes: x * scale * 2^bits, rounded. Null stays null (no term). -#}
{% macro exact_term(expression, bits, scale='1') -%}
    cast(({{ expression }}) * {{ scale }} * {{ 2 ** bits }}.0 as hugeint)
{%- endmacro %}

{#- The running total of an exact term over the sorted grid (streaming). -#}
{% macro running_total(term) -%}
    sum(coalesce({{ term }}, 0)) over (rows between unbounded preceding and current row)
{%- endmacro %}

{#- The running total at the latest block end up to this row (streaming). DuckDB streams arg_max
    over 64-bit values but not over hugeint (nor unsigned), so the total travels as two bigints:
    its high 64 bits, and its low 64 bits shifted down by 2^63. -#}
{% macro total_at_block_end(total, block) -%}
    {%- set frame = 'filter (where ' ~ block_offset(block) ~ ' = ' ~ (block - 1) ~ ')'
        ~ ' over (rows between unbounded preceding and current row)' -%}
    (cast(arg_max(cast({{ total }} >> 64 as bigint), grid_row) {{ frame }} as hugeint) * 18446744073709551616
        + arg_max(cast(({{ total }} & 18446744073709551615) - 9223372036854775808 as bigint), grid_row) {{ frame }}
        + 9223372036854775808)
{%- endmacro %}

{#- An exact integer sum scaled back to a double. -#}
{% macro exact_value(integer, bits) -%}
    (cast({{ integer }} as double) / {{ 2 ** bits }}.0)
{%- endmacro %}

{#- The weights of the two parts of an exponentially weighted window sum (see the header) for the
    day `index`: near = lambda^o (1 - lambda^T) on the part in its block, far = lambda^(o + T) on
    the whole window. -#}
{% macro ew_near(half_life, block, index='trading_day_index') -%}
    pow({{ ew_lambda(half_life) }}, {{ block_offset(block, index) }}) * (1 - pow({{ ew_lambda(half_life) }}, {{ block }}))
{%- endmacro %}

{% macro ew_far(half_life, block, index='trading_day_index') -%}
    pow({{ ew_lambda(half_life) }}, {{ block_offset(block, index) }} + {{ block }})
{%- endmacro %}

{#- S = near C + far W from the integer sums W (the whole window) and C (its part in the day's
    block; on a block's last day that part is the whole window). -#}
{% macro ew_combine(whole, part, block, bits, near, far, index='trading_day_index') -%}
    (
        {{ near }} * (case
            when {{ block_offset(block, index) }} = {{ block - 1 }} then {{ exact_value(whole, bits) }}
            else {{ exact_value(part, bits) }}
        end)
        + {{ far }} * {{ exact_value(whole, bits) }}
    )
{%- endmacro %}
