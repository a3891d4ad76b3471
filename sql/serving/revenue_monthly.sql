-- revenue_monthly: finance's month per cost currency (SPEC §9): purchased, recognised and
-- breakage in the month, and the value still deferred at its end, over every account
-- (helper view of the catalog and of `flexbatch sql`; the report's index reads it through
-- a `runs` view cut at its as-of day).
-- grain:  one row per UTC calendar month and cost currency with revenue rows
-- key:    (month, cost_currency)
-- window: every processed day up to as_of = the latest processed day (max runs.date of a
--         succeeded run); the month's deferred is that of its last processed day (month_end,
--         as_of in the current month), on which every account has a row (revenue has one
--         per account every day from its first slice)
-- upstream: revenue, runs
with

as_of as (
    select max(date) as as_of from runs where status = 'succeeded'
),

days as (
    select
        r.date,
        cast(date_trunc('month', r.date) as date) as month,
        r.cost_currency,
        r.purchased,
        r.recognised,
        r.breakage,
        r.voided_value,
        r.deferred_closing
    from revenue as r
    cross join as_of as a
    where r.date <= a.as_of
),

month_ends as (
    select month, max(date) as month_end from days group by month
)

select
    d.month,
    d.cost_currency,
    m.month_end,
    sum(d.purchased) as purchased,
    sum(d.recognised) as recognised,
    sum(d.breakage) as breakage,
    sum(d.voided_value) as voided_value,
    sum(case when d.date = m.month_end then d.deferred_closing else 0 end) as deferred_at_month_end
from days as d
inner join month_ends as m
    on m.month = d.month
group by d.month, d.cost_currency, m.month_end
