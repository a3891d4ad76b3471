-- user_groups: the day's accepted events summed per account, scope, product, meter and
-- user (and hour, for meters an hour-period plan prices): the user level of event_groups.
-- grain: one row per (account, scope, product, meter, user, hour_key); events without a
--        user form the group whose user_id is null
-- key:   (account_id, scope_id, product_code, meter, user_id, hour_key); user_id and
--        hour_key may be null
-- upstream: event_groups
select
    account_id,
    scope_id,
    product_code,
    meter,
    user_id,
    hour_key,
    events,
    quantity_sum,
    quantity_max
from event_groups
where not is_resource_group
