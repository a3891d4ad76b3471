-- user_groups: the day's accepted events summed per account, scope, product, meter and
-- user (and hour, for meters an hour-period plan prices). With resource_groups, the first
-- level of a two-level aggregation: usage, users and units are counted and summed from
-- these groups, so the day's events are aggregated once here instead of once per step.
-- grain: one row per (account, scope, product, meter, user, hour_key); events without a
--        user form the group whose user_id is null
-- key:   (account_id, scope_id, product_code, meter, user_id, hour_key); user_id and
--        hour_key may be null
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
        case when hm.meter is not null then date_trunc('hour', e.ts) end as hour_key,
        e.quantity
    from events as e
    left join hourly_meters as hm
        on hm.product_code = e.product_code
        and hm.meter = e.meter
)

select
    account_id,
    scope_id,
    product_code,
    meter,
    user_id,
    hour_key,
    count(*) as events,
    sum(quantity) as quantity_sum,
    max(quantity) as quantity_max
from keyed
group by account_id, scope_id, product_code, meter, user_id, hour_key
