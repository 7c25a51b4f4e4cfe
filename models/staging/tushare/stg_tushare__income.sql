with source as (
    select * from {{ source('tushare', 'income') }}
),

renamed as (
    select
        -- keys and version
        {{ statement_keys() }}
        -- per share, CNY, cumulative within the fiscal year
        cast(basic_eps as double) as basic_eps,
        -- amounts, CNY, cumulative within the fiscal year
        cast(total_revenue as double) as total_revenue,
        cast(revenue as double) as revenue,
        cast(operate_profit as double) as operating_profit,
        cast(total_profit as double) as profit_before_tax,
        cast(n_income as double) as net_income,
        cast(n_income_attr_p as double) as net_income_parent,
        -- lineage
        filename as source_file
    from source
)

select * from renamed
