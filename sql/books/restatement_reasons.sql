-- restatement_reasons: why a closed month's ledger moved, per account and currency, for
-- its correction's reason (SPEC §8: "reason as restatements").
-- grain: one row per closed month, account and currency restated
-- key:   (closed_month, account_id, currency)
-- upstream: month_restatements (restatements rows of the closed months' days, with date)
-- The latest run that restated the month decides; within it a day's own change
-- (inputs_changed, config_changed) is the cause and a cascade only its consequence.
with

ranked as (
    select
        cast(date_trunc('month', r.date) as date) as closed_month,
        r.account_id,
        r.currency,
        r.run_id,
        r.reason,
        case r.reason
            when 'inputs_changed' then 1
            when 'config_changed' then 2
            else 3
        end as cause_rank
    from month_restatements as r
)

select
    closed_month,
    account_id,
    currency,
    arg_min(reason, cause_rank) filter (where run_id = latest_run) as reason
from (
    select
        *,
        max(run_id) over (partition by closed_month, account_id, currency) as latest_run
    from ranked
)
group by closed_month, account_id, currency
