-- forecast_daily: the view of the burndown curve (SPEC §5 v3), computed on read: projected
-- available credits on each of the 90 days after as_of, from the compact forecast row's
-- burn rate, the day's slices and the job's expiry model (forecast_write_offs):
-- projected(d) = available - burn_rate * (d - as_of) - write-offs up to d. Partitions
-- written before v3 stored these rows; they are read as stored.
-- grain: one row per as_of day, account, currency and future date (1..90 days ahead)
-- key:   (as_of, account_id, currency, date)
-- upstream: forecast_rates, forecast_write_offs, _forecast_files, credit_rules
with

horizon as (
    select cast(unnest(range(1, r.forecast_horizon_days + 1)) as integer) as offset_days
    from credit_rules as r
),

days as (
    select
        r.as_of,
        r.account_id,
        r.currency,
        r.available,
        r.burn_rate,
        hz.offset_days,
        r.as_of + hz.offset_days as date
    from forecast_rates as r
    cross join horizon as hz
),

computed as (
    select
        d.as_of,
        d.account_id,
        d.currency,
        d.date,
        cast(
            d.available - d.burn_rate * d.offset_days - coalesce(w.written_off_to_date, 0)
            as decimal(38, 6)
        ) as projected_available
    from days as d
    asof left join forecast_write_offs as w
        on w.as_of = d.as_of
        and w.account_id = d.account_id
        and w.currency = d.currency
        and d.date >= w.expires_on
),

legacy as (
    select as_of, account_id, currency, date, projected_available
    from _forecast_files
    where date is not null
)

select * from computed
union all
select * from legacy
