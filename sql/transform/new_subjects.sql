-- new_subjects: distinct subjects (users, resources, fixed-charge holders) counted for the
-- first time in their window on this day.
-- grain: one row per (plan, window, account, threshold key, subject)
-- key:   (plan_id, distinct_window, account_id, threshold_key, subject_scope, subject_id)
-- upstream: plan_groups, subjects_history (subjects already counted earlier in a month)
-- A subject seen in several scopes in its first window is attributed to the lowest scope.
-- A resource group without an hour is already one subject of one scope (resource_groups
-- is unique per account, scope and resource): only the other rows need grouping, which
-- spares the day's largest aggregate.
with

distinct_events as (
    select * from plan_groups
    where algorithm in (
        'fixed', 'unique_users', 'unique_resources',
        'daily_unique_users', 'daily_unique_resources'
    )
),

history as (
    select * from subjects_history
),

day_subjects as (
    select
        plan_id,
        plan_version,
        algorithm,
        billing_period,
        period_key,
        distinct_window,
        account_id,
        threshold_key,
        subject_scope,
        subject_id,
        scope_id
    from distinct_events
    where is_resource_group and hour_key is null
    union all
    select
        plan_id,
        plan_version,
        algorithm,
        billing_period,
        period_key,
        distinct_window,
        account_id,
        threshold_key,
        subject_scope,
        subject_id,
        min(scope_id) as scope_id
    from distinct_events
    where not (is_resource_group and hour_key is null)
    group by
        plan_id, plan_version, algorithm, billing_period, period_key, distinct_window,
        account_id, threshold_key, subject_scope, subject_id
)

select
    ds.plan_id,
    ds.plan_version,
    ds.algorithm,
    ds.billing_period,
    ds.period_key,
    ds.distinct_window,
    ds.account_id,
    ds.threshold_key,
    ds.subject_scope,
    ds.subject_id,
    ds.scope_id
from day_subjects as ds
left join history as h
    on h.plan_id = ds.plan_id
    and h.period_start = cast(ds.distinct_window as date)
    and h.account_id = ds.account_id
    and h.threshold_key = ds.threshold_key
    and h.subject_scope = ds.subject_scope
    and h.subject_id = ds.subject_id
where h.plan_id is null
