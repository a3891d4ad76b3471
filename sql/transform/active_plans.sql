-- active_plans: the rate-plan versions effective on the run's day.
-- grain: one row per plan_id (at most one version of a plan is effective on a day)
-- key:   plan_id
-- upstream: plan_versions (loaded from rate_plans.toml), run_context
with

plan_versions_in as (
    select * from plan_versions
),

context as (
    select day from run_context
),

effective as (
    select
        pv.plan_id,
        pv.plan_version,
        pv.product_code,
        pv.service,
        pv.chargeable,
        pv.meter,
        pv.algorithm,
        pv.billing_period,
        pv.threshold_scope,
        pv.user_limit
    from plan_versions_in as pv
    cross join context as ctx
    where pv.plan_version <= ctx.day
      and (pv.effective_to is null or pv.effective_to > ctx.day)
)

select
    plan_id,
    plan_version,
    product_code,
    service,
    chargeable,
    meter,
    algorithm,
    billing_period,
    threshold_scope,
    user_limit,
    algorithm in ('unique_users', 'daily_unique_users') as counts_users,
    algorithm in ('unique_resources', 'daily_unique_resources') as counts_resources
from effective
