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
        -- lineage: the vendor's own date key, which date filters can push down to Parquet
        trade_date as vendor_trade_date,
        filename as source_file
    from source
)

select * from renamed
