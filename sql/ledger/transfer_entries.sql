-- transfer_entries: the ledger entries of one transfer (SPEC §4 step 3): what leaves each
-- sender slice and what arrives in the receiver's slice GRANT@TRANSFER made from it.
-- grain: one transfer_out and one transfer_in entry per sender slice drawn
-- key:   (account_id, grant_id, ref = transfer_id)
-- upstream: ledger_transfer
select
    account_id,
    grant_id,
    currency,
    'transfer_out' as entry_type,
    -moved as amount,
    cast(null as varchar) as product_code,
    transfer_id as ref,
    remaining - moved as grant_remaining
from ledger_transfer
union all
select
    to_account as account_id,
    grant_id || '@' || transfer_id as grant_id,
    currency,
    'transfer_in' as entry_type,
    moved as amount,
    cast(null as varchar) as product_code,
    transfer_id as ref,
    moved as grant_remaining
from ledger_transfer
