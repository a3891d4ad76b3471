-- tier_units: each scope's units of the day (period_units) cut to the graduated tiers their
-- positions fall in: the one place a range of positions is clipped to a tier, read by
-- charges (units per tier) and by explain_segments (the positions a charge row holds).
-- grain: one row per (period_units row, tier) that overlap
-- key:   (plan_id, period_key, account_id, threshold_key, scope_id, tier)
-- upstream: period_units, plan_tiers
--   range_start  exclusive: the later of the tier's lower bound and the scope's start
--   range_end    inclusive: the earlier of the tier's upper bound (none: open) and the
--                scope's end; range_end - range_start units of the scope lie in the tier
with

units as (
    select * from period_units
),

tiers as (
    select * from plan_tiers
)

select
    u.plan_id,
    u.plan_version,
    u.period_key,
    u.account_id,
    u.threshold_key,
    u.scope_id,
    u.position_start,
    u.position_end,
    t.tier,
    t.tier_above,
    t.unit_price,
    case
        when t.tier_above > u.position_start then t.tier_above
        else u.position_start
    end as range_start,
    case
        when t.tier_upper is not null and t.tier_upper < u.position_end then t.tier_upper
        else u.position_end
    end as range_end
from units as u
inner join tiers as t
    on t.plan_id = u.plan_id
    and t.plan_version = u.plan_version
where t.tier_above < u.position_end
  and (t.tier_upper is null or t.tier_upper > u.position_start)
