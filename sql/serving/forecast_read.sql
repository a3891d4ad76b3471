-- forecast_read: the view `forecast`, the published forecast rows (SPEC §5 v3), one per
-- as_of, account and currency. Partitions written before v3 held 90 rows per account and currency (one per
-- future date, the columns date and projected_available); they are folded here into the
-- compact form, so an OUT of either release, or of both, reads the same way.
-- grain: one row per as_of day, account and currency
-- key:   (as_of, account_id, currency)
-- upstream: _forecast_files (every forecast file, legacy columns null in v3 files)
with

stored as (
    select * from _forecast_files
),

compact as (
    select
        account_id,
        currency,
        burn_rate,
        depletion_date,
        projected_available_30d,
        projected_available_60d,
        projected_available_90d,
        as_of
    from stored
    where date is null
),

legacy as (
    -- burn_rate and depletion_date repeat on each of an account's 90 rows
    select
        account_id,
        currency,
        max(burn_rate) as burn_rate,
        max(depletion_date) as depletion_date,
        max(case when date = as_of + 30 then projected_available end)
            as projected_available_30d,
        max(case when date = as_of + 60 then projected_available end)
            as projected_available_60d,
        max(case when date = as_of + 90 then projected_available end)
            as projected_available_90d,
        as_of
    from stored
    where date is not null
    group by as_of, account_id, currency
)

select * from compact
union all
select * from legacy
