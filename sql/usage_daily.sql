-- usage_daily: what was used on the day, priced or not.
-- grain: one row per account, scope, product and meter of the day
-- key:   (account_id, scope_id, product_code, meter); the date is the partition
-- upstream: accepted_events
select
    account_id,
    scope_id,
    product_code,
    meter,
    count(*) as events,
    count(distinct user_id) as unique_users,
    count(distinct resource_id) as unique_resources,
    sum(quantity) as quantity_sum,
    max(quantity) as quantity_max
from accepted_events
group by account_id, scope_id, product_code, meter
