-- explain_segments: the cumulative positions each explained charge row occupies in its
-- billing period: the scope's units of the day (period_units) cut to the row's tier.
-- grain: one row per (explained charge, period instance): one for a day or month plan,
--        one per hour with units for an hour plan (its row sums the hours)
-- key:   (transaction_id, period_key)
-- upstream: explain_charges (the charge rows asked about), tier_units (period_units cut
--           to the tiers, as charges reads them)
--   range_start  exclusive: the row's first unit is at range_start + 1 (counted units),
--                its quantity lies in (range_start, range_end] (sum, peak)
--   scope_start, the positions of all the scope's units of the day (for a peak: the
--   scope_end    running maximum before and after the scope)
with

explained as (
    select * from explain_charges
),

cut as (
    select * from tier_units
)

select
    c.transaction_id,
    c.algorithm,
    u.plan_id,
    u.period_key,
    u.account_id,
    u.threshold_key,
    u.scope_id,
    u.position_start as scope_start,
    u.position_end as scope_end,
    u.range_start,
    u.range_end
from explained as c
inner join cut as u
    on u.plan_id = c.plan_id
    and u.plan_version = c.plan_version
    and u.account_id = c.account_id
    and u.scope_id = c.scope_id
    and u.tier = c.tier
