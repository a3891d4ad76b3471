-- ledger_burn: SPEC §4 step 4 for one product per account: the product's charges draw
-- from the slices it may use in burn order (grant_burn_rank); what no slice covers is
-- overdraft, in the currency of the last slice the product could use.
-- grain: one row per (charge, slice) overlap, plus one per charge part left uncovered
-- key:   (ref = transaction_id, grant_id); grant_id is null on overdraft rows
-- upstream: charges_to_burn, slices, grant_burn_rank
-- parameter: $product_rank, this round's rank of the accounts' products
-- Charges and eligible slices are laid end to end as intervals of credits; a charge takes
-- from a slice exactly the length of their overlap.
with

charges_in as (
    select
        account_id,
        product_code,
        transaction_id,
        credits,
        coalesce(
            sum(credits) over (
                partition by account_id
                order by charge_order
                rows between unbounded preceding and 1 preceding
            ),
            cast(0 as decimal(38, 6))
        ) as charge_start
    from charges_to_burn
    where product_rank = $product_rank
),

round_products as (
    select distinct account_id, product_code from charges_in
),

eligible as (
    select
        s.account_id,
        s.grant_id,
        s.currency,
        s.remaining,
        r.burn_rank,
        coalesce(
            sum(s.remaining) over (
                partition by s.account_id
                order by r.burn_rank
                rows between unbounded preceding and 1 preceding
            ),
            cast(0 as decimal(38, 6))
        ) as slice_start
    from slices as s
    inner join round_products as p
        on p.account_id = s.account_id
    inner join grant_burn_rank as r
        on r.account_id = s.account_id and r.grant_id = s.grant_id
    where s.products = '' or position(';' || p.product_code || ';' in s.products) > 0
),

account_cover as (
    select
        account_id,
        sum(remaining) as covered,
        arg_max(currency, burn_rank) as last_currency
    from eligible
    group by account_id
),

consumed as (
    select
        c.account_id,
        e.grant_id,
        e.currency,
        'consume' as entry_type,
        -(
            case when c.charge_start + c.credits < e.slice_start + e.remaining
                 then c.charge_start + c.credits else e.slice_start + e.remaining end
            - case when c.charge_start > e.slice_start then c.charge_start else e.slice_start end
        ) as amount,
        c.product_code,
        c.transaction_id as ref,
        e.slice_start + e.remaining
        - case when c.charge_start + c.credits < e.slice_start + e.remaining
               then c.charge_start + c.credits else e.slice_start + e.remaining end
          as grant_remaining
    from charges_in as c
    inner join eligible as e
        on e.account_id = c.account_id
        and e.slice_start < c.charge_start + c.credits
        and c.charge_start < e.slice_start + e.remaining
    where e.remaining > 0
),

overdrawn as (
    select
        c.account_id,
        cast(null as varchar) as grant_id,
        coalesce(ac.last_currency, 'flex_credit') as currency,
        'overdraft' as entry_type,
        -(
            c.charge_start + c.credits
            - case when c.charge_start > coalesce(ac.covered, 0)
                   then c.charge_start else coalesce(ac.covered, 0) end
        ) as amount,
        c.product_code,
        c.transaction_id as ref,
        cast(null as decimal(38, 6)) as grant_remaining
    from charges_in as c
    left join account_cover as ac
        on ac.account_id = c.account_id
    where c.charge_start + c.credits > coalesce(ac.covered, 0)
)

select * from consumed
union all
select * from overdrawn
