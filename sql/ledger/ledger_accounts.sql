-- ledger_accounts: the accounts whose slices, entries, balances or revenue can change on
-- the day. The day's passes (expire, grant, void, transfers, burn, revenue, balances) run
-- over these accounts only; every other account's balances, revenue and slices are
-- yesterday's, carried forward (balances_carried, revenue_carried, slices_carried), so a
-- night costs the accounts with activity, not every account ever seen.
-- grain: one row per account
-- key:   (account_id)
-- upstream: charges, grants_in, topups_prev, transfers_in, slices_prev, balances_prev,
--           revenue_prev, run_context, credit_rules
-- parameter: $carry_forward (false: every account is recomputed, the reference the carry
--            is tested against). A balances row of an OUT from before SPEC §10 has no
--            `entitled` to carry: its account is recomputed that day.
-- An account changes when it has a charge, a grant taking effect or voided since the
-- previous processed day, a top-up due, a transfer in or out, a slice expiring, or a
-- slice with credits entering the expiring window (its expiring_90d). The forecast and the
-- alerts read every account (their windows move each day).
with

context as (
    select ctx.day, ctx.previous_day, r.expiring_window_days
    from run_context as ctx
    cross join credit_rules as r
)

select c.account_id from charges as c
union
select g.account_id
from grants_in as g
cross join context as p
where (g.effective_on <= p.day and (p.previous_day is null or g.effective_on > p.previous_day))
   or (g.voided_on <= p.day and (p.previous_day is null or g.voided_on > p.previous_day))
union
select t.account_id from topups_prev as t
union
select t.from_account as account_id
from transfers_in as t
cross join context as p
where t.date <= p.day and (p.previous_day is null or t.date > p.previous_day)
union
select t.to_account as account_id
from transfers_in as t
cross join context as p
where t.date <= p.day and (p.previous_day is null or t.date > p.previous_day)
union
select s.account_id
from slices_prev as s
cross join context as p
where s.expires_on <= p.day
   or (
       s.remaining > 0
       and s.expires_on > p.previous_day + p.expiring_window_days
       and s.expires_on <= p.day + p.expiring_window_days
   )
union
select account_id from slices_prev where not $carry_forward
union
select account_id from balances_prev where not $carry_forward or entitled is null
union
select account_id from revenue_prev where not $carry_forward
