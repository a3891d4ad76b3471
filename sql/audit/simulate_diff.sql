-- simulate_diff: charged credits per account, scope, product, plan and month of the
-- simulated window, as published in OUT and as recomputed under the draft plans.
-- grain: one row per (account_id, scope_id, product_code, plan_id, month) charged on
--        either side in the window
-- key:   (account_id, scope_id, product_code, plan_id, month)
-- upstream: actual_charges (OUT), simulated_charges (the scratch OUT), simulate_window
-- A month is the charges' UTC month; only the window's days count (the days of its first
-- month before --from were recomputed for their positions only).
with

bounds as (
    select date_from, date_to from simulate_window
),

actual as (
    select
        c.account_id,
        c.scope_id,
        c.product_code,
        c.plan_id,
        cast(date_trunc('month', c.date) as date) as month,
        sum(c.credits) as credits
    from actual_charges as c
    inner join bounds as b
        on c.date between b.date_from and b.date_to
    group by
        c.account_id, c.scope_id, c.product_code, c.plan_id,
        cast(date_trunc('month', c.date) as date)
),

simulated as (
    select
        c.account_id,
        c.scope_id,
        c.product_code,
        c.plan_id,
        cast(date_trunc('month', c.date) as date) as month,
        sum(c.credits) as credits
    from simulated_charges as c
    inner join bounds as b
        on c.date between b.date_from and b.date_to
    group by
        c.account_id, c.scope_id, c.product_code, c.plan_id,
        cast(date_trunc('month', c.date) as date)
),

compared as (
    select
        coalesce(a.account_id, s.account_id) as account_id,
        coalesce(a.scope_id, s.scope_id) as scope_id,
        coalesce(a.product_code, s.product_code) as product_code,
        coalesce(a.plan_id, s.plan_id) as plan_id,
        coalesce(a.month, s.month) as month,
        cast(coalesce(a.credits, 0) as decimal(38, 6)) as credits_actual,
        cast(coalesce(s.credits, 0) as decimal(38, 6)) as credits_simulated
    from actual as a
    full outer join simulated as s
        on s.account_id = a.account_id
        and s.scope_id = a.scope_id
        and s.product_code = a.product_code
        and s.plan_id = a.plan_id
        and s.month = a.month
)

select
    account_id,
    scope_id,
    product_code,
    plan_id,
    month,
    credits_actual,
    credits_simulated,
    cast(credits_simulated - credits_actual as decimal(38, 6)) as delta
from compared
order by account_id, scope_id, product_code, plan_id, month
