-- explain_events: the day's accepted events with the file and row each was read from, for
-- explain to name the event behind a subject or a sum (accepted_events drops the source).
-- grain: one row per accepted event
-- key:   event_id
-- upstream: raw_events, rejected_rows, duplicate_rows (the job's own ingest steps decide
--           which rows are quarantined or duplicates; this only keeps the others)
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
    source_file,
    source_row
from kept
