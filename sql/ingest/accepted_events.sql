-- accepted_events: the day's valid events, one per event_id.
-- grain: one row per event_id
-- key:   event_id
-- upstream: checked_events, duplicate_rows, out_of_range_rows
-- A view: the input rows validation finds valid (checked_events), minus the (few)
-- duplicate and out-of-range rows, read straight from the day's files by each later step
-- rather than copied. Validation thus runs in the scan that aggregates the events
-- (event_groups), not in one of its own; the rejected rows are listed after it
-- (rejected_rows). Rows are excluded by their (source_file, source_row): on a clean day
-- both excluded tables are empty and the joins pass every row through. quantity null
-- means 1 and is fixed to DECIMAL(38, 6) here, once, so every later sum is exact and
-- order-independent.
with

checked as (
    select * from checked_events
),

kept as (
    select c.*
    from checked as c
    left join duplicate_rows as d
        on d.source_file = c.source_file
        and d.source_row = c.source_row
    left join out_of_range_rows as o
        on o.source_file = c.source_file
        and o.source_row = c.source_row
    where c.reason is null
      and d.source_file is null
      and o.source_file is null
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
