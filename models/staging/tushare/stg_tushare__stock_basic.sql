with source as (
    select * from {{ source('tushare', 'stock_basic') }}
),

renamed as (
    select
        -- keys
        ts_code,
        symbol,
        -- attributes
        name,
        area,
        industry as tushare_industry,
        market,
        exchange,
        list_status,
        -- dates
        {{ yyyymmdd_to_date('list_date') }} as list_date,
        {{ yyyymmdd_to_date('delist_date') }} as delist_date,
        -- lineage
        filename as source_file
    from source
)

select * from renamed
