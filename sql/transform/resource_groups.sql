-- resource_groups: the distinct resources of the day's accepted events per account,
-- scope, product and meter (and hour, for meters an hour-period plan prices): the
-- resource side of the two-level aggregation (see user_groups), read by usage_daily's
-- resource count and by the resource algorithms' subjects.
-- grain: one row per (account, scope, product, meter, resource, hour_key)
-- key:   (account_id, scope_id, product_code, meter, resource_id, hour_key); hour_key may
--        be null (as in user_groups)
-- upstream: accepted_events, active_plans
-- No measures: nothing is summed per resource, and leaving them out keeps the largest
-- group table of the day narrow.
with

events as (
    select * from accepted_events
    where resource_id is not null
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
        e.resource_id,
        case when hm.meter is not null then date_trunc('hour', e.ts) end as hour_key
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
    resource_id,
    hour_key
from keyed
group by account_id, scope_id, product_code, meter, resource_id, hour_key
