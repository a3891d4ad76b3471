-- usage_by_user_daily: what each user used on the day (for usage-by-user views and reports).
-- grain: one row per account, scope, product, meter and user of the day
-- key:   (account_id, scope_id, product_code, meter, user_id); the date is the partition
-- upstream: accepted_events
select
    account_id,
    scope_id,
    product_code,
    meter,
    user_id,
    count(*) as events,
    sum(quantity) as quantity_sum
from accepted_events
where user_id is not null
group by account_id, scope_id, product_code, meter, user_id
