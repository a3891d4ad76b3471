-- resource_groups: the distinct resources of the day's accepted events per account,
-- scope, product and meter (and hour, for meters an hour-period plan prices): the
-- resource level of event_groups, read by usage_daily's resource count and by the
-- resource algorithms' subjects. Events without a resource count no resource.
-- grain: one row per (account, scope, product, meter, resource, hour_key)
-- key:   (account_id, scope_id, product_code, meter, resource_id, hour_key); hour_key may
--        be null (as in user_groups)
-- upstream: event_groups
select
    account_id,
    scope_id,
    product_code,
    meter,
    resource_id,
    hour_key
from event_groups
where is_resource_group
  and resource_id is not null
