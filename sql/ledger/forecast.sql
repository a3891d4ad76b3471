-- forecast: the burndown forecast at the run's day (SPEC §5 v3), one compact row per
-- account and currency: the trailing-30-day mean burn, the depletion date and the projected
-- balance 30, 60 and 90 days ahead, known expiries written off (forecast_write_offs). The
-- day-by-day curve is the view forecast_daily, computed on read from this row and the day's
-- slices (sql/serving/forecast_daily.sql), not stored.
-- grain: one row per as_of day, account and currency
-- key:   (account_id, currency); as_of is the partition
-- upstream: forecast_rates, forecast_write_offs, run_context, credit_rules
-- projected(d) = available - burn_rate * (d - as_of) - write-offs up to d; it never rises.
with

context as (
    select ctx.day, r.depletion_horizon_days
    from run_context as ctx
    cross join credit_rules as r
),

expiries as (
    -- per account and currency, over its expiry days (available and burn_rate come
    -- along): the depletion date from them (below) and the write-offs up to 30, 60 and
    -- 90 days ahead
    select
        w.account_id,
        w.currency,
        min(
            case
                when w.available - w.written_off_to_date <= 0 then w.expires_on
                when w.burn_rate > 0 then greatest(
                    w.expires_on,
                    ctx.day + cast(least(ceil(
                        cast(w.available - w.written_off_to_date as double)
                        / cast(w.burn_rate as double)
                    ), 100000) as integer)
                )
            end
        ) as depletion_date,
        sum(case when w.expires_on <= ctx.day + 30 then w.written_off end) as written_off_30d,
        sum(case when w.expires_on <= ctx.day + 60 then w.written_off end) as written_off_60d,
        sum(case when w.expires_on <= ctx.day + 90 then w.written_off end) as written_off_90d
    from forecast_write_offs as w
    cross join context as ctx
    group by w.account_id, w.currency
),

projected as (
    -- projected(d) never rises, so the first day at or below zero is the earliest, over
    -- the first day and the days a write-off happens, of max(that day, the day the burn
    -- empties what is left after the write-offs up to it): here the first day's, and
    -- the earliest of the expiry days' (either may be null: no depletion from there)
    select
        r.account_id,
        r.currency,
        r.available,
        r.burn_rate,
        case
            when r.available <= 0 then ctx.day + 1
            when r.burn_rate > 0 then greatest(
                ctx.day + 1,
                -- capped: a tiny burn may take millions of days (only
                -- depletion_horizon_days are shown)
                ctx.day + cast(least(ceil(
                    cast(r.available as double) / cast(r.burn_rate as double)
                ), 100000) as integer)
            )
        end as first_day_depletion,
        e.depletion_date as expiry_depletion,
        e.written_off_30d,
        e.written_off_60d,
        e.written_off_90d
    from forecast_rates as r
    cross join context as ctx
    left join expiries as e
        on e.account_id = r.account_id and e.currency = r.currency
),

depletion as (
    select
        *,
        least(
            coalesce(first_day_depletion, expiry_depletion),
            coalesce(expiry_depletion, first_day_depletion)
        ) as depletion_date
    from projected
)

select
    d.account_id,
    d.currency,
    d.burn_rate,
    case when d.depletion_date <= ctx.day + ctx.depletion_horizon_days then d.depletion_date end
        as depletion_date,
    cast(d.available - d.burn_rate * 30 - coalesce(d.written_off_30d, 0) as decimal(38, 6))
        as projected_available_30d,
    cast(d.available - d.burn_rate * 60 - coalesce(d.written_off_60d, 0) as decimal(38, 6))
        as projected_available_60d,
    cast(d.available - d.burn_rate * 90 - coalesce(d.written_off_90d, 0) as decimal(38, 6))
        as projected_available_90d
from depletion as d
cross join context as ctx
