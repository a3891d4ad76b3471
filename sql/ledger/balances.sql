-- balances: each account's credits per currency at the end of the day (SPEC §5), every
-- day from its first activity, activity or not.
-- grain: one row per account, currency and day
-- key:   (account_id, currency); the date is the partition
-- upstream: ledger_entries (today), slices (end of today), balances_prev (previous
--           processed day), run_context, credit_rules (band_share, expiring_window_days)
-- in_overdraft (beyond SPEC §5) carries the overdraft condition to the next day's alerts.
-- voided (SPEC §10) is the day's voids; voided_total (beyond the SPEC) their running sum;
-- entitled is available >= 1 (SPEC §10). Rollover entries move credits between two slices
-- of one account and currency: they cancel out here.
-- Conservation: purchased_total - used_total - expired_total - voided_total = available
-- (audited).
with

context as (
    select ctx.day, r.band_share, r.expiring_window_days
    from run_context as ctx
    cross join credit_rules as r
),

activity as (
    select
        account_id,
        currency,
        sum(case when entry_type = 'grant' then amount else 0 end) as granted,
        sum(case when entry_type = 'transfer_in' then amount else 0 end) as transferred_in,
        sum(case when entry_type = 'transfer_out' then -amount else 0 end) as transferred_out,
        sum(case when entry_type = 'consume' then -amount else 0 end) as consumed,
        sum(case when entry_type = 'expire' then -amount else 0 end) as expired,
        sum(case when entry_type = 'void' then -amount else 0 end) as voided,
        sum(case when entry_type = 'overdraft' then -amount else 0 end) as overdraft
    from ledger_entries
    group by account_id, currency
),

holdings as (
    select
        s.account_id,
        s.currency,
        sum(s.remaining) as available,
        sum(
            case
                when s.expires_on > ctx.day
                    and s.expires_on <= ctx.day + ctx.expiring_window_days
                    then s.remaining
                else 0
            end
        ) as expiring_90d
    from slices as s
    cross join context as ctx
    group by s.account_id, s.currency
),

keys as (
    select account_id, currency from balances_prev
    union
    select account_id, currency from activity
    union
    select account_id, currency from holdings
),

zero as (
    select cast(0 as decimal(38, 6)) as z
),

combined as (
    select
        k.account_id,
        k.currency,
        coalesce(p.available, z.z) as opening,
        coalesce(a.granted, z.z) as granted,
        coalesce(a.transferred_in, z.z) as transferred_in,
        coalesce(a.transferred_out, z.z) as transferred_out,
        coalesce(a.consumed, z.z) as consumed,
        coalesce(a.expired, z.z) as expired,
        coalesce(a.voided, z.z) as voided,
        coalesce(a.overdraft, z.z) as overdraft,
        coalesce(h.available, z.z) as available,
        coalesce(p.overdraft_total, z.z) + coalesce(a.overdraft, z.z) as overdraft_total,
        coalesce(p.purchased_total, z.z) + coalesce(a.granted, z.z)
        + coalesce(a.transferred_in, z.z) - coalesce(a.transferred_out, z.z)
          as purchased_total,
        coalesce(p.used_total, z.z) + coalesce(a.consumed, z.z) as used_total,
        coalesce(p.expired_total, z.z) + coalesce(a.expired, z.z) as expired_total,
        coalesce(p.voided_total, z.z) + coalesce(a.voided, z.z) as voided_total,
        coalesce(h.expiring_90d, z.z) as expiring_90d,
        -- in overdraft from the first uncovered charge until credits arrive again
        coalesce(a.overdraft, z.z) > 0
        or (
            coalesce(p.in_overdraft, false)
            and coalesce(a.granted, z.z) + coalesce(a.transferred_in, z.z) = 0
        ) as in_overdraft,
        ctx.band_share
    from keys as k
    cross join zero as z
    cross join context as ctx
    left join balances_prev as p
        on p.account_id = k.account_id and p.currency = k.currency
    left join activity as a
        on a.account_id = k.account_id and a.currency = k.currency
    left join holdings as h
        on h.account_id = k.account_id and h.currency = k.currency
)

select
    account_id,
    currency,
    cast(opening as decimal(38, 6)) as opening,
    cast(granted as decimal(38, 6)) as granted,
    cast(transferred_in as decimal(38, 6)) as transferred_in,
    cast(transferred_out as decimal(38, 6)) as transferred_out,
    cast(consumed as decimal(38, 6)) as consumed,
    cast(expired as decimal(38, 6)) as expired,
    cast(voided as decimal(38, 6)) as voided,
    cast(overdraft as decimal(38, 6)) as overdraft,
    cast(available as decimal(38, 6)) as available,
    cast(overdraft_total as decimal(38, 6)) as overdraft_total,
    cast(purchased_total as decimal(38, 6)) as purchased_total,
    cast(used_total as decimal(38, 6)) as used_total,
    cast(expired_total as decimal(38, 6)) as expired_total,
    cast(voided_total as decimal(38, 6)) as voided_total,
    case
        when purchased_total > 0
            then cast(round(cast(available as double) * 100 / cast(purchased_total as double), 2)
                      as decimal(9, 2))
    end as available_pct,
    case when available > purchased_total * band_share then 'green' else 'red' end as band,
    cast(expiring_90d as decimal(38, 6)) as expiring_90d,
    in_overdraft,
    available >= 1 as entitled
from combined
