-- duplicate_rows: the valid rows dropped as duplicates: of the rows sharing an event_id,
-- all but the first by ts (ties broken by every other column, then the file, so file and
-- row order never matter).
-- grain: one row per dropped input row
-- key:   (source_file, source_row)
-- upstream: checked_events
-- Most ids are unique, so candidates are found by a 64-bit hash of the id first (a cheap
-- aggregate); only rows whose hash repeats are ranked on the id itself.
with

valid as (
    select * from checked_events where reason is null
),

repeated_hashes as (
    select hash(event_id) as id_hash
    from valid
    group by hash(event_id)
    having count(*) > 1
),

candidates as (
    select v.*
    from valid as v
    inner join repeated_hashes as r
        on r.id_hash = hash(v.event_id)
),

ranked as (
    select
        source_file,
        source_row,
        row_number() over (
            partition by event_id
            order by
                ts, account_id, scope_id, product_code, meter,
                user_id nulls last, resource_id nulls last, quantity nulls last,
                source_file, source_row
        ) as event_rank
    from candidates
)

select source_file, source_row
from ranked
where event_rank > 1
