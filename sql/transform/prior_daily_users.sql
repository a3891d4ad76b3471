-- prior_daily_users: the most distinct users any earlier day of the month saw, per
-- daily_unique_users plan, account and threshold key (for user_limit_exceeded).
-- grain: one row per (plan, account, threshold key) with earlier usage this month
-- key:   (plan_id, account_id, threshold_key)
-- upstream: charges_history
with

daily as (
    select
        plan_id,
        account_id,
        threshold_key,
        date,
        sum(units) as day_users
    from charges_history
    where algorithm = 'daily_unique_users'
      and billing_period = 'month'
    group by plan_id, account_id, threshold_key, date
)

select plan_id, account_id, threshold_key, max(day_users) as max_daily_users
from daily
group by plan_id, account_id, threshold_key
