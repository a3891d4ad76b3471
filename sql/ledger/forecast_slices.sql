-- forecast_slices: the grant slices the forecast's expiry model reads, at the end of the
-- run's day: the same rows the day publishes as _state/grants, with their as_of, so that
-- forecast_write_offs reads the same relation in the job and in the forecast_daily view.
-- grain: one row per grant slice alive at the end of the day (remaining 0 too)
-- key:   (account_id, grant_id); as_of is the run's day
-- upstream: slices (end of today), run_context
select
    ctx.day as as_of,
    s.account_id,
    s.grant_id,
    s.currency,
    s.priority,
    s.expires_on,
    s.unit_cost,
    s.effective_on,
    s.remaining
from slices as s
cross join run_context as ctx
