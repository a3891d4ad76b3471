-- event_groups: both first-level aggregations of the day's accepted events, from one
-- read of the files: per account, scope, product, meter and user (with the events'
-- count, sum and max), and the distinct resources per account, scope, product and meter
-- (each with the hour, for meters an hour-period plan prices). user_groups and
-- resource_groups are views of it; the two-level aggregation (usage, users and units
-- counted and summed from these groups) reads the day's events once here instead of once
-- per step or per level.
-- grain: one row per (is_resource_group, account, scope, product, meter, user or
--        resource, hour_key)
-- key:   (is_resource_group, account_id, scope_id, product_code, meter, user_id,
--        resource_id, hour_key); user_id is null in a resource group and resource_id in
--        a user group; either may be null in its own group (events without one)
-- upstream: accepted_events, active_plans
--   hour_key  the event's hour where an active plan on its (product, meter) bills by the
--             hour, else null: only hour periods need the hour, and keeping it out of the
--             key elsewhere keeps a user or resource seen all day in one group
-- A resource group has no events, quantity_sum or quantity_max: resources are only ever
-- counted, and leaving the sums out of its half (two aggregates of one scan rather than
-- GROUPING SETS, which give every set every aggregate) took the step from 7.2 to 6.4 s
-- on the 10 M-event benchmark day, whose resources are nearly one per event.
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
    false as is_resource_group,
    account_id,
    scope_id,
    product_code,
    meter,
    user_id,
    cast(null as varchar) as resource_id,
    hour_key,
    count(*) as events,
    sum(quantity) as quantity_sum,
    max(quantity) as quantity_max
from keyed
group by account_id, scope_id, product_code, meter, user_id, hour_key

union all

select
    true as is_resource_group,
    account_id,
    scope_id,
    product_code,
    meter,
    cast(null as varchar) as user_id,
    resource_id,
    hour_key,
    cast(null as bigint) as events,
    cast(null as decimal(38, 6)) as quantity_sum,
    cast(null as decimal(38, 6)) as quantity_max
from keyed
group by account_id, scope_id, product_code, meter, resource_id, hour_key
