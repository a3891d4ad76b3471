-- revenue_entries: the value of every ledger entry that touches a slice (SPEC §9), in the
-- grant's cost currency, signed like the ledger's amount (+ puts value into a slice, -
-- draws it). An opening entry carries its slice's value; a draw carries
-- round_half_even(unit_cost x drawn_after, 6) - round_half_even(unit_cost x drawn_before, 6),
-- and the draw that empties its slice all of the value not yet drawn, so the draws of a
-- slice add up to its value exactly. value_remaining is the slice's value not yet drawn
-- after the entry (like grant_remaining for credits). Overdraft entries touch no slice and
-- carry no value: they are not here. The openings and the draws are valued apart, each
-- with one join to slice_values on (account_id, grant_id).
-- grain: one row per ledger entry with a grant slice
-- key:   (account_id, grant_id, entry_type, ref); the date is the partition
-- upstream: ledger_entries, slice_values, value_draws (every draw, with its entry's
--           columns), value_entry_types
with

opens as (
    select
        e.account_id,
        e.grant_id,
        e.currency,
        s.cost_currency,
        e.entry_type,
        e.product_code,
        e.ref,
        e.amount,
        s.unit_cost,
        s.value,
        s.value as value_remaining,
        e.entry_order
    from ledger_entries as e
    inner join value_entry_types as t
        on t.entry_type = e.entry_type
    inner join slice_values as s
        on s.account_id = e.account_id and s.grant_id = e.grant_id
    where t.role = 'opens'
),

draws as (
    select
        d.account_id,
        d.grant_id,
        d.currency,
        s.cost_currency,
        d.entry_type,
        d.product_code,
        d.ref,
        d.amount,
        s.unit_cost,
        case
            when d.empties then -(s.value - d.value_before)
            else -d.partial_value
        end as value,
        case
            when d.empties then cast(0 as decimal(38, 6))
            else s.value - d.value_before - d.partial_value
        end as value_remaining,
        d.entry_order
    from value_draws as d
    inner join slice_values as s
        on s.account_id = d.account_id and s.grant_id = d.grant_id
),

valued as (
    select * from opens
    union all
    select * from draws
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
