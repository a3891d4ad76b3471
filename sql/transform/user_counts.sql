-- user_counts: users counted so far in each period of a plan with a user_limit, before
-- and after today, for the user_limit_exceeded alert (usage_alerts).
-- grain: one row per (plan, period instance, account, threshold key) with usage today
-- key:   (plan_id, period_key, account_id, threshold_key), all four in the output: an
--        hour plan has several periods a day, a scope-threshold plan several keys
-- upstream: period_units, active_plans, prior_daily_users
-- unique_users: the period's distinct users (tier positions). daily_unique_users: the
-- day's distinct users, against the most any earlier day of the period saw.
with

limited as (
    select plan_id, algorithm, user_limit
    from active_plans
    where user_limit is not null
),

today as (
    select
        u.plan_id,
        u.period_key,
        u.account_id,
        u.threshold_key,
        l.algorithm,
        l.user_limit,
        sum(u.units) as units_today,
        max(u.position_end) as position_end,
        min(u.position_start) as position_start
    from period_units as u
    inner join limited as l
        on l.plan_id = u.plan_id
    group by u.plan_id, u.period_key, u.account_id, u.threshold_key, l.algorithm, l.user_limit
)

select
    t.plan_id,
    t.period_key,
    t.account_id,
    t.threshold_key,
    t.user_limit,
    case when t.algorithm = 'unique_users' then t.position_end else t.units_today end as users,
    case
        when t.algorithm = 'unique_users' then t.position_start
        else coalesce(p.max_daily_users, 0)
    end as users_before
from today as t
left join prior_daily_users as p
    on p.plan_id = t.plan_id
    and p.account_id = t.account_id
    and p.threshold_key = t.threshold_key
