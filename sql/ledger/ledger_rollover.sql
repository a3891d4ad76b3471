-- ledger_rollover: the rollover half of step 1 of SPEC §10. A slice expiring with r > 0
-- left whose grant has rollover_max moves min(r, rollover_max) to a new slice
-- SLICE~rollover (the slice's own id plus '~rollover', in the slice's own account, so a
-- transferred slice rolls over where it is). The new slice is effective on the expiry day
-- and expires rollover_days later, keeping currency, priority, products and cost; it never
-- rolls over again (rolled_over). ledger_expire writes off only the rest.
-- grain: one row per expiring slice that rolls over
-- key:   (account_id, grant_id)
-- upstream: slices_prev, grants_in (rollover_max, rollover_days by origin_id),
--           run_context
-- The expiry day is the slice's expires_on (the processed day itself unless days were
-- skipped), so a rerun of any day range gives the same slice. A rollover slice that would
-- already have expired by the day (skipped days longer than rollover_days) is never made,
-- as a grant already expired when first seen is never added: its credits just expire.
select
    s.account_id,
    s.grant_id,
    s.currency,
    s.priority,
    s.expires_on,
    s.unit_cost,
    s.cost_currency,
    s.effective_on,
    s.products,
    s.origin_id,
    s.remaining,
    s.grant_id || '~rollover' as rollover_id,
    s.expires_on + g.rollover_days as rollover_expires_on,
    case when s.remaining < g.rollover_max then s.remaining else g.rollover_max end as moved
from slices_prev as s
inner join grants_in as g
    on g.grant_id = s.origin_id
cross join run_context as ctx
where s.expires_on <= ctx.day
  and s.remaining > 0
  and not s.rolled_over
  and g.rollover_max > 0
  and s.expires_on + g.rollover_days > ctx.day
