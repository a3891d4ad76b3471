-- ledger_grant: step 3 of SPEC §10 (2 of §4), grants that take effect since the previous
-- processed day: the grants file's and the top-ups issued for them (topups_due). A grant
-- voided on or before its effective_on is never added (SPEC §10).
-- grain: one new slice per grant
-- key:   (account_id, grant_id)
-- upstream: grants_in (validated grants file), topups_due, run_context (day, previous_day)
with

grants as (
    select
        grant_id,
        account_id,
        currency,
        amount,
        effective_on,
        expires_on,
        priority,
        products,
        unit_cost,
        cost_currency,
        voided_on
    from grants_in
    union all
    select
        grant_id,
        account_id,
        currency,
        amount,
        effective_on,
        expires_on,
        priority,
        products,
        unit_cost,
        cost_currency,
        cast(null as date) as voided_on
    from topups_due
)

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
    g.grant_id as origin_id,
    false as rolled_over,
    g.amount as remaining
from grants as g
cross join run_context as ctx
where g.effective_on <= ctx.day
  and (ctx.previous_day is null or g.effective_on > ctx.previous_day)
  and (g.expires_on is null or g.expires_on > ctx.day)
  and (g.voided_on is null or g.voided_on > g.effective_on)
