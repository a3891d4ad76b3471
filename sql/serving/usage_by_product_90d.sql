-- usage_by_product_90d: what each account used of each product in the 90 UTC days ending
-- at the latest processed day (helper view of the catalog and of `flexbatch sql`; the
-- balance report reads it through a `runs` view cut at its as-of day).
-- grain:  one row per account and product with charges or usage events in the window
-- key:    (account_id, product_code)
-- window: as_of = the latest processed day (max runs.date of a succeeded run);
--         window_start = as_of - (credit_rules.usage_window_days - 1) days; both bounds
--         inclusive, so usage_window_days (90) days in all
-- columns: credits and units are sums of `charges` (units add up every chargeable unit of
--         the product's plans, whatever their meter); events and active_days (days with at
--         least one event) come from `usage_daily`; users_active is the number of distinct
--         users with an event, from `usage_by_user_daily` (0 while that table is empty)
-- upstream: runs, charges, usage_daily, usage_by_user_daily
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

charged as (
    select
        charges.account_id,
        charges.product_code,
        sum(charges.credits) as credits,
        sum(charges.units) as units
    from charges
    cross join window_bounds
    where charges.date between window_bounds.window_start and window_bounds.as_of
    group by charges.account_id, charges.product_code
),

used as (
    select
        usage_daily.account_id,
        usage_daily.product_code,
        sum(usage_daily.events) as events,
        count(distinct usage_daily.date) as active_days
    from usage_daily
    cross join window_bounds
    where usage_daily.date between window_bounds.window_start and window_bounds.as_of
        and usage_daily.events > 0
    group by usage_daily.account_id, usage_daily.product_code
),

users as (
    select
        usage_by_user_daily.account_id,
        usage_by_user_daily.product_code,
        count(distinct usage_by_user_daily.user_id) as users_active
    from usage_by_user_daily
    cross join window_bounds
    where usage_by_user_daily.date between window_bounds.window_start and window_bounds.as_of
        and usage_by_user_daily.events > 0
    group by usage_by_user_daily.account_id, usage_by_user_daily.product_code
),

product_keys as (
    select charged.account_id, charged.product_code from charged
    union
    select used.account_id, used.product_code from used
)

select
    product_keys.account_id,
    product_keys.product_code,
    coalesce(charged.credits, 0)::decimal(38, 6) as credits,
    coalesce(charged.units, 0)::decimal(38, 6) as units,
    coalesce(used.events, 0)::bigint as events,
    coalesce(used.active_days, 0)::bigint as active_days,
    coalesce(users.users_active, 0)::bigint as users_active,
    window_bounds.window_start,
    window_bounds.as_of
from product_keys
cross join window_bounds
left join charged
    on charged.account_id = product_keys.account_id
    and charged.product_code = product_keys.product_code
left join used
    on used.account_id = product_keys.account_id
    and used.product_code = product_keys.product_code
left join users
    on users.account_id = product_keys.account_id
    and users.product_code = product_keys.product_code
