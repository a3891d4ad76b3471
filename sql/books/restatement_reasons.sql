-- restatement_reasons: why a closed month's ledger moved, per account and currency, for
-- its correction's reason (SPEC §8: "reason as restatements").
-- grain: one row per closed month, account and currency restated
-- key:   (closed_month, account_id, currency)
-- upstream: month_restatements (restatements rows of the closed months' days, with date),
--           reason_cutoff (closed_month, run_id: its close or latest booking)
-- Only the runs since the month's close or latest booking count (run ids sort by time);
-- among their rows a day's own change (inputs_changed, config_changed) is the cause and
-- a cascade only its consequence. So a run that died before booking and the run that
-- finished after it give the same reason.
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
    r.closed_month,
    r.account_id,
    r.currency,
    case min(r.cause_rank)
        when 1 then 'inputs_changed'
        when 2 then 'config_changed'
        else 'cascade'
    end as reason
from ranked as r
left join reason_cutoff as cut on cut.closed_month = r.closed_month
where cut.run_id is null or r.run_id > cut.run_id
group by r.closed_month, r.account_id, r.currency
