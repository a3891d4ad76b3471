-- repeated_hashes: the 64-bit hashes of event_id that occur on more than one of the day's
-- input rows: a superset of the ids repeated among the valid rows, found without reading
-- any other column or validating anything. duplicate_rows ranks only the rows whose hash
-- is here.
-- grain: one row per repeated hash
-- key:   id_hash
-- upstream: raw_events
-- This file is the step's definition, and what Spark runs. DuckDB finds the same hashes
-- by sorting them (flexbatch/ingest/duplicates.py): a hash aggregate of one group per
-- row took 2.1 s of the 10 M-event benchmark day.
select hash(event_id) as id_hash
from raw_events
group by hash(event_id)
having count(*) > 1
