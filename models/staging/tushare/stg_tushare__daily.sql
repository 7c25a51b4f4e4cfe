with source as (
    select * from {{ source('tushare', 'daily') }}
),

renamed as (
    select
        -- keys
        ts_code,
        {{ yyyymmdd_to_date('trade_date') }} as trade_date,
        -- prices, CNY, unadjusted
        cast(open as double) as open,
        cast(high as double) as high,
        cast(low as double) as low,
        cast(close as double) as close,
        cast(pre_close as double) as pre_close,
        cast(change as double) as price_change,
        {{ percent_to_fraction('cast(pct_chg as double)') }} as pct_change,
        -- volume in shares, value in CNY
        {{ lots_to_shares('cast(vol as double)') }} as volume,
        {{ thousand_cny_to_cny('cast(amount as double)') }} as amount,
        -- lineage: the vendor's own date key, which date filters can push down to Parquet
        trade_date as vendor_trade_date,
        filename as source_file
    from source
)

select * from renamed
