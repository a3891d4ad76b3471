-- alerts: conditions raised on the day they start, not every day they last (SPEC §5, §10).
-- grain: one row per alert
-- key:   (account_id, kind, ref); the date is the partition
-- upstream: balances, balances_prev, slices, slices_prev, rejected_transfers,
--           forecast_summary, depletion_prev, usage_alerts (charging's), run_context,
--           credit_rules
with

context as (
    select
        ctx.day, ctx.previous_day, r.band_percent, r.expiring_window_days,
        r.depletion_alert_days
    from run_context as ctx
    cross join credit_rules as r
),

low_balance as (
    select
        b.account_id,
        'low_balance' as kind,
        'warning' as severity,
        b.currency || ' balance ' || cast(b.available as varchar) || ' is at or below '
            || ctx.band_percent || '% of ' || cast(b.purchased_total as varchar)
            || ' purchased' as message,
        b.available as amount,
        b.currency as ref
    from balances as b
    cross join context as ctx
    left join balances_prev as p
        on p.account_id = b.account_id and p.currency = b.currency
    where b.band = 'red'
      and b.purchased_total > 0
      and (p.band is null or p.band = 'green' or p.purchased_total = 0)
),

expiring_soon as (
    select
        s.account_id,
        'expiring_soon' as kind,
        'info' as severity,
        'grant ' || s.grant_id || ': ' || cast(s.remaining as varchar) || ' ' || s.currency
            || ' expire on ' || cast(s.expires_on as varchar) as message,
        s.remaining as amount,
        s.grant_id as ref
    from slices as s
    cross join context as ctx
    left join slices_prev as p
        on p.account_id = s.account_id
        and p.grant_id = s.grant_id
        and p.remaining > 0
        and p.expires_on <= ctx.previous_day + ctx.expiring_window_days
    where s.remaining > 0
      and s.expires_on > ctx.day
      and s.expires_on <= ctx.day + ctx.expiring_window_days
      and p.grant_id is null
),

depletion_forecast as (
    select
        f.account_id,
        'depletion_forecast' as kind,
        'warning' as severity,
        f.currency || ' projected to run out on ' || cast(f.depletion_date as varchar)
            || ' at ' || cast(f.burn_rate as varchar) || ' per day' as message,
        f.burn_rate as amount,
        f.currency as ref
    from forecast_summary as f
    cross join context as ctx
    left join depletion_prev as p
        on p.account_id = f.account_id
        and p.currency = f.currency
        and p.depletion_date <= ctx.previous_day + ctx.depletion_alert_days
    inner join balances as b
        on b.account_id = f.account_id and b.currency = f.currency
    where f.depletion_date <= ctx.day + ctx.depletion_alert_days
      and b.available > 0  -- nothing left to run out of: low_balance has said it
      and p.account_id is null
),

overdraft as (
    select
        b.account_id,
        'overdraft' as kind,
        'critical' as severity,
        cast(b.overdraft as varchar) || ' ' || b.currency
            || ' charged without credits to cover them' as message,
        b.overdraft as amount,
        b.currency as ref
    from balances as b
    left join balances_prev as p
        on p.account_id = b.account_id and p.currency = b.currency
    where b.overdraft > 0
      and not coalesce(p.in_overdraft, false)
),

user_limit as (
    -- raised by charging (sql/transform/usage_alerts.sql), handed to the ledger
    select u.account_id, u.kind, u.severity, u.message, u.amount, u.ref
    from usage_alerts as u
),

entitlement_lost as (
    -- SPEC §10: entitled (available >= 1) turns false; a currency never held is not lost
    select
        b.account_id,
        'entitlement_lost' as kind,
        'critical' as severity,
        b.currency || ' balance ' || cast(b.available as varchar)
            || ' is below 1: products billed in it are no longer available' as message,
        b.available as amount,
        b.currency as ref
    from balances as b
    inner join balances_prev as p
        on p.account_id = b.account_id and p.currency = b.currency
    where not b.entitled
      and p.available >= 1
),

balance_recovered as (
    -- SPEC §10: back in green and out of overdraft after red (with credits purchased, as
    -- low_balance reads red) or overdraft
    select
        b.account_id,
        'balance_recovered' as kind,
        'info' as severity,
        b.currency || ' balance ' || cast(b.available as varchar) || ' is above '
            || ctx.band_percent || '% of ' || cast(b.purchased_total as varchar)
            || ' purchased and out of overdraft again' as message,
        b.available as amount,
        b.currency as ref
    from balances as b
    cross join context as ctx
    inner join balances_prev as p
        on p.account_id = b.account_id and p.currency = b.currency
    where b.band = 'green'
      and not b.in_overdraft
      and ((p.band = 'red' and p.purchased_total > 0) or p.in_overdraft)
),

rejected as (
    select
        r.from_account as account_id,
        'transfer_rejected' as kind,
        'warning' as severity,
        'transfer ' || r.transfer_id || ' of ' || cast(r.amount as varchar) || ' to '
            || r.to_account || ' rejected: only ' || cast(r.available as varchar)
            || ' available' as message,
        r.amount,
        r.transfer_id as ref
    from rejected_transfers as r
)

select account_id, kind, severity, message, cast(amount as decimal(38, 6)) as amount, ref
from (
    select * from low_balance
    union all select * from expiring_soon
    union all select * from depletion_forecast
    union all select * from overdraft
    union all select * from user_limit
    union all select * from rejected
    union all select * from entitlement_lost
    union all select * from balance_recovered
) as raised
