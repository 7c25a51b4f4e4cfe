with source as (
    select * from {{ source('tushare', 'index_member_all') }}
),

renamed as (
    select
        -- keys
        ts_code,
        l1_code,
        {{ yyyymmdd_to_date('in_date') }} as in_date,
        -- industry path
        l1_name,
        l2_code,
        l2_name,
        l3_code,
        l3_name,
        -- attributes
        name as security_name,
        {{ yyyymmdd_to_date('out_date') }} as out_date,
        is_new = 'Y' as is_current,
        -- lineage
        filename as source_file
    from source
)

select * from renamed
