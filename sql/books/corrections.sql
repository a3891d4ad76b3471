-- corrections: what the ledger now says about a closed month beyond its issued statement
-- and the corrections already booked for it, booked once in the first open month (SPEC §8).
-- grain: one row per closed month, account and currency whose ledger moved since
-- key:   (closed_month, account_id, currency, correction_id); the booked month is the partition
-- upstream: statements_now (the closed months' statements recomputed from balances now),
--           issued_statements (the closed statements), booked_corrections (every
--           correction booked so far), restatement_reasons (closed_month, account_id,
--           currency, reason), books_context (run_id, booked_month)
-- Idempotent: the comparison is with statement + everything booked, so a rerun after a
-- crash books what is missing and nothing twice. available_delta is the correction's
-- effect on the closing balance, its own flows (a change carried into a later month's
-- opening is booked once, where the flows changed).
with

booked as (
    select
        closed_month,
        account_id,
        currency,
        count(*) as corrections,
        sum(granted_delta) as granted,
        sum(transferred_in_delta) as transferred_in,
        sum(transferred_out_delta) as transferred_out,
        sum(consumed_delta) as consumed,
        sum(expired_delta) as expired,
        sum(voided_delta) as voided,
        sum(overdraft_delta) as overdraft
    from booked_corrections
    group by closed_month, account_id, currency
),

keys as (
    select month as closed_month, account_id, currency from statements_now
    union
    select month as closed_month, account_id, currency from issued_statements
    union
    select closed_month, account_id, currency from booked
),

zero as (
    select cast(0 as decimal(38, 6)) as z
),

deltas as (
    select
        k.closed_month,
        k.account_id,
        k.currency,
        coalesce(b.corrections, 0) as corrections_before,
        coalesce(n.granted, z.z) - coalesce(s.granted, z.z) - coalesce(b.granted, z.z)
            as granted_delta,
        coalesce(n.transferred_in, z.z) - coalesce(s.transferred_in, z.z)
            - coalesce(b.transferred_in, z.z) as transferred_in_delta,
        coalesce(n.transferred_out, z.z) - coalesce(s.transferred_out, z.z)
            - coalesce(b.transferred_out, z.z) as transferred_out_delta,
        coalesce(n.consumed, z.z) - coalesce(s.consumed, z.z) - coalesce(b.consumed, z.z)
            as consumed_delta,
        coalesce(n.expired, z.z) - coalesce(s.expired, z.z) - coalesce(b.expired, z.z)
            as expired_delta,
        coalesce(n.voided, z.z) - coalesce(s.voided, z.z) - coalesce(b.voided, z.z)
            as voided_delta,
        coalesce(n.overdraft, z.z) - coalesce(s.overdraft, z.z) - coalesce(b.overdraft, z.z)
            as overdraft_delta
    from keys as k
    cross join zero as z
    left join statements_now as n
        on n.month = k.closed_month and n.account_id = k.account_id and n.currency = k.currency
    left join issued_statements as s
        on s.month = k.closed_month and s.account_id = k.account_id and s.currency = k.currency
    left join booked as b
        on b.closed_month = k.closed_month
        and b.account_id = k.account_id
        and b.currency = k.currency
),

changed as (
    select *
    from deltas
    where granted_delta <> 0
        or transferred_in_delta <> 0
        or transferred_out_delta <> 0
        or consumed_delta <> 0
        or expired_delta <> 0
        or voided_delta <> 0
        or overdraft_delta <> 0
)

select
    -- each part as <length>:<text>, so no id can shift a boundary (ids are any strings)
    md5(
        cast(length(c.account_id) as varchar) || ':' || c.account_id
        || cast(length(c.currency) as varchar) || ':' || c.currency
        || cast(length(strftime(c.closed_month, '%Y-%m')) as varchar) || ':'
        || strftime(c.closed_month, '%Y-%m')
        || cast(length(strftime(ctx.booked_month, '%Y-%m')) as varchar) || ':'
        || strftime(ctx.booked_month, '%Y-%m')
        || cast(length(cast(c.corrections_before + 1 as varchar)) as varchar) || ':'
        || cast(c.corrections_before + 1 as varchar)
    ) as correction_id,
    ctx.run_id,
    c.account_id,
    c.currency,
    c.closed_month,
    ctx.booked_month,
    coalesce(r.reason, 'cascade') as reason,
    cast(c.granted_delta as decimal(38, 6)) as granted_delta,
    cast(c.transferred_in_delta as decimal(38, 6)) as transferred_in_delta,
    cast(c.transferred_out_delta as decimal(38, 6)) as transferred_out_delta,
    cast(c.consumed_delta as decimal(38, 6)) as consumed_delta,
    cast(c.expired_delta as decimal(38, 6)) as expired_delta,
    cast(c.voided_delta as decimal(38, 6)) as voided_delta,
    cast(c.overdraft_delta as decimal(38, 6)) as overdraft_delta,
    cast(
        c.granted_delta + c.transferred_in_delta - c.transferred_out_delta - c.consumed_delta
        - c.expired_delta - c.voided_delta as decimal(38, 6)
    ) as available_delta
from changed as c
cross join books_context as ctx
left join restatement_reasons as r
    on r.closed_month = c.closed_month
    and r.account_id = c.account_id
    and r.currency = c.currency
