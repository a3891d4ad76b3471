-- period_units: the units each scope posts today in each billing period instance, placed
-- at their tier positions.
-- grain: one row per (plan, period instance, account, threshold key, scope) with units > 0
-- key:   (plan_id, period_key, account_id, threshold_key, scope_id)
-- upstream: new_subjects, plan_groups, prior_positions
-- Positions are cumulative across the period's posting days (prior_positions) and, within
-- the day, across scopes in ascending scope_id order.
with

subject_units as (
    -- fixed, unique_*, daily_*: one unit per newly counted subject
    select
        plan_id, plan_version, period_key, account_id, threshold_key, scope_id,
        cast(count(*) as decimal(38, 6)) as units
    from new_subjects
    group by plan_id, plan_version, period_key, account_id, threshold_key, scope_id
),

sum_units as (
    select
        plan_id, plan_version, period_key, account_id, threshold_key, scope_id,
        sum(quantity_sum) as units
    from plan_groups
    where algorithm = 'sum'
      and not is_resource_group  -- implied; lets the engine skip resource_groups
    group by plan_id, plan_version, period_key, account_id, threshold_key, scope_id
),

scope_peaks as (
    select
        plan_id, plan_version, period_key, account_id, threshold_key, scope_id,
        max(quantity_max) as scope_peak
    from plan_groups
    where algorithm = 'peak'
      and not is_resource_group  -- implied; lets the engine skip resource_groups
    group by plan_id, plan_version, period_key, account_id, threshold_key, scope_id
),

peak_before as (
    -- the running maximum each scope meets: earlier days' peak, then lower scopes today
    select
        sp.plan_id, sp.plan_version, sp.period_key, sp.account_id, sp.threshold_key,
        sp.scope_id, sp.scope_peak,
        greatest(
            coalesce(pp.units_to_date, cast(0 as decimal(38, 6))),
            coalesce(
                max(sp.scope_peak) over (
                    partition by sp.plan_id, sp.period_key, sp.account_id, sp.threshold_key
                    order by sp.scope_id
                    rows between unbounded preceding and 1 preceding
                ),
                cast(0 as decimal(38, 6))
            )
        ) as running_peak
    from scope_peaks as sp
    left join prior_positions as pp
        on pp.plan_id = sp.plan_id
        and pp.period_start = cast(sp.period_key as date)
        and pp.account_id = sp.account_id
        and pp.threshold_key = sp.threshold_key
),

peak_units as (
    -- a peak posts the day's increase of the running maximum
    select
        plan_id, plan_version, period_key, account_id, threshold_key, scope_id,
        case when scope_peak > running_peak then scope_peak - running_peak
             else cast(0 as decimal(38, 6)) end as units
    from peak_before
),

all_units as (
    select * from subject_units
    union all
    select * from sum_units
    union all
    select * from peak_units
),

positioned as (
    select
        u.plan_id,
        u.plan_version,
        u.period_key,
        u.account_id,
        u.threshold_key,
        u.scope_id,
        u.units,
        coalesce(pp.units_to_date, cast(0 as decimal(38, 6)))
        + coalesce(
            sum(u.units) over (
                partition by u.plan_id, u.period_key, u.account_id, u.threshold_key
                order by u.scope_id
                rows between unbounded preceding and 1 preceding
            ),
            cast(0 as decimal(38, 6))
        ) as position_start
    from all_units as u
    left join prior_positions as pp
        on pp.plan_id = u.plan_id
        and pp.period_start = cast(u.period_key as date)
        and pp.account_id = u.account_id
        and pp.threshold_key = u.threshold_key
    where u.units > 0
)

select
    plan_id,
    plan_version,
    period_key,
    account_id,
    threshold_key,
    scope_id,
    units,
    position_start,
    position_start + units as position_end
from positioned
