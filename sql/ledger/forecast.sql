-- forecast: the burndown forecast at the run's day (SPEC §5): projected available credits
-- per future day at the trailing-30-day mean burn, with known expiries written off.
-- grain: one row per as_of day, account, currency and future date (1..horizon days ahead)
-- key:   (account_id, currency, date); as_of is the partition
-- upstream: balances (today), burn_history (consumed on the 29 days before), slices (end
--           of today), grant_burn_rank, run_context (day, forecast_horizon_days)
-- Expiry model: the burn draws from slices in burn order; what a slice still holds when it
-- expires is written off that day. burn_rate is a statistic (computed through a double,
-- stored as DECIMAL); the ledger itself never touches floats.
with

context as (
    select day, forecast_horizon_days from run_context
),

recent as (
    -- balances has a row every day from an account's first activity, so count(*) is the
    -- number of days observed in the window: a new account's mean is not diluted by days
    -- before it existed
    select account_id, currency, sum(consumed) as consumed_30d, count(*) as days_observed
    from (
        select account_id, currency, consumed from burn_history
        union all
        select account_id, currency, consumed from balances
    ) as days
    group by account_id, currency
),

base as (
    select
        b.account_id,
        b.currency,
        b.available,
        cast(coalesce(r.consumed_30d / r.days_observed, 0) as decimal(38, 6)) as burn_rate
    from balances as b
    left join recent as r
        on r.account_id = b.account_id and r.currency = b.currency
),

placed as (
    -- every slice with credits, laid out in burn order (grant_burn_rank)
    select
        s.account_id,
        s.currency,
        s.expires_on,
        s.remaining,
        coalesce(
            sum(s.remaining) over (
                partition by s.account_id, s.currency
                order by r.burn_rank
                rows between unbounded preceding and 1 preceding
            ),
            cast(0 as decimal(38, 6))
        ) as slice_start
    from slices as s
    inner join grant_burn_rank as r
        on r.account_id = s.account_id and r.grant_id = s.grant_id
    where s.remaining > 0
),

expiring as (
    select p.*
    from placed as p
    cross join context as ctx
    where p.expires_on > ctx.day
      and p.expires_on <= ctx.day + 365
),

write_offs as (
    -- what the burn has not taken from a slice by its expiry: expiry comes before the
    -- day's burn, so the slice pays (expires_on - day - 1) more days of burn
    select
        e.account_id,
        e.currency,
        e.expires_on,
        sum(
            e.remaining
            - case
                when b.burn_rate * (e.expires_on - ctx.day - 1) - e.slice_start <= 0 then 0
                when b.burn_rate * (e.expires_on - ctx.day - 1) - e.slice_start >= e.remaining
                    then e.remaining
                else b.burn_rate * (e.expires_on - ctx.day - 1) - e.slice_start
            end
        ) as written_off
    from expiring as e
    inner join base as b
        on b.account_id = e.account_id and b.currency = e.currency
    cross join context as ctx
    group by e.account_id, e.currency, e.expires_on
),

breakpoints as (
    -- the day a write-off happens and all write-offs up to it
    select
        account_id,
        currency,
        expires_on as from_date,
        sum(written_off) over (
            partition by account_id, currency
            order by expires_on
            rows between unbounded preceding and current row
        ) as written_off_to_date
    from write_offs
    union all
    select b.account_id, b.currency, ctx.day + 1, cast(0 as decimal(38, 6))
    from base as b
    cross join context as ctx
),

depletion as (
    -- projected(d) never rises, so the first day at or below zero is the earliest over
    -- breakpoints of max(breakpoint, day when the burn empties what is left after it)
    select
        bp.account_id,
        bp.currency,
        min(
            case
                when b.available - bp.written_off_to_date <= 0 then bp.from_date
                when b.burn_rate > 0 then greatest(
                    bp.from_date,
                    -- capped: a tiny burn may take millions of days (only 365 are shown)
                    ctx.day + cast(least(ceil(
                        cast(b.available - bp.written_off_to_date as double)
                        / cast(b.burn_rate as double)
                    ), 100000) as integer)
                )
            end
        ) as depletion_date
    from breakpoints as bp
    inner join base as b
        on b.account_id = bp.account_id and b.currency = bp.currency
    cross join context as ctx
    group by bp.account_id, bp.currency
),

horizon as (
    select ctx.day + cast(h.offset_days as integer) as date, h.offset_days
    from context as ctx
    cross join range(1, 366) as h(offset_days)
    where h.offset_days <= ctx.forecast_horizon_days
),

projected as (
    select
        b.account_id,
        b.currency,
        hz.date,
        b.available - b.burn_rate * hz.offset_days - coalesce((
            select sum(w.written_off)
            from write_offs as w
            where w.account_id = b.account_id
              and w.currency = b.currency
              and w.expires_on <= hz.date
        ), 0) as projected_available,
        b.burn_rate
    from base as b
    cross join horizon as hz
)

select
    p.account_id,
    p.currency,
    p.date,
    cast(p.projected_available as decimal(38, 6)) as projected_available,
    p.burn_rate,
    case when d.depletion_date <= ctx.day + 365 then d.depletion_date end as depletion_date
from projected as p
cross join context as ctx
left join depletion as d
    on d.account_id = p.account_id and d.currency = p.currency
