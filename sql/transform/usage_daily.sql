-- usage_daily: what was used on the day, priced or not.
-- grain: one row per account, scope, product and meter of the day
-- key:   (account_id, scope_id, product_code, meter); the date is the partition
-- upstream: user_groups, resource_groups (the day's events grouped per user, per resource)
-- Every group of a user_groups key is one user, and every group of a resource_groups key
-- one resource, unless the meter is priced by the hour (hour_key not null): only those
-- keys need a distinct count. A key's groups all have, or all lack, an hour_key.
with

users as (
    select
        account_id,
        scope_id,
        product_code,
        meter,
        cast(sum(events) as bigint) as events,
        count(distinct user_id) as unique_users,
        sum(quantity_sum) as quantity_sum,
        max(quantity_max) as quantity_max
    from user_groups
    group by account_id, scope_id, product_code, meter
),

resources as (
    select account_id, scope_id, product_code, meter, count(*) as unique_resources
    from resource_groups
    where hour_key is null
    group by account_id, scope_id, product_code, meter
    union all
    select
        account_id, scope_id, product_code, meter,
        count(distinct resource_id) as unique_resources
    from resource_groups
    where hour_key is not null
    group by account_id, scope_id, product_code, meter
)

select
    u.account_id,
    u.scope_id,
    u.product_code,
    u.meter,
    u.events,
    u.unique_users,
    coalesce(r.unique_resources, 0) as unique_resources,
    u.quantity_sum,
    u.quantity_max
from users as u
left join resources as r
    on r.account_id = u.account_id
    and r.scope_id = u.scope_id
    and r.product_code = u.product_code
    and r.meter = u.meter
