-- statements: each account's monthly statement per credit currency (SPEC §8), as the
-- ledger says now, open; the close copies them with status closed.
-- grain: one row per account, currency and calendar month
-- key:   (account_id, currency); the month is the partition
-- upstream: month_balances (balances rows of the months computed, with their date),
--           prior_movements (the movements of published statements over other days of
--           those months, or none), booked_corrections (corrections booked in those
--           months), books_context (run_id)
-- opening is the first day's opening (the available balance at the end of the previous
-- processed day, 0 before any), closing the last day's available, so the daily
-- conservation of balances gives opening + flows = closing exactly. A day's balances row
-- is the movements of a span of one day, and spans of disjoint days merge exactly (the
-- earliest span's opening, the latest's closing, the flows summed): so a night adds its
-- day to the month so far (prior_movements) rather than reading every day of the month.
with

day_spans as (
    select
        cast(date_trunc('month', b.date) as date) as month,
        b.account_id,
        b.currency,
        b.date as first_day,
        b.date as last_day,
        b.opening,
        b.granted,
        b.transferred_in,
        b.transferred_out,
        b.consumed,
        b.expired,
        b.voided,
        b.available as closing,
        b.overdraft
    from month_balances as b
),

spans as (
    select * from day_spans
    union all
    select
        month,
        account_id,
        currency,
        first_day,
        last_day,
        opening,
        granted,
        transferred_in,
        transferred_out,
        consumed,
        expired,
        voided,
        closing,
        overdraft
    from prior_movements
),

months as (
    select distinct month from spans
),

movements as (
    select
        month,
        account_id,
        currency,
        min(first_day) as first_day,
        max(last_day) as last_day,
        arg_min(opening, first_day) as opening,
        sum(granted) as granted,
        sum(transferred_in) as transferred_in,
        sum(transferred_out) as transferred_out,
        sum(consumed) as consumed,
        sum(expired) as expired,
        sum(voided) as voided,
        arg_max(closing, last_day) as closing,
        sum(overdraft) as overdraft
    from spans
    group by month, account_id, currency
),

corrections_booked as (
    select
        c.booked_month as month,
        c.account_id,
        c.currency,
        sum(c.consumed_delta) as corrections_consumed,
        sum(c.overdraft_delta) as corrections_overdraft,
        sum(c.available_delta) as corrections_available
    from booked_corrections as c
    inner join months as m on m.month = c.booked_month
    group by c.booked_month, c.account_id, c.currency
),

zero as (
    select cast(0 as decimal(38, 6)) as z
),

combined as (
    -- an account with corrections booked but no balances left in the month (its history
    -- was withdrawn) still gets its row, so every correction sits on a statement
    select
        coalesce(mv.month, cb.month) as month,
        coalesce(mv.account_id, cb.account_id) as account_id,
        coalesce(mv.currency, cb.currency) as currency,
        mv.first_day,
        mv.last_day,
        coalesce(mv.opening, z.z) as opening,
        coalesce(mv.granted, z.z) as granted,
        coalesce(mv.transferred_in, z.z) as transferred_in,
        coalesce(mv.transferred_out, z.z) as transferred_out,
        coalesce(mv.consumed, z.z) as consumed,
        coalesce(mv.expired, z.z) as expired,
        coalesce(mv.voided, z.z) as voided,
        coalesce(mv.closing, z.z) as closing,
        coalesce(mv.overdraft, z.z) as overdraft,
        coalesce(cb.corrections_consumed, z.z) as corrections_consumed,
        coalesce(cb.corrections_overdraft, z.z) as corrections_overdraft,
        coalesce(cb.corrections_available, z.z) as corrections_available
    from movements as mv
    full outer join corrections_booked as cb
        on cb.month = mv.month
        and cb.account_id = mv.account_id
        and cb.currency = mv.currency
    cross join zero as z
)

select
    c.account_id || ':' || strftime(c.month, '%Y-%m') || ':' || c.currency as statement_id,
    c.account_id,
    c.currency,
    c.month,
    c.first_day,
    c.last_day,
    cast(c.opening as decimal(38, 6)) as opening,
    cast(c.granted as decimal(38, 6)) as granted,
    cast(c.transferred_in as decimal(38, 6)) as transferred_in,
    cast(c.transferred_out as decimal(38, 6)) as transferred_out,
    cast(c.consumed as decimal(38, 6)) as consumed,
    cast(c.expired as decimal(38, 6)) as expired,
    cast(c.voided as decimal(38, 6)) as voided,
    cast(c.closing as decimal(38, 6)) as closing,
    cast(c.overdraft as decimal(38, 6)) as overdraft,
    cast(c.consumed + c.overdraft as decimal(38, 6)) as charged,
    cast(c.corrections_consumed as decimal(38, 6)) as corrections_consumed,
    cast(c.corrections_overdraft as decimal(38, 6)) as corrections_overdraft,
    cast(c.corrections_available as decimal(38, 6)) as corrections_available,
    'open' as status,
    cast(null as timestamp) as closed_at,
    ctx.run_id
from combined as c
cross join books_context as ctx
