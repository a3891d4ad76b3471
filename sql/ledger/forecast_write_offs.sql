-- forecast_write_offs: the forecast's expiry model (SPEC §5, known expiries applied): what
-- each known expiry within depletion_horizon_days writes off, at the trailing burn rate. Read by the
-- day's compact forecast and, on read, by the view forecast_daily (the day-by-day curve
-- from the published forecast row and that day's _state/grants), so both apply one model.
-- grain: one row per as_of, account, currency and expiry day with a slice holding credits
-- key:   (as_of, account_id, currency, expires_on)
-- upstream: forecast_slices (slices at the end of as_of), forecast_rates (available,
--           burn_rate: carried along, so the forecast reads them here without a join),
--           credit_rules (depletion_horizon_days)
-- The model: the burn draws from slices in burn order; what a slice still holds when it
-- expires is written off that day. Expiry comes before the day's burn, so a slice pays
-- (expires_on - as_of - 1) more days of burn.
-- Rolled-over slices (SPEC §10) are not projected: a write-off here is what expires, and
-- what a rollover would move on is counted as lost (the conservative reading).
with

placed as (
    -- every slice with credits, laid out in burn order within its account and currency:
    -- the order of grant_burn_rank (priority, expiry with never last, unit cost,
    -- effective_on, grant_id), restated here because published slices carry no rank; the
    -- order is total, so ranking one currency's slices gives them the same order
    select
        s.as_of,
        s.account_id,
        s.currency,
        s.expires_on,
        s.remaining,
        coalesce(
            sum(s.remaining) over (
                partition by s.as_of, s.account_id, s.currency
                order by s.priority, s.expires_on nulls last, s.unit_cost, s.effective_on,
                    s.grant_id
                rows between unbounded preceding and 1 preceding
            ),
            cast(0 as decimal(38, 6))
        ) as slice_start
    from forecast_slices as s
    where s.remaining > 0
),

expiring as (
    select p.*
    from placed as p
    cross join credit_rules as r
    where p.expires_on > p.as_of
      and p.expires_on <= p.as_of + r.depletion_horizon_days
),

written as (
    -- what the burn has not taken from a slice by its expiry
    select
        e.as_of,
        e.account_id,
        e.currency,
        e.expires_on,
        any_value(r.available) as available,  -- one value per account and currency
        any_value(r.burn_rate) as burn_rate,
        sum(
            e.remaining
            - case
                when r.burn_rate * (e.expires_on - e.as_of - 1) - e.slice_start <= 0 then 0
                when r.burn_rate * (e.expires_on - e.as_of - 1) - e.slice_start >= e.remaining
                    then e.remaining
                else r.burn_rate * (e.expires_on - e.as_of - 1) - e.slice_start
            end
        ) as written_off
    from expiring as e
    inner join forecast_rates as r
        on r.as_of = e.as_of and r.account_id = e.account_id and r.currency = e.currency
    group by e.as_of, e.account_id, e.currency, e.expires_on
)

select
    as_of,
    account_id,
    currency,
    expires_on,
    available,
    burn_rate,
    written_off,
    -- all write-offs up to and including this expiry day
    sum(written_off) over (
        partition by as_of, account_id, currency
        order by expires_on
        rows between unbounded preceding and current row
    ) as written_off_to_date
from written
