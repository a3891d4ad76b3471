-- revenue_entries: the value of every ledger entry that touches a slice (SPEC §9), in the
-- grant's cost currency, signed like the ledger's amount (+ puts value into a slice, -
-- draws it). An opening entry carries its slice's value; a draw carries
-- round_half_even(unit_cost x drawn_after, 6) - round_half_even(unit_cost x drawn_before, 6),
-- and the draw that empties its slice all of the value not yet drawn, so the draws of a
-- slice add up to its value exactly. value_remaining is the slice's value not yet drawn
-- after the entry (like grant_remaining for credits). Overdraft entries touch no slice and
-- carry no value: they are not here.
-- grain: one row per ledger entry with a grant slice
-- key:   (account_id, grant_id, entry_type, ref); the date is the partition
-- upstream: ledger_entries, slice_values, value_draws, value_entry_types
with

entries as (
    select
        e.account_id,
        e.grant_id,
        e.currency,
        e.entry_type,
        e.product_code,
        e.ref,
        e.amount,
        e.entry_order,
        t.role
    from ledger_entries as e
    inner join value_entry_types as t
        on t.entry_type = e.entry_type
    where t.role <> 'none'
),

valued as (
    select
        e.*,
        s.cost_currency,
        s.unit_cost,
        case
            when e.role = 'opens' then s.value
            when d.empties then -(s.value - d.value_before)
            else -d.partial_value
        end as value,
        case
            when e.role = 'opens' then s.value
            when d.empties then cast(0 as decimal(38, 6))
            else s.value - d.value_before - d.partial_value
        end as value_remaining
    from entries as e
    inner join slice_values as s
        on s.account_id = e.account_id and s.grant_id = e.grant_id
    left join value_draws as d
        on d.account_id = e.account_id
        and d.grant_id = e.grant_id
        and d.entry_type = e.entry_type
        and d.ref is not distinct from e.ref
)

select
    account_id,
    grant_id,
    currency,
    cost_currency,
    entry_type,
    product_code,
    ref,
    cast(amount as decimal(38, 6)) as credits,
    cast(unit_cost as decimal(38, 6)) as unit_cost,
    cast(value as decimal(38, 6)) as value,
    cast(value_remaining as decimal(38, 6)) as value_remaining,
    entry_order
from valued
