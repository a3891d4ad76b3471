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

repeated_ids as (
    -- most ids are unique: only rows of repeated ids need ranking
    select event_id
    from valid
    group by event_id
    having count(*) > 1
),

unique_rows as (
    select v.*
    from valid as v
    left join repeated_ids as r
        on r.event_id = v.event_id
    where r.event_id is null
),

ranked_repeats as (
    select
        v.*,
        row_number() over (
            partition by v.event_id
            order by
                v.ts, v.account_id, v.scope_id, v.product_code, v.meter,
                v.user_id nulls last, v.resource_id nulls last, v.quantity nulls last,
                v.source_file
        ) as event_rank
    from valid as v
    inner join repeated_ids as r
        on r.event_id = v.event_id
),

kept as (
    select event_id, ts, account_id, scope_id, product_code, meter, user_id, resource_id,
           quantity
    from unique_rows
    union all
    select event_id, ts, account_id, scope_id, product_code, meter, user_id, resource_id,
           quantity
    from ranked_repeats
    where event_rank = 1
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
