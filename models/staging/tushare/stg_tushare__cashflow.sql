with source as (
    select * from {{ source('tushare', 'cashflow') }}
),

renamed as (
    select
        -- keys and version
        {{ statement_keys() }}
        -- amounts, CNY, cumulative within the fiscal year
        cast(n_cashflow_act as double) as operating_cash_flow,
        cast(n_cashflow_inv_act as double) as investing_cash_flow,
        cast(n_cash_flows_fnc_act as double) as financing_cash_flow,
        -- lineage
        filename as source_file
    from source
)

select * from renamed
