with source as (
    select * from {{ source('tushare', 'adj_factor') }}
),

renamed as (
    select
        -- keys
        ts_code,
        {{ yyyymmdd_to_date('trade_date') }} as trade_date,
        -- cumulative back-adjustment factor, dimensionless
        cast(adj_factor as double) as adj_factor,
        -- lineage
        filename as source_file
    from source
)

select * from renamed
