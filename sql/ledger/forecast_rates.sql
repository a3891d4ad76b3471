-- forecast_rates: each account and currency's starting point for the burndown forecast at
-- the run's day (SPEC §5): what it holds and its trailing-30-day mean burn.
-- grain: one row per account and currency with a balance today
-- key:   (account_id, currency); as_of is the run's day
-- upstream: balances (today), burn_window (consumed and days observed on the 29 days
--           before, one row per account and currency), run_context
-- burn_rate is a statistic (computed through a double, stored as DECIMAL(38, 6)); the
-- ledger itself never touches floats.
with

context as (
    select day from run_context
),

recent as (
    -- balances has a row every day from an account's first activity, so count(*) is the
    -- number of days observed in the window: a new account's mean is not diluted by days
    -- before it existed
    select
        account_id,
        currency,
        sum(consumed) as consumed_30d,
        cast(sum(days_observed) as bigint) as days_observed
    from (
        select account_id, currency, consumed, days_observed from burn_window
        union all
        select account_id, currency, consumed, 1 as days_observed from balances
    ) as days
    group by account_id, currency
)

select
    ctx.day as as_of,
    b.account_id,
    b.currency,
    b.available,
    cast(coalesce(r.consumed_30d / r.days_observed, 0) as decimal(38, 6)) as burn_rate
from balances as b
cross join context as ctx
left join recent as r
    on r.account_id = b.account_id and r.currency = b.currency
