-- rollover_slices: the new SLICE~rollover slices of ledger_rollover (SPEC §10): effective
-- on the expiry day, expiring rollover_days later, holding what moved, keeping the
-- expiring slice's currency, priority, products, cost and origin (so a void of the grant
-- reaches it), and marked rolled_over (it never rolls over again).
-- grain: one row per slice rolling over
-- key:   (account_id, grant_id)
-- upstream: ledger_rollover
select
    account_id,
    rollover_id as grant_id,
    currency,
    priority,
    rollover_expires_on as expires_on,
    unit_cost,
    cost_currency,
    expires_on as effective_on,
    products,
    origin_id,
    true as rolled_over,
    moved as remaining
from ledger_rollover
