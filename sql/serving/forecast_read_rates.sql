-- forecast_read_rates: each published v3 forecast row with what the account held in the
-- currency at the end of as_of (the sum of its slices, as balances.available is), in the
-- form forecast_write_offs and forecast_daily read (the job's forecast_rates).
-- grain: one row per as_of, account and currency of a v3 forecast partition
-- key:   (as_of, account_id, currency)
-- upstream: _forecast_files, forecast_slices (forecast_read_slices)
with

held as (
    select as_of, account_id, currency, sum(remaining) as available
    from forecast_slices
    group by as_of, account_id, currency
)

select
    f.as_of,
    f.account_id,
    f.currency,
    coalesce(h.available, cast(0 as decimal(38, 6))) as available,
    f.burn_rate
from _forecast_files as f
left join held as h
    on h.as_of = f.as_of and h.account_id = f.account_id and h.currency = f.currency
where f.date is null
