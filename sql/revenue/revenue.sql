-- revenue: deferred, recognised and breakage per account, credit currency and cost
-- currency (SPEC §9), every day from the account's first slice in them.
-- grain: one row per account, credit currency, cost currency and day
-- key:   (account_id, currency, cost_currency); the date is the partition
-- upstream: revenue_entries (today's values), slices (end of today), slice_values,
--           revenue_prev (the previous processed day's rows), value_entry_types
-- deferred_closing is computed from the slices alone (each live slice's value not yet
-- drawn: value - round_half_even(unit_cost x drawn, 6), 0 once empty) and the flows from
-- the entries alone, so audit_revenue_conservation checks one against the other:
-- deferred_opening + purchased + transferred_in_value - transferred_out_value - recognised
-- - breakage - voided_value = deferred_closing.
with

flows as (
    select
        e.account_id,
        e.currency,
        e.cost_currency,
        sum(case when t.revenue_column = 'purchased' then e.value else 0 end) as purchased,
        sum(case when t.revenue_column = 'transferred_in_value' then e.value else 0 end)
            as transferred_in_value,
        sum(case when t.revenue_column = 'transferred_out_value' then -e.value else 0 end)
            as transferred_out_value,
        sum(case when t.revenue_column = 'recognised' then -e.value else 0 end) as recognised,
        sum(case when t.revenue_column = 'breakage' then -e.value else 0 end) as breakage,
        sum(case when t.revenue_column = 'voided_value' then -e.value else 0 end)
            as voided_value
    from revenue_entries as e
    inner join value_entry_types as t
        on t.entry_type = e.entry_type
    group by e.account_id, e.currency, e.cost_currency
),

closing as (
    select
        s.account_id,
        s.currency,
        v.cost_currency,
        sum(
            case
                when s.remaining > 0
                    then v.value - round_half_even_6(v.unit_cost * (v.size - s.remaining))
                else 0
            end
        ) as deferred_closing
    from slices as s
    inner join slice_values as v
        on v.account_id = s.account_id and v.grant_id = s.grant_id
    group by s.account_id, s.currency, v.cost_currency
),

opening as (
    select account_id, currency, cost_currency, deferred_closing as deferred_opening
    from revenue_prev
),

revenue_keys as (
    select account_id, currency, cost_currency from opening
    union
    select account_id, currency, cost_currency from flows
    union
    select account_id, currency, cost_currency from closing
),

zero as (
    select cast(0 as decimal(38, 6)) as z
)

select
    k.account_id,
    k.currency,
    k.cost_currency,
    cast(coalesce(o.deferred_opening, z.z) as decimal(38, 6)) as deferred_opening,
    cast(coalesce(f.purchased, z.z) as decimal(38, 6)) as purchased,
    cast(coalesce(f.transferred_in_value, z.z) as decimal(38, 6)) as transferred_in_value,
    cast(coalesce(f.transferred_out_value, z.z) as decimal(38, 6)) as transferred_out_value,
    cast(coalesce(f.recognised, z.z) as decimal(38, 6)) as recognised,
    cast(coalesce(f.breakage, z.z) as decimal(38, 6)) as breakage,
    cast(coalesce(f.voided_value, z.z) as decimal(38, 6)) as voided_value,
    cast(coalesce(c.deferred_closing, z.z) as decimal(38, 6)) as deferred_closing
from revenue_keys as k
cross join zero as z
left join opening as o
    on o.account_id = k.account_id
    and o.currency = k.currency
    and o.cost_currency = k.cost_currency
left join flows as f
    on f.account_id = k.account_id
    and f.currency = k.currency
    and f.cost_currency = k.cost_currency
left join closing as c
    on c.account_id = k.account_id
    and c.currency = k.currency
    and c.cost_currency = k.cost_currency
