{#- Exponentially weighted window sums over market trading days, exact and set-based.

    S(t) = sum over days s in [a - T + 1, a] of lambda^(a - s) x_s, with a = t - lag the window's
    newest day, T the window length, lambda = 0.5^(1 / half_life), and x_s = 0 on days the stock
    has no row. Days are trading_day_index values; the window is a RANGE frame, so a day the stock
    did not trade simply has no term.

    With o = a mod T and y_s = x_s lambda^(-(s mod T)) (each term scaled to its own block of T
    days), every term of the window lies in a's block or the block before, and
        S(t) = lambda^o (1 - lambda^T) C + lambda^(o + T) W
    where W sums y over the whole window and C over the part of it in a's block (days a - o .. a).
    W is a fixed frame, C a frame whose start follows o: both are exact_sum()s of the same
    ordering, so the result is the same bit for bit whatever rows surround the window (a full and
    an incremental build agree) and no power of lambda beyond lambda^-(T-1) appears (at most 64
    for the descriptors' half-lives). -#}

{% macro ew_lambda(half_life) -%}
    pow(0.5, 1.0 / {{ half_life }})
{%- endmacro %}

{% macro ew_sum(expression, half_life, window, lag=0, bits=100) -%}
    {%- set lam = ew_lambda(half_life) -%}
    {%- set offset = '((trading_day_index - ' ~ lag ~ ') % ' ~ window ~ ')' -%}
    {%- set scaled = '(' ~ expression ~ ') * pow(' ~ lam ~ ', -(trading_day_index % ' ~ window ~ '))' -%}
    (
        pow({{ lam }}, {{ offset }}) * (1 - pow({{ lam }}, {{ window }}))
        * coalesce({{ exact_sum(scaled, '(partition by ts_code order by trading_day_index range between ' ~ offset ~ ' + ' ~ lag ~ ' preceding and ' ~ lag ~ ' preceding)', bits) }}, 0)
        + pow({{ lam }}, {{ offset }} + {{ window }})
        * coalesce({{ exact_sum(scaled, '(partition by ts_code order by trading_day_index range between ' ~ (window - 1 + lag) ~ ' preceding and ' ~ lag ~ ' preceding)', bits) }}, 0)
    )
{%- endmacro %}

{#- The plain exact sum of an expression over the last `days` market days (a RANGE frame). -#}
{% macro day_window_sum(expression, days, lag=0, bits=60, integer_type='hugeint') -%}
    {{ exact_sum(expression, '(partition by ts_code order by trading_day_index range between ' ~ (days - 1 + lag) ~ ' preceding and ' ~ lag ~ ' preceding)', bits, integer_type) }}
{%- endmacro %}

{#- The number of non-null values over the last `days` market days. -#}
{% macro day_window_count(expression, days, lag=0) -%}
    count({{ expression }}) over (
        partition by ts_code order by trading_day_index
        range between {{ days - 1 + lag }} preceding and {{ lag }} preceding
    )
{%- endmacro %}
