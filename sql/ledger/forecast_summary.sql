-- forecast_summary: each account and currency's burn rate and depletion date at the
-- run's day, for the depletion_forecast alert and the next day's depletion_prev.
-- grain: one row per account and currency
-- key:   (account_id, currency)
-- upstream: forecast
select distinct account_id, currency, burn_rate, depletion_date
from forecast
