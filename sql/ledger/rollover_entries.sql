-- rollover_entries: the ledger entries of ledger_rollover (SPEC §10): rollover_out (-)
-- from the expiring slice, rollover_in (+) into its SLICE~rollover slice. Both carry the
-- new slice's id as ref, as a transfer's two entries carry the transfer's: rollover_out's
-- ref is rollover_in's grant_id. The expire entry of the same slice (ledger_expire) comes
-- after rollover_out: its grant_remaining is rollover_out's minus what it writes off.
-- grain: one rollover_out and one rollover_in entry per slice rolling over
-- key:   (account_id, grant_id, entry_type)
-- upstream: ledger_rollover
select
    account_id,
    grant_id,
    currency,
    'rollover_out' as entry_type,
    -moved as amount,
    cast(null as varchar) as product_code,
    rollover_id as ref,
    remaining - moved as grant_remaining
from ledger_rollover
union all
select
    account_id,
    rollover_id as grant_id,
    currency,
    'rollover_in' as entry_type,
    moved as amount,
    cast(null as varchar) as product_code,
    rollover_id as ref,
    moved as grant_remaining
from ledger_rollover
