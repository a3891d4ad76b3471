-- revenue_carried: the revenue rows of the accounts the day leaves unchanged (not in
-- ledger_accounts): no value moved, so the deferred balance opens and closes at the
-- previous processed day's closing (SPEC §9).
-- grain: one row per account, credit currency and cost currency not in ledger_accounts
-- key:   (account_id, currency, cost_currency); the date is the partition
-- upstream: revenue_prev (whole), ledger_accounts
select
    p.account_id,
    p.currency,
    p.cost_currency,
    p.deferred_closing as deferred_opening,
    cast(0 as decimal(38, 6)) as purchased,
    cast(0 as decimal(38, 6)) as transferred_in_value,
    cast(0 as decimal(38, 6)) as transferred_out_value,
    cast(0 as decimal(38, 6)) as recognised,
    cast(0 as decimal(38, 6)) as breakage,
    cast(0 as decimal(38, 6)) as voided_value,
    p.deferred_closing
from revenue_prev as p
where not exists (select 1 from ledger_accounts as a where a.account_id = p.account_id)
