-- transfer_slices: the receiver's new slices of one transfer, GRANT@TRANSFER, holding what
-- moved and keeping the sender slice's terms and origin, so they burn as the original would
-- have and roll over like it (SPEC §10).
-- grain: one row per sender slice drawn
-- key:   (account_id, grant_id)
-- upstream: ledger_transfer
select
    to_account as account_id,
    grant_id || '@' || transfer_id as grant_id,
    currency,
    priority,
    expires_on,
    unit_cost,
    cost_currency,
    effective_on,
    products,
    origin_id,
    rolled_over,
    moved as remaining
from ledger_transfer
