-- forecast: the burndown forecast at the run's day (SPEC §5 v3), one compact row per
-- account and currency: the trailing-30-day mean burn, the depletion date and the projected
-- balance 30, 60 and 90 days ahead, known expiries written off (forecast_write_offs). The
-- day-by-day curve is the view forecast_daily, computed on read from this row and the day's
-- slices (sql/serving/forecast_daily.sql), not stored.
-- grain: one row per as_of day, account and currency
-- key:   (account_id, currency); as_of is the partition
-- upstream: forecast_rates, forecast_write_offs, run_context
-- projected(d) = available - burn_rate * (d - as_of) - write-offs up to d; it never rises.
with

context as (
    select day from run_context
),

breakpoints as (
    -- the days a write-off happens with all write-offs up to them, and the first day
    select account_id, currency, expires_on as from_date, written_off_to_date
    from forecast_write_offs
    union all
    select r.account_id, r.currency, ctx.day + 1, cast(0 as decimal(38, 6))
    from forecast_rates as r
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
                when r.available - bp.written_off_to_date <= 0 then bp.from_date
                when r.burn_rate > 0 then greatest(
                    bp.from_date,
                    -- capped: a tiny burn may take millions of days (only 365 are shown)
                    ctx.day + cast(least(ceil(
                        cast(r.available - bp.written_off_to_date as double)
                        / cast(r.burn_rate as double)
                    ), 100000) as integer)
                )
            end
        ) as depletion_date
    from breakpoints as bp
    inner join forecast_rates as r
        on r.account_id = bp.account_id and r.currency = bp.currency
    cross join context as ctx
    group by bp.account_id, bp.currency
),

ahead as (
    -- write-offs up to 30, 60 and 90 days ahead
    select
        w.account_id,
        w.currency,
        sum(case when w.expires_on <= ctx.day + 30 then w.written_off end) as written_off_30d,
        sum(case when w.expires_on <= ctx.day + 60 then w.written_off end) as written_off_60d,
        sum(case when w.expires_on <= ctx.day + 90 then w.written_off end) as written_off_90d
    from forecast_write_offs as w
    cross join context as ctx
    group by w.account_id, w.currency
)

select
    r.account_id,
    r.currency,
    r.burn_rate,
    case when d.depletion_date <= ctx.day + 365 then d.depletion_date end as depletion_date,
    cast(r.available - r.burn_rate * 30 - coalesce(a.written_off_30d, 0) as decimal(38, 6))
        as projected_available_30d,
    cast(r.available - r.burn_rate * 60 - coalesce(a.written_off_60d, 0) as decimal(38, 6))
        as projected_available_60d,
    cast(r.available - r.burn_rate * 90 - coalesce(a.written_off_90d, 0) as decimal(38, 6))
        as projected_available_90d
from forecast_rates as r
cross join context as ctx
left join depletion as d
    on d.account_id = r.account_id and d.currency = r.currency
left join ahead as a
    on a.account_id = r.account_id and a.currency = r.currency
