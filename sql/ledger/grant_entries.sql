-- grant_entries: the ledger entries of step 2 of SPEC §4, one per grant taking effect.
-- grain: one entry per new grant slice
-- key:   (account_id, grant_id)
-- upstream: ledger_grant
select
    account_id,
    grant_id,
    currency,
    'grant' as entry_type,
    remaining as amount,
    cast(null as varchar) as product_code,
    cast(null as varchar) as ref,
    remaining as grant_remaining
from ledger_grant
