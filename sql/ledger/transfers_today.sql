-- transfers_today: the transfers of step 3 of SPEC §4, dated since the previous processed
-- day, numbered in transfer_id order (one pass each: a credit received can be sent on).
-- grain: one row per transfer
-- key:   (transfer_id); transfer_order is 1..n
-- upstream: transfers_in (validated transfers file), run_context (day, previous_day)
select
    t.transfer_id,
    t.from_account,
    t.to_account,
    t.amount,
    t.currency,
    row_number() over (order by t.transfer_id) as transfer_order
from transfers_in as t
cross join run_context as ctx
where t.date <= ctx.day
  and (ctx.previous_day is null or t.date > ctx.previous_day)
