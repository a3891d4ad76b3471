-- explain_recomputed: each explained charge row beside the row the replayed steps compute
-- for it; a difference means IN changed since OUT's day was published (a stale day), and
-- the subjects and events read now would not be the ones the row counted.
-- grain: one row per explained charge whose replay differs
-- key:   transaction_id
-- upstream: explain_charges, charges (the replayed charging step)
select
    e.transaction_id,
    e.units as units_published,
    c.units as units_recomputed,
    e.credits as credits_published,
    c.credits as credits_recomputed
from explain_charges as e
left join charges as c
    on c.transaction_id = e.transaction_id
where c.transaction_id is null
   or c.units <> e.units
   or c.credits <> e.credits
