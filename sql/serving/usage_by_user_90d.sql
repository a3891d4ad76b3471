-- usage_by_user_90d: what each user of an account did in the 90 UTC days ending at the
-- latest processed day (helper view of the catalog and of `flexbatch sql`).
-- grain:  one row per account and user with at least one event in the window
-- key:    (account_id, user_id)
-- window: as_of = the latest processed day (max runs.date of a succeeded run);
--         window_start = as_of - (credit_rules.usage_window_days - 1) days; both bounds
--         inclusive, so usage_window_days (90) days in all
-- source: `usage_by_user_daily` (date, account, scope, product, meter, user: events and
--         quantity_sum of the accepted events with a user_id). No other output has a row
--         per user: `usage_daily` only counts distinct users per day and scope, and charges
--         are per plan and tier. Until the pipeline writes `usage_by_user_daily`, the catalog
--         defines it as an empty view and this view has no rows.
-- credits are not attributed to users: a charge is priced per plan and tier over all of
-- an account's subjects, so any split per user would be an allocation rule, not a fact.
-- upstream: runs, usage_by_user_daily
with as_of_day as (
    select max(runs.date) as as_of
    from runs
    where runs.status = 'succeeded'
),

window_bounds as (
    select
        as_of_day.as_of - (r.usage_window_days - 1) as window_start,
        as_of_day.as_of
    from as_of_day
    cross join credit_rules as r
),

user_days as (
    select
        usage_by_user_daily.account_id,
        usage_by_user_daily.user_id,
        usage_by_user_daily.product_code,
        usage_by_user_daily.date,
        usage_by_user_daily.events,
        usage_by_user_daily.quantity_sum
    from usage_by_user_daily
    cross join window_bounds
    where usage_by_user_daily.date between window_bounds.window_start and window_bounds.as_of
        and usage_by_user_daily.events > 0
)

select
    user_days.account_id,
    user_days.user_id,
    sum(user_days.events)::bigint as events,
    sum(user_days.quantity_sum)::decimal(38, 6) as quantity,
    count(distinct user_days.date)::bigint as active_days,
    count(distinct user_days.product_code)::bigint as products_used,
    string_agg(distinct user_days.product_code, ';' order by user_days.product_code) as products,
    min(user_days.date) as first_active_on,
    max(user_days.date) as last_active_on,
    any_value(window_bounds.window_start) as window_start,
    any_value(window_bounds.as_of) as as_of
from user_days
cross join window_bounds
group by user_days.account_id, user_days.user_id
