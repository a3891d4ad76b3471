-- plan_groups: the day's user and resource groups matched to every active plan that
-- prices them, with the keys the algorithms count by. Resource algorithms read
-- resource_groups (one row per resource); every other algorithm reads user_groups, whose
-- groups hold every event (events without a user in the user_id-null group).
-- grain: one row per (group, plan)
-- key:   the key of user_groups or resource_groups, plus plan_id
-- upstream: event_groups (its user_groups and resource_groups rows), active_plans,
--           run_context
--   period_key      start of the billing period instance: tier positions run per
--                   (plan_id, period_key, account_id, threshold_key); an hour plan's
--                   groups carry their hour (hour_key)
--   distinct_window the window a subject is counted once in: the day for daily_*,
--                   else the billing period
--   threshold_key   '' when thresholds are shared by the account, else the scope
--   subject_scope,
--   subject_id      what a distinct algorithm counts (active_plans' counts_users,
--                   counts_resources): a user (per account, or per scope
--                   when threshold_scope = 'scope'), a resource (it lives in one scope),
--                   or the account/scope a fixed charge is due for
with

all_groups as (
    -- the rows of user_groups and resource_groups: event_groups already gives both
    -- levels the same columns (a resource group's sums are null)
    select
        account_id,
        scope_id,
        product_code,
        meter,
        user_id,
        resource_id,
        hour_key,
        quantity_sum,
        quantity_max,
        is_resource_group
    from event_groups
    where not is_resource_group
       or resource_id is not null  -- resource_groups: events without one count none
),

plans as (
    select * from active_plans
),

context as (
    select day_start, month_start from run_context
),

matched as (
    select
        p.plan_id,
        p.plan_version,
        p.algorithm,
        p.billing_period,
        p.threshold_scope,
        p.service,
        p.counts_users,
        p.counts_resources,
        g.account_id,
        g.scope_id,
        g.user_id,
        g.resource_id,
        g.hour_key,
        g.is_resource_group,
        g.quantity_sum,
        g.quantity_max,
        ctx.day_start,
        case p.billing_period
            when 'hour' then g.hour_key
            when 'day' then ctx.day_start
            else cast(ctx.month_start as timestamp)
        end as period_key,
        -- the rule of month_state.THRESHOLD_KEY, which derives it for earlier days' charges
        case when threshold_scope = 'scope' then scope_id else '' end as threshold_key
    from all_groups as g
    inner join plans as p
        on p.product_code = g.product_code
        and p.meter = g.meter
        and p.counts_resources = g.is_resource_group
    cross join context as ctx
)

select
    plan_id,
    plan_version,
    algorithm,
    billing_period,
    account_id,
    scope_id,
    hour_key,
    is_resource_group,
    quantity_sum,
    quantity_max,
    period_key,
    -- every accepted event lies in the run's day, so its day is day_start
    case
        when algorithm in ('daily_unique_users', 'daily_unique_resources') then day_start
        else period_key
    end as distinct_window,
    threshold_key,
    case
        when counts_users then threshold_key
        when counts_resources then scope_id
        when algorithm = 'fixed' and (service is not null or threshold_scope = 'scope')
            then scope_id
        when algorithm = 'fixed' then ''
    end as subject_scope,
    case
        when counts_users then user_id
        when counts_resources then resource_id
        when algorithm = 'fixed' then ''
    end as subject_id
from matched
