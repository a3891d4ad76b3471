-- usage_by_user_daily: what each user used on the day (for usage-by-user views and reports).
-- grain: one row per account, scope, product, meter and user of the day
-- key:   (account_id, scope_id, product_code, meter, user_id); the date is the partition
-- upstream: user_groups (the day's accepted events summed per user)
select
    account_id,
    scope_id,
    product_code,
    meter,
    user_id,
    cast(sum(events) as bigint) as events,
    sum(quantity_sum) as quantity_sum
from user_groups
where user_id is not null
group by account_id, scope_id, product_code, meter, user_id
