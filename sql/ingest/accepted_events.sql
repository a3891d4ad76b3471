-- accepted_events: the day's valid events, one per event_id.
-- grain: one row per event_id
-- key:   event_id
-- upstream: raw_events, rejected_rows, duplicate_rows
-- A view: the input rows minus the rejected and the (few) duplicate rows, read straight
-- from the day's files by each later step rather than copied. Rows are excluded by their
-- (source_file, source_row), so validation is not evaluated again, and on a clean day
-- both excluded tables are empty and the joins pass every row through. quantity null
-- means 1 and is fixed to DECIMAL(38, 6) here, once, so every later sum is exact and
-- order-independent.
with

raw as (
    select * from raw_events
),

kept as (
    select r.*
    from raw as r
    left join rejected_rows as q
        on q.source_file = r.source_file
        and q.source_row = r.source_row
    left join duplicate_rows as d
        on d.source_file = r.source_file
        and d.source_row = r.source_row
    where q.source_file is null
      and d.source_file is null
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
    cast(coalesce(quantity, 1) as decimal(38, 6)) as quantity,
    source_file,  -- where each event was read (explain names it; later steps do not read it)
    source_row
from kept
