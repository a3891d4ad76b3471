-- balances_carried: the balances of the accounts the day leaves unchanged (not in
-- ledger_accounts): the previous processed day's closing row carried forward, with no
-- flows. Nothing moved, no slice expired or entered the expiring window, so every total,
-- the band, expiring_90d, in_overdraft and entitled are yesterday's.
-- grain: one row per account and currency not in ledger_accounts
-- key:   (account_id, currency); the date is the partition
-- upstream: balances_prev (whole), ledger_accounts
select
    p.account_id,
    p.currency,
    p.available as opening,
    cast(0 as decimal(38, 6)) as granted,
    cast(0 as decimal(38, 6)) as transferred_in,
    cast(0 as decimal(38, 6)) as transferred_out,
    cast(0 as decimal(38, 6)) as consumed,
    cast(0 as decimal(38, 6)) as expired,
    cast(0 as decimal(38, 6)) as voided,
    cast(0 as decimal(38, 6)) as overdraft,
    p.available,
    p.overdraft_total,
    p.purchased_total,
    p.used_total,
    p.expired_total,
    p.voided_total,
    p.available_pct,
    p.band,
    p.expiring_90d,
    p.in_overdraft,
    p.entitled
from balances_prev as p
where not exists (select 1 from ledger_accounts as a where a.account_id = p.account_id)
