-- simulate_summary: per account and currency, the credits charged in the simulated window
-- (consumed + overdraft), the available balance on its last day, the depletion date
-- forecast that day and the credits of the top-ups triggered in the window (SPEC §10), as
-- published in OUT and as recomputed under the draft plans.
-- grain: one row per (account_id, currency) with a balance or a charge on either side
-- key:   (account_id, currency)
-- upstream: actual_/simulated_ credit_ledger, balances, forecast, topups; simulate_window
with

bounds as (
    select date_from, date_to from simulate_window
),

charged as (
    select 'actual' as side, l.account_id, l.currency, -sum(l.amount) as charged
    from actual_credit_ledger as l
    inner join bounds as b
        on l.date between b.date_from and b.date_to
    where l.entry_type in ('consume', 'overdraft')
    group by l.account_id, l.currency
    union all
    select 'simulated' as side, l.account_id, l.currency, -sum(l.amount) as charged
    from simulated_credit_ledger as l
    inner join bounds as b
        on l.date between b.date_from and b.date_to
    where l.entry_type in ('consume', 'overdraft')
    group by l.account_id, l.currency
),

available as (
    select 'actual' as side, bl.account_id, bl.currency, bl.available
    from actual_balances as bl
    inner join bounds as b
        on bl.date = b.date_to
    union all
    select 'simulated' as side, bl.account_id, bl.currency, bl.available
    from simulated_balances as bl
    inner join bounds as b
        on bl.date = b.date_to
),

depletion as (
    -- depletion_date is the same on every forecast row of an account and currency
    select 'actual' as side, f.account_id, f.currency, max(f.depletion_date) as depletion_date
    from actual_forecast as f
    inner join bounds as b
        on f.as_of = b.date_to
    group by f.account_id, f.currency
    union all
    select 'simulated' as side, f.account_id, f.currency, max(f.depletion_date) as depletion_date
    from simulated_forecast as f
    inner join bounds as b
        on f.as_of = b.date_to
    group by f.account_id, f.currency
),

topped_up as (
    select 'actual' as side, t.account_id, t.currency, sum(t.amount) as amount
    from actual_topups as t
    group by t.account_id, t.currency
    union all
    select 'simulated' as side, t.account_id, t.currency, sum(t.amount) as amount
    from simulated_topups as t
    group by t.account_id, t.currency
),

keys as (
    select account_id, currency from charged
    union
    select account_id, currency from available
    union
    select account_id, currency from topped_up
)

select
    k.account_id,
    k.currency,
    cast(coalesce(ca.charged, 0) as decimal(38, 6)) as charged_actual,
    cast(coalesce(cs.charged, 0) as decimal(38, 6)) as charged_simulated,
    cast(coalesce(cs.charged, 0) - coalesce(ca.charged, 0) as decimal(38, 6)) as charged_delta,
    aa.available as available_actual,
    sa.available as available_simulated,
    da.depletion_date as depletion_actual,
    ds.depletion_date as depletion_simulated,
    cast(coalesce(ta.amount, 0) as decimal(38, 6)) as topups_actual,
    cast(coalesce(ts.amount, 0) as decimal(38, 6)) as topups_simulated
from keys as k
left join charged as ca
    on ca.side = 'actual' and ca.account_id = k.account_id and ca.currency = k.currency
left join charged as cs
    on cs.side = 'simulated' and cs.account_id = k.account_id and cs.currency = k.currency
left join available as aa
    on aa.side = 'actual' and aa.account_id = k.account_id and aa.currency = k.currency
left join available as sa
    on sa.side = 'simulated' and sa.account_id = k.account_id and sa.currency = k.currency
left join depletion as da
    on da.side = 'actual' and da.account_id = k.account_id and da.currency = k.currency
left join depletion as ds
    on ds.side = 'simulated' and ds.account_id = k.account_id and ds.currency = k.currency
left join topped_up as ta
    on ta.side = 'actual' and ta.account_id = k.account_id and ta.currency = k.currency
left join topped_up as ts
    on ts.side = 'simulated' and ts.account_id = k.account_id and ts.currency = k.currency
order by k.account_id, k.currency
