-- prior_positions: units already posted earlier in each open month period, i.e. where
-- today's tier positions start (for peak: the running maximum so far, since a peak posts
-- only its increases).
-- grain: one row per (plan, month period, account, threshold key)
-- key:   (plan_id, period_start, account_id, threshold_key)
-- upstream: charges_history (charges of the month's earlier days, with their threshold_key)
select
    plan_id,
    period_start,
    account_id,
    threshold_key,
    sum(units) as units_to_date
from charges_history
where billing_period = 'month'
group by plan_id, period_start, account_id, threshold_key
