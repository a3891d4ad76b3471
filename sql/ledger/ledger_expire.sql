-- ledger_expire: step 1 of SPEC §4 and §10, the write-off of what is left in grants whose
-- expires_on has come (on or before the day, so a skipped day never keeps credits alive),
-- less what rolls over (ledger_rollover).
-- grain: one entry per slice expiring with credits left after its rollover
-- key:   (account_id, grant_id)
-- upstream: slices_prev (grant slices at the end of the previous processed day),
--           ledger_rollover, run_context
select
    s.account_id,
    s.grant_id,
    s.currency,
    'expire' as entry_type,
    -(s.remaining - coalesce(r.moved, 0)) as amount,
    cast(null as varchar) as product_code,
    cast(null as varchar) as ref,
    cast(0 as decimal(38, 6)) as grant_remaining
from slices_prev as s
cross join run_context as ctx
left join ledger_rollover as r
    on r.account_id = s.account_id and r.grant_id = s.grant_id
where s.expires_on <= ctx.day
  and s.remaining - coalesce(r.moved, 0) > 0
