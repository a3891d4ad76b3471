-- accepted_events: the day's valid events, one per event_id.
-- grain: one row per event_id
-- key:   event_id
-- upstream: checked_events, duplicate_rows
-- A view: valid rows minus the (few) duplicates, read straight from the day's files by
-- each later step rather than copied. quantity null means 1 and is fixed to
-- DECIMAL(38, 6) here, once, so every later sum is exact and order-independent.
with

valid as (
    select * from checked_events where reason is null
),

kept as (
    select v.*
    from valid as v
    left join duplicate_rows as d
        on d.source_file = v.source_file
        and d.source_row = v.source_row
    where d.source_file is null
)

select
    event_id,
    ts,
    account_id,
    scope_id,
    product_code,
    meter,
    nullif(user_id, '') as user_id,
    nullif(resource_id, '') as resource_id,
    cast(coalesce(quantity, 1) as decimal(38, 6)) as quantity
from kept
