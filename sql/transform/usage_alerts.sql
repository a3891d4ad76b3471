-- usage_alerts: the day's user_limit_exceeded alerts (SPEC §5), a usage rule raised by
-- charging and handed to the credit ledger, whose alerts step publishes them.
-- grain: one row per (account, plan) whose users crossed the plan's user_limit today
-- key:   (account_id, kind, ref); ref is the plan_id
-- upstream: user_counts
-- An hour plan counts several periods of a day, a scope-threshold plan several threshold
-- keys of an account: the alert is raised once per account and plan and day, for the
-- crossing with the most users (ties: the first period_key, then threshold_key), so that
-- the alerts partition holds one row per key and its bytes are deterministic.
with

crossed as (
    select
        u.account_id,
        u.plan_id,
        u.users,
        u.user_limit,
        row_number() over (
            partition by u.account_id, u.plan_id
            order by u.users desc, u.period_key, u.threshold_key
        ) as crossing_rank
    from user_counts as u
    where u.users > u.user_limit
      and u.users_before <= u.user_limit
)

select
    c.account_id,
    'user_limit_exceeded' as kind,
    'warning' as severity,
    'plan ' || c.plan_id || ': ' || cast(c.users as varchar) || ' users in the period, limit '
        || cast(c.user_limit as varchar) as message,
    cast(c.users as decimal(38, 6)) as amount,
    c.plan_id as ref
from crossed as c
where c.crossing_rank = 1
