with source as (
    select * from {{ source('tushare', 'trade_cal') }}
),

renamed as (
    select
        -- keys
        exchange,
        {{ yyyymmdd_to_date('cal_date') }} as cal_date,
        -- attributes
        cast(is_open as integer) = 1 as is_open,
        {{ yyyymmdd_to_date('pretrade_date') }} as pretrade_date,
        -- lineage
        filename as source_file
    from source
)

select * from renamed
