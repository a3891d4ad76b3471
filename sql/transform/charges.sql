-- charges: the day's credit charges, split over graduated tiers.
-- grain: one row per account, scope, plan and tier with units > 0 (price-0 tiers too)
-- key:   (account_id, scope_id, plan_id, tier); the date is the partition;
--        transaction_id = md5 of the date and that key, each part length-prefixed
-- upstream: tier_units (period_units cut to the tiers), plan_versions, run_context
-- An hour period posts the sum of its 24 hourly results: hours are summed per tier here.
-- credits = units x unit_price, rounded half-even to 6 places per row (floor-based, so it
-- is exact in any engine with DECIMAL and never goes through a float).
with

cut as (
    select * from tier_units
),

plans as (
    select * from plan_versions
),

context as (
    select day, month_start from run_context
),

per_tier as (
    select
        account_id,
        scope_id,
        plan_id,
        plan_version,
        tier,
        tier_above,
        unit_price,
        sum(range_end - range_start) as units,
        sum(range_end - range_start) * unit_price * 1000000 as micro_credits
    from cut
    group by account_id, scope_id, plan_id, plan_version, tier, tier_above, unit_price
),

rounded as (
    select
        pt.*,
        floor(pt.micro_credits) as micro_floor,
        pt.micro_credits - floor(pt.micro_credits) as micro_fraction
    from per_tier as pt
),

priced as (
    select
        r.account_id,
        r.scope_id,
        r.plan_id,
        r.plan_version,
        r.tier,
        r.tier_above,
        r.unit_price,
        r.units,
        cast(
            case
                when r.micro_fraction > 0.5 then r.micro_floor + 1
                when r.micro_fraction < 0.5 then r.micro_floor
                when mod(r.micro_floor, 2) = 0 then r.micro_floor
                else r.micro_floor + 1
            end as decimal(38, 0)
        ) * cast(0.000001 as decimal(38, 6)) as credits
    from rounded as r
)

select
    pr.account_id,
    pr.scope_id,
    p.product_code,
    pr.plan_id,
    pr.plan_version,
    p.chargeable,
    p.meter,
    p.algorithm,
    p.billing_period,
    p.threshold_scope,
    case when p.billing_period = 'month' then ctx.month_start else ctx.day end as period_start,
    pr.tier,
    pr.tier_above,
    pr.unit_price,
    pr.units,
    cast(pr.credits as decimal(38, 6)) as credits,
    -- each part as <length>:<text>, so no id can shift a boundary (ids are any strings)
    md5(
        cast(length(cast(ctx.day as varchar)) as varchar) || ':' || cast(ctx.day as varchar)
        || cast(length(pr.account_id) as varchar) || ':' || pr.account_id
        || cast(length(pr.scope_id) as varchar) || ':' || pr.scope_id
        || cast(length(pr.plan_id) as varchar) || ':' || pr.plan_id
        || cast(length(cast(pr.tier as varchar)) as varchar) || ':' || cast(pr.tier as varchar)
    ) as transaction_id
from priced as pr
inner join plans as p
    on p.plan_id = pr.plan_id
    and p.plan_version = pr.plan_version
cross join context as ctx
