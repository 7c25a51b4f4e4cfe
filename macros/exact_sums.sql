{#- A window sum that is the same bit for bit whatever the partition around its frame.
    DuckDB sums doubles in a window through a segment tree whose shape follows the partition's
    length, so the same frame can sum to different last bits in a full and an incremental build.
    Here each term is scaled by 2^bits (exact: a power of two), rounded to an integer and summed as
    integers, which is exact and so independent of the order; the result is scaled back. The
    resolution is 2^-bits; |term| must stay below 2^(63 - bits) for bigint, 2^(127 - bits) for
    hugeint (bigint is as fast as a double sum, hugeint a little slower). An out-of-range term
    fails the build rather than wrapping. -#}
{% macro exact_sum(expression, window, bits, integer_type='hugeint') -%}
    (cast(sum(cast(({{ expression }}) * {{ 2 ** bits }}.0 as {{ integer_type }})) over {{ window }} as double)
    / {{ 2 ** bits }}.0)
{%- endmacro %}

{#- The grouped twin of exact_sum: the exact sum of the expression over the group's rows that
    satisfy the condition. A CASE, not a FILTER: DuckDB slices the input once per filtered
    aggregate, which cost four times the sums themselves in fct_barra_exposures (session 11). -#}
{% macro exact_group_sum(expression, condition, bits) -%}
    (cast(sum(case when {{ condition }} then cast(({{ expression }}) * {{ 2 ** bits }}.0 as hugeint) end) as double)
    / {{ 2 ** bits }}.0)
{%- endmacro %}
