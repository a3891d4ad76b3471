-- slices_opening: the grant slices the day's voids, transfers and burn start from:
-- yesterday's slices that have not expired (ledger_expire wrote off what they held, or
-- ledger_rollover moved it), the rollover slices made today and the grants taking effect
-- today (steps 1 and 3 of SPEC §10; ledger_void then draws from these).
-- grain: one row per live grant slice
-- key:   (account_id, grant_id)
-- upstream: slices_prev, ledger_grant, rollover_slices, run_context
with

context as (
    select day from run_context
),

unexpired as (
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
        s.rolled_over,
        s.remaining
    from slices_prev as s
    cross join context as ctx
    where s.expires_on is null or s.expires_on > ctx.day
),

granted as (
    select
        account_id,
        grant_id,
        currency,
        priority,
        expires_on,
        unit_cost,
        cost_currency,
        effective_on,
        products,
        origin_id,
        rolled_over,
        remaining
    from ledger_grant
),

rolled as (
    select
        account_id,
        grant_id,
        currency,
        priority,
        expires_on,
        unit_cost,
        cost_currency,
        effective_on,
        products,
        origin_id,
        rolled_over,
        remaining
    from rollover_slices
),

opened as (
    select * from unexpired
    union all
    select * from granted
    union all
    select * from rolled
)

-- the published grant_state types, whatever the upstream files or frames held
select
    account_id,
    grant_id,
    currency,
    cast(priority as integer) as priority,
    expires_on,
    cast(unit_cost as decimal(38, 6)) as unit_cost,
    cost_currency,
    effective_on,
    products,
    origin_id,
    rolled_over,
    cast(remaining as decimal(38, 6)) as remaining
from opened
