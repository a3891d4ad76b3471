-- event_groups: both first-level aggregations of the day's accepted events, computed in
-- one scan of the files (GROUPING SETS): per account, scope, product, meter and user, and
-- per account, scope, product, meter and resource (each with the hour, for meters an
-- hour-period plan prices). user_groups and resource_groups are views of it; the
-- two-level aggregation (usage, users and units counted and summed from these groups)
-- reads the day's events once here instead of once per step or per level.
-- grain: one row per (is_resource_group, account, scope, product, meter, user or
--        resource, hour_key)
-- key:   (is_resource_group, account_id, scope_id, product_code, meter, user_id,
--        resource_id, hour_key); user_id is null in a resource group and resource_id in
--        a user group; either may be null in its own group (events without one)
-- upstream: accepted_events, active_plans
--   hour_key  the event's hour where an active plan on its (product, meter) bills by the
--             hour, else null: only hour periods need the hour, and keeping it out of the
--             key elsewhere keeps a user or resource seen all day in one group
with

events as (
    select * from accepted_events
),

hourly_meters as (
    select distinct product_code, meter
    from active_plans
    where billing_period = 'hour'
),

keyed as (
    select
        e.account_id,
        e.scope_id,
        e.product_code,
        e.meter,
        e.user_id,
        e.resource_id,
        case when hm.meter is not null then date_trunc('hour', e.ts) end as hour_key,
        e.quantity
    from events as e
    left join hourly_meters as hm
        on hm.product_code = e.product_code
        and hm.meter = e.meter
)

select
    grouping(user_id) = 1 as is_resource_group,  -- user_id is not a key of the resource set
    account_id,
    scope_id,
    product_code,
    meter,
    user_id,
    resource_id,
    hour_key,
    count(*) as events,
    sum(quantity) as quantity_sum,
    max(quantity) as quantity_max
from keyed
group by grouping sets (
    (account_id, scope_id, product_code, meter, user_id, hour_key),
    (account_id, scope_id, product_code, meter, resource_id, hour_key)
)
