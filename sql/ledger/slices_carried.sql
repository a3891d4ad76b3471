-- slices_carried: the grant slices of the accounts the day leaves unchanged (not in
-- ledger_accounts), as the previous processed day ended them: nothing drew from them and
-- none expired, so remaining, drawn and value are yesterday's (SPEC §9's state).
-- grain: one row per grant slice of an account not in ledger_accounts
-- key:   (account_id, grant_id)
-- upstream: slices_prev (whole), ledger_accounts
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
    s.remaining,
    s.drawn,
    s.value
from slices_prev as s
where not exists (select 1 from ledger_accounts as a where a.account_id = s.account_id)
