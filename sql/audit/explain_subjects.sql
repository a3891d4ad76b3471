-- explain_subjects: the subjects each explained charge row counted (unique_*, daily_*,
-- and the fixed charge's one subject per period), each at its position with the first
-- event that counted it.
-- grain: one row per (explained charge, subject)
-- key:   (transaction_id, period_key, position)
-- upstream: accepted_events, active_plans, new_subjects, period_units, explain_segments,
--           run_context
-- SPEC §7: within one day and scope, subjects take positions in the order of their first
-- event's ts, then subject_id, after the scope's position_start (earlier days, lower
-- scopes). The first event is looked for in the scope the subject was attributed to (a
-- user seen in several scopes counts in the lowest); an account-wide fixed charge's first
-- event is the period's first event in any scope.
with

events as (
    select * from accepted_events
),

plans as (
    select * from active_plans
),

subjects as (
    select * from new_subjects
),

units as (
    select * from period_units
),

segments as (
    select * from explain_segments
),

context as (
    select day_start, month_start from run_context
),

plan_events as (
    -- each event under every plan that prices it, keyed as plan_groups keys its groups
    select
        p.plan_id,
        e.event_id,
        e.ts,
        e.account_id,
        e.scope_id,
        e.source_file,
        case p.billing_period
            when 'hour' then date_trunc('hour', e.ts)
            when 'day' then ctx.day_start
            else cast(ctx.month_start as timestamp)
        end as period_key,
        case
            when p.counts_users then e.user_id
            when p.counts_resources then e.resource_id
            else ''
        end as subject_id
    from events as e
    inner join plans as p
        on p.product_code = e.product_code
        and p.meter = e.meter
    cross join context as ctx
    where p.algorithm in (
        'fixed', 'unique_users', 'unique_resources',
        'daily_unique_users', 'daily_unique_resources'
    )
),

first_events as (
    select
        s.plan_id,
        s.period_key,
        s.account_id,
        s.threshold_key,
        s.scope_id,
        s.subject_id,
        pe.event_id,
        pe.ts,
        pe.source_file
    from subjects as s
    inner join plan_events as pe
        on pe.plan_id = s.plan_id
        and pe.period_key = s.period_key
        and pe.account_id = s.account_id
        and pe.subject_id = s.subject_id
        and (pe.scope_id = s.scope_id or (s.algorithm = 'fixed' and s.subject_scope = ''))
    qualify row_number() over (
        partition by s.plan_id, s.period_key, s.account_id, s.threshold_key,
            s.subject_scope, s.subject_id
        order by pe.ts, pe.event_id
    ) = 1
),

positioned as (
    select
        fe.*,
        u.position_start + row_number() over (
            partition by fe.plan_id, fe.period_key, fe.account_id, fe.threshold_key, fe.scope_id
            order by fe.ts, fe.subject_id
        ) as position
    from first_events as fe
    inner join units as u
        on u.plan_id = fe.plan_id
        and u.period_key = fe.period_key
        and u.account_id = fe.account_id
        and u.threshold_key = fe.threshold_key
        and u.scope_id = fe.scope_id
)

select
    sg.transaction_id,
    sg.algorithm,
    p.period_key,
    p.subject_id,
    p.scope_id,
    cast(p.position as bigint) as position,
    p.event_id,
    p.ts,
    p.source_file
from positioned as p
inner join segments as sg
    on sg.plan_id = p.plan_id
    and sg.period_key = p.period_key
    and sg.account_id = p.account_id
    and sg.threshold_key = p.threshold_key
    and sg.scope_id = p.scope_id
where p.position > sg.range_start
  and p.position <= sg.range_end
