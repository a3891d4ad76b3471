-- audit_revenue_values: every ledger entry must have a value rule (value_entry_types),
-- every entry that touches a slice a value in revenue_entries, and every slice a value, or
-- the revenue of the day would silently miss it (a new entry type, a move whose source
-- draw was not found). Returns the entries or slices without (zero rows = pass).
-- grain: one row per entry without a rule or a value, or slice without a value
-- key:   (account_id, grant_id)
-- upstream: ledger_entries, value_entry_types, revenue_entries, slice_values
with

ruled as (
    select e.account_id, e.grant_id, e.entry_type, e.ref, t.role
    from ledger_entries as e
    left join value_entry_types as t
        on t.entry_type = e.entry_type
)

select r.account_id, r.grant_id, 'no value rule for ' || r.entry_type as problem
from ruled as r
where r.role is null
union all
select r.account_id, r.grant_id, 'no value for ' || r.entry_type as problem
from ruled as r
left join revenue_entries as v
    on v.account_id = r.account_id
    and v.grant_id = r.grant_id
    and v.entry_type = r.entry_type
    and v.ref is not distinct from r.ref
where r.role in ('opens', 'draws')
  and v.value is null
union all
select account_id, grant_id, 'slice without a value' as problem
from slice_values
where value is null
