-- accepted_events: the day's valid events, one per event_id.
-- grain: one row per event_id
-- key:   event_id
-- upstream: checked_events
-- An id seen twice is one event: keep the first by ts; the tie-break on every other
-- column makes the choice independent of file and row order. quantity null means 1 and is
-- fixed to DECIMAL(38, 6) here, once, so every later sum is exact and order-independent.
with

valid as (
    select * from checked_events where reason is null
),

ranked as (
    select
        event_id,
        ts,
        account_id,
        scope_id,
        product_code,
        meter,
        nullif(user_id, '') as user_id,
        nullif(resource_id, '') as resource_id,
        cast(coalesce(quantity, 1) as decimal(38, 6)) as quantity,
        row_number() over (
            partition by event_id
            order by
                ts, account_id, scope_id, product_code, meter,
                user_id nulls last, resource_id nulls last, quantity nulls last, source_file
        ) as event_rank
    from valid
)

select
    event_id,
    ts,
    account_id,
    scope_id,
    product_code,
    meter,
    user_id,
    resource_id,
    quantity
from ranked
where event_rank = 1
