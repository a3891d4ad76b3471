-- forecast_read_slices: the published slices at the end of each day (_state/grants) in
-- the form forecast_write_offs reads (the job's forecast_slices), for the forecast_daily
-- view.
-- grain: one row per day and grant slice alive at its end
-- key:   (as_of, account_id, grant_id)
-- upstream: _grant_state_files
select
    date as as_of,
    account_id,
    grant_id,
    currency,
    priority,
    expires_on,
    unit_cost,
    effective_on,
    remaining
from _grant_state_files
