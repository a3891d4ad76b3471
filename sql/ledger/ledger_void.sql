-- ledger_void: step 2 of SPEC §10. On a grant's voided_on, every slice of it held by the
-- grant's own account (the grant itself, its GRANT~rollover slice, a slice transferred
-- back) loses what it holds; slices transferred to other accounts are not touched.
-- grain: one entry per slice voided with credits left
-- key:   (account_id, grant_id)
-- upstream: slices (slices_opening), grants_in (voided_on, account_id by origin_id),
--           run_context
-- voided_on since the previous processed day and up to the day, as grants and expiries
-- are applied, so a skipped day never keeps a voided grant alive. A grant voided on or
-- before its effective_on never has a slice (ledger_grant).
select
    s.account_id,
    s.grant_id,
    s.currency,
    'void' as entry_type,
    -s.remaining as amount,
    cast(null as varchar) as product_code,
    cast(null as varchar) as ref,
    cast(0 as decimal(38, 6)) as grant_remaining
from slices as s
inner join grants_in as g
    on g.grant_id = s.origin_id and g.account_id = s.account_id
cross join run_context as ctx
where g.voided_on <= ctx.day
  and (ctx.previous_day is null or g.voided_on > ctx.previous_day)
  and s.remaining > 0
