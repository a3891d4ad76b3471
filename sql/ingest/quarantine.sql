-- quarantine: the day's rejected input rows, each with the rule it broke.
-- grain: one row per rejected input row
-- key:   none (an input row may be rejected twice if it was written twice)
-- upstream: rejected_rows
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
    reason,
    source_file
from rejected_rows
