-- topups: the top-up rules of SPEC §10 on the day's closing balances. A rule fires when
-- its account's available in its currency (0 when the account holds none) is below its
-- threshold, issuing grant RULE_ID:D+1 effective D + 1 of `amount` (or `target` minus
-- available), expiring expires_after_days after that (never when empty), unless the rule
-- already issued max_per_month grants effective in D + 1's month.
-- grain: one row per rule firing on the day (its trigger day: the partition)
-- key:   (rule_id)
-- upstream: topup_rules (validated topups file), balances, topups_month (OUT's top-ups of
--           this rule's earlier trigger days effective in D + 1's month), run_context
with

context as (
    select
        day,
        cast(day + 1 as date) as effective_on,
        date_trunc('month', cast(day + 1 as date)) as effective_month
    from run_context
),

issued as (
    select m.rule_id, count(*) as grants
    from topups_month as m
    cross join context as ctx
    where date_trunc('month', m.effective_on) = ctx.effective_month
    group by m.rule_id
),

checked as (
    select
        r.rule_id,
        r.account_id,
        r.currency,
        r.threshold,
        r.amount as fixed_amount,
        r.target,
        r.unit_cost,
        r.cost_currency,
        r.priority,
        r.products,
        r.expires_after_days,
        r.max_per_month,
        coalesce(b.available, cast(0 as decimal(38, 6))) as available,
        coalesce(i.grants, 0) as issued_this_month,
        ctx.effective_on
    from topup_rules as r
    cross join context as ctx
    left join balances as b
        on b.account_id = r.account_id and b.currency = r.currency
    left join issued as i
        on i.rule_id = r.rule_id
)

select
    rule_id,
    account_id,
    currency,
    rule_id || ':' || strftime(effective_on, '%Y-%m-%d') as grant_id,
    effective_on,
    cast(coalesce(fixed_amount, target - available) as decimal(38, 6)) as amount,
    cast(unit_cost as decimal(38, 6)) as unit_cost,
    cost_currency,
    cast(available as decimal(38, 6)) as available_at_trigger,
    cast(effective_on + expires_after_days as date) as expires_on,
    cast(priority as integer) as priority,
    products
from checked
where available < threshold
  and (max_per_month is null or issued_this_month < max_per_month)
