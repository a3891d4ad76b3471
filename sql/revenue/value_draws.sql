-- value_draws: every draw of the day (an entry whose type draws, value_entry_types) with
-- what SPEC §9 needs to value it: drawn counts the slice's credits drawn so far, so the
-- draw's value is round_half_even(unit_cost x drawn_after, 6) - round_half_even(unit_cost x
-- drawn_before, 6), except for the draw that empties the slice, which carries all of the
-- value not yet drawn (slice value - value_before; resolved in slice_values/revenue_entries).
-- Each draw lowers grant_remaining, so drawn_after = size - grant_remaining whatever the
-- order of the day's draws: no window over the entries is needed. The entry's own columns
-- come along for revenue_entries, which then needs no join back to the entries.
-- grain: one row per draw entry
-- key:   (account_id, grant_id, entry_type, ref)
-- upstream: ledger_entries, value_slices, value_entry_types
with

draws as (
    select
        e.account_id,
        e.grant_id,
        e.currency,
        e.entry_type,
        e.product_code,
        e.ref,
        e.amount,
        e.entry_order,
        s.unit_cost,
        s.size - e.grant_remaining as drawn_after,
        s.size - e.grant_remaining + e.amount as drawn_before,
        e.grant_remaining = 0 as empties
    from ledger_entries as e
    inner join value_entry_types as t
        on t.entry_type = e.entry_type
    inner join value_slices as s
        on s.account_id = e.account_id and s.grant_id = e.grant_id
    where t.role = 'draws'
),

valued as (
    select
        *,
        round_half_even_6(unit_cost * drawn_before) as value_before,
        round_half_even_6(unit_cost * drawn_after) as value_after
    from draws
)

select
    account_id,
    grant_id,
    currency,
    entry_type,
    product_code,
    ref,
    amount,
    entry_order,
    drawn_before,
    drawn_after,
    empties,
    value_before,
    value_after - value_before as partial_value
from valued
