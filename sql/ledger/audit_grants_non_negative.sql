-- audit_grants_non_negative: no grant slice may hold less than zero, and no ledger entry
-- may leave one below zero. Returns the violating rows (zero rows = pass).
-- grain: one row per negative slice or ledger entry leaving one negative
-- key:   (account_id, grant_id)
-- upstream: slices, ledger_entries
select account_id, grant_id, remaining as amount from slices where remaining < 0
union all
select account_id, grant_id, grant_remaining from ledger_entries where grant_remaining < 0
