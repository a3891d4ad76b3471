-- slices_posted: the slices after a step's entries are posted: each slice's remaining plus
-- the signed amounts of the entries drawn from it (consume, transfer_out, void). The other
-- entries move no existing slice: grant, transfer_in and rollover_in come with their new
-- slice (ledger_grant, transfer_slices, rollover_slices), expire and rollover_out end one
-- (slices_opening), overdraft has none.
-- grain: one row per live grant slice
-- key:   (account_id, grant_id)
-- upstream: slices, posted_entries (the entries the step just wrote)
with

drawn as (
    select account_id, grant_id, sum(amount) as delta
    from posted_entries
    where entry_type in ('consume', 'transfer_out', 'void')
    group by account_id, grant_id
)

select
    s.account_id,
    s.grant_id,
    s.currency,
    s.priority,
    s.expires_on,
    s.unit_cost,
    s.cost_currency,
    s.effective_on,
    s.products,
    s.origin_id,
    s.rolled_over,
    s.remaining + coalesce(d.delta, 0) as remaining
from slices as s
left join drawn as d
    on d.account_id = s.account_id and d.grant_id = s.grant_id
