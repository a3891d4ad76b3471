-- forecast_summary: each account and currency's burn rate and depletion date at the
-- run's day, for the depletion_forecast alert.
-- grain: one row per account and currency
-- key:   (account_id, currency)
-- upstream: forecast
select account_id, currency, burn_rate, depletion_date
from forecast
