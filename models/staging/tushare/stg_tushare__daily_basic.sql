with source as (
    select * from {{ source('tushare', 'daily_basic') }}
),

renamed as (
    select
        -- keys
        ts_code,
        {{ yyyymmdd_to_date('trade_date') }} as trade_date,
        -- price, CNY, unadjusted
        cast(close as double) as close,
        -- turnover as fractions
        {{ percent_to_fraction('cast(turnover_rate as double)') }} as turnover_rate,
        {{ percent_to_fraction('cast(turnover_rate_f as double)') }} as turnover_rate_free,
        cast(volume_ratio as double) as volume_ratio,
        -- valuation ratios, dimensionless
        cast(pe as double) as pe,
        cast(pe_ttm as double) as pe_ttm,
        cast(pb as double) as pb,
        cast(ps as double) as ps,
        cast(ps_ttm as double) as ps_ttm,
        {{ percent_to_fraction('cast(dv_ratio as double)') }} as dividend_yield,
        {{ percent_to_fraction('cast(dv_ttm as double)') }} as dividend_yield_ttm,
        -- share counts in shares, market values in CNY
        {{ ten_thousand_to_units('cast(total_share as double)') }} as total_shares,
        {{ ten_thousand_to_units('cast(float_share as double)') }} as float_shares,
        {{ ten_thousand_to_units('cast(free_share as double)') }} as free_shares,
        {{ ten_thousand_to_units('cast(total_mv as double)') }} as total_mv,
        {{ ten_thousand_to_units('cast(circ_mv as double)') }} as float_mv,
        -- lineage: the vendor's own date key, which date filters can push down to Parquet
        trade_date as vendor_trade_date,
        filename as source_file
    from source
)

select * from renamed
