-- audit_revenue_values: every ledger entry must have a value rule (value_entry_types) and
-- every slice a value, or the revenue of the day would silently miss it (a new entry type,
-- a move whose source draw was not found). Returns the entries or slices without (zero
-- rows = pass).
-- grain: one row per entry without a rule or slice without a value
-- key:   (account_id, grant_id)
-- upstream: ledger_entries, value_entry_types, slice_values
select e.account_id, e.grant_id, e.entry_type as problem
from ledger_entries as e
left join value_entry_types as t
    on t.entry_type = e.entry_type
where t.entry_type is null
union all
select account_id, grant_id, 'slice without a value' as problem
from slice_values
where value is null
