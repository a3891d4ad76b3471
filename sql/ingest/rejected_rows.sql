-- rejected_rows: the day's input rows that break a SPEC §3.1 rule, each with the first
-- rule it breaks. The validation CASE runs here, once per day: accepted_events keeps the
-- rows not listed here, so the steps that read the events never re-evaluate it (nor read
-- the columns only validation needs).
-- grain: one row per rejected input row
-- key:   (source_file, source_row)
-- upstream: checked_events
select
    event_id,
    ts,
    account_id,
    scope_id,
    product_code,
    meter,
    user_id,
    resource_id,
    quantity,
    source_file,
    source_row,
    reason
from checked_events
where reason is not null
