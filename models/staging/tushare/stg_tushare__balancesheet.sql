with source as (
    select * from {{ source('tushare', 'balancesheet') }}
),

renamed as (
    select
        -- keys and version
        {{ statement_keys() }}
        -- shares at period end
        cast(total_share as double) as total_shares,
        -- amounts at period end, CNY
        cast(total_assets as double) as total_assets,
        cast(total_cur_liab as double) as current_liabilities,
        cast(total_ncl as double) as non_current_liabilities,
        cast(total_liab as double) as total_liabilities,
        cast(lt_borr as double) as long_term_borrowings,
        cast(bond_payable as double) as bonds_payable,
        cast(oth_eqt_tools_p_shr as double) as preferred_equity,
        cast(total_hldr_eqy_exc_min_int as double) as parent_equity,
        cast(minority_int as double) as minority_interest,
        -- lineage
        filename as source_file
    from source
)

select * from renamed
