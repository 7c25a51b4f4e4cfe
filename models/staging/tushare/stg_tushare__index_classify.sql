with source as (
    select * from {{ source('tushare', 'index_classify') }}
),

renamed as (
    select
        -- keys
        index_code,
        industry_code,
        -- attributes
        industry_name,
        level as industry_level,
        src as classification,
        nullif(parent_code, '0') as parent_code,
        is_pub = '1' as is_published,
        -- lineage
        filename as source_file
    from source
)

select * from renamed
