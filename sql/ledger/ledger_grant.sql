-- ledger_grant: step 2 of SPEC §4, grants that take effect since the previous processed day.
-- grain: one new slice per grant
-- key:   (account_id, grant_id)
-- upstream: grants_in (validated grants file), run_context (day, previous_day)
select
    g.account_id,
    g.grant_id,
    g.currency,
    g.priority,
    g.expires_on,
    g.unit_cost,
    g.cost_currency,
    g.effective_on,
    g.products,
    g.amount as remaining
from grants_in as g
cross join run_context as ctx
where g.effective_on <= ctx.day
  and (ctx.previous_day is null or g.effective_on > ctx.previous_day)
  and (g.expires_on is null or g.expires_on > ctx.day)
