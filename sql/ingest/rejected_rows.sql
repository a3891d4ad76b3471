-- rejected_rows: the day's input rows that break a SPEC §3.1 rule, each with the first
-- rule it breaks (checked_events), and the valid rows out of the ledger's range
-- (out_of_range_rows).
-- grain: one row per rejected input row
-- key:   (source_file, source_row)
-- upstream: checked_events, out_of_range_rows, raw_events, user_groups, duplicate_rows
-- Validation runs in the scan that reads the rows anyway: accepted_events keeps the rows
-- checked_events finds valid, and event_groups aggregates them. The rejected rows are
-- read again only when there are any: when the day's rows outnumber those accepted (user
-- groups' events) and duplicated. On a clean day that gate is empty and the second read
-- of the files stops at once.
with

counted as (
    select
        (select count(*) from raw_events) as rows_read,
        (select coalesce(sum(events), 0) from user_groups)
        + (select count(*) from duplicate_rows) as rows_kept
),

gate as (
    select true as is_open
    from counted
    where rows_read > rows_kept
)

select
    c.event_id,
    c.ts,
    c.account_id,
    c.scope_id,
    c.product_code,
    c.meter,
    c.user_id,
    c.resource_id,
    c.quantity,
    c.source_file,
    c.source_row,
    coalesce(c.reason, o.reason) as reason
from checked_events as c
left join out_of_range_rows as o
    on o.source_file = c.source_file
    and o.source_row = c.source_row
-- a condition on both sides, so the join is a hash join on this (empty) build side, which
-- ends the scan at once: a condition on the gate alone is a filter there, and the join a
-- cross product whose other side is read to the end
inner join gate as g
    on g.is_open = (c.reason is not null or o.source_file is not null)
