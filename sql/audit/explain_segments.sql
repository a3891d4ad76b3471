-- explain_segments: the cumulative positions each explained charge row occupies in its
-- billing period: the scope's units of the day (period_units) cut to the row's tier.
-- grain: one row per (explained charge, period instance): one for a day or month plan,
--        one per hour with units for an hour plan (its row sums the hours)
-- key:   (transaction_id, period_key)
-- upstream: explain_charges (the charge rows asked about), period_units, plan_tiers
--   range_start  exclusive: the row's first unit is at range_start + 1 (counted units),
--                its quantity lies in (range_start, range_end] (sum, peak)
--   scope_start, the positions of all the scope's units of the day (for a peak: the
--   scope_end    running maximum before and after the scope)
with

explained as (
    select * from explain_charges
),

units as (
    select * from period_units
),

tiers as (
    select * from plan_tiers
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
    case
        when t.tier_above > u.position_start then t.tier_above
        else u.position_start
    end as range_start,
    case
        when t.tier_upper is not null and t.tier_upper < u.position_end then t.tier_upper
        else u.position_end
    end as range_end
from explained as c
inner join units as u
    on u.plan_id = c.plan_id
    and u.plan_version = c.plan_version
    and u.account_id = c.account_id
    and u.scope_id = c.scope_id
inner join tiers as t
    on t.plan_id = c.plan_id
    and t.plan_version = c.plan_version
    and t.tier = c.tier
where t.tier_above < u.position_end
  and (t.tier_upper is null or t.tier_upper > u.position_start)
