{#- Generic data tests (the dbt package hub is unreachable, so no dbt_utils).
    Each returns the offending rows with their keys, so a failed build can say which rows
    broke which rule (failures are stored in the audit schema). -#}

{#- Rows for which a boolean SQL expression is not true. NULL counts as a failure unless
    the expression handles it. -#}
{% test row_rule(model, expression, column_name=none) %}
select *
from {{ model }}
where not coalesce(({{ expression }}), false)
{% endtest %}

{#- Key combinations that occur more than once. -#}
{% test unique_key(model, columns) %}
select
    {% for c in columns %}{{ adapter.quote(c) }}, {% endfor %}
    count(*) as n_rows
from {{ model }}
group by all
having count(*) > 1
{% endtest %}

{#- Rows dated on a day the exchange calendar says is closed (or not in it at all). -#}
{% test on_trading_day(model, column_name, calendar) %}
select m.*
from {{ model }} as m
left join {{ calendar }} as c
    on m.{{ column_name }} = c.cal_date and c.is_open
where c.cal_date is null
{% endtest %}

{#- Rows of a stock dated outside its listing (before list_date, or on/after delist_date). -#}
{% test within_listing(model, column_name, securities) %}
select m.*, s.list_date, s.delist_date
from {{ model }} as m
left join {{ securities }} as s on m.ts_code = s.ts_code
where s.ts_code is null
    or m.{{ column_name }} < s.list_date
    or m.{{ column_name }} >= s.delist_date
{% endtest %}
