-- duplicate_rows: the valid rows dropped as duplicates: of the rows sharing an event_id,
-- all but the first by ts (ties broken by every other column, then the file, so file and
-- row order never matter).
-- grain: one row per dropped input row
-- key:   (source_file, source_row)
-- upstream: raw_events, checked_events, repeated_hashes
-- Most ids are unique, so candidates are the valid rows whose 64-bit hash of the id
-- repeats among all rows (repeated_hashes, a superset of the ids repeated among valid
-- rows); only they are ranked on the id itself. When no hash repeats, the join below has
-- an empty side and the second read of the files stops at once.
with

candidates as (
    select c.*
    from checked_events as c
    inner join repeated_hashes as r
        on r.id_hash = hash(c.event_id)
    where c.reason is null
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
