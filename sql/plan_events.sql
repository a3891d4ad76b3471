-- plan_events: each accepted event matched to every active plan that prices it, with the
-- keys the algorithms count by.
-- grain: one row per (event, plan)
-- key:   (event_id, plan_id)
-- upstream: accepted_events, active_plans, run_context
--   period_key      start of the billing period instance: tier positions run per
--                   (plan_id, period_key, account_id, threshold_key)
--   distinct_window the window a subject is counted once in: the day for daily_*,
--                   else the billing period
--   threshold_key   '' when thresholds are shared by the account, else the scope
--   subject_scope,
--   subject_id      what a distinct algorithm counts: a user (per account, or per scope
--                   when threshold_scope = 'scope'), a resource (it lives in one scope),
--                   or the account/scope a fixed charge is due for
with

events as (
    select * from accepted_events
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
        e.event_id,
        e.ts,
        e.account_id,
        e.scope_id,
        e.user_id,
        e.resource_id,
        e.quantity,
        case p.billing_period
            when 'hour' then date_trunc('hour', e.ts)
            when 'day' then ctx.day_start
            else cast(ctx.month_start as timestamp)
        end as period_key,
        case when p.threshold_scope = 'scope' then e.scope_id else '' end as threshold_key
    from events as e
    inner join plans as p
        on p.product_code = e.product_code
        and p.meter = e.meter
    cross join context as ctx
)

select
    plan_id,
    plan_version,
    algorithm,
    billing_period,
    event_id,
    ts,
    account_id,
    scope_id,
    quantity,
    period_key,
    case
        when algorithm in ('daily_unique_users', 'daily_unique_resources')
            then date_trunc('day', ts)
        else period_key
    end as distinct_window,
    threshold_key,
    case
        when algorithm in ('unique_users', 'daily_unique_users') then threshold_key
        when algorithm in ('unique_resources', 'daily_unique_resources') then scope_id
        when algorithm = 'fixed' and (service is not null or threshold_scope = 'scope')
            then scope_id
        when algorithm = 'fixed' then ''
    end as subject_scope,
    case
        when algorithm in ('unique_users', 'daily_unique_users') then user_id
        when algorithm in ('unique_resources', 'daily_unique_resources') then resource_id
        when algorithm = 'fixed' then ''
    end as subject_id
from matched
