-- explain_quantities: the events behind each explained sum or peak charge row, each with
-- the positions its quantity occupies and the units of it this row holds.
-- grain: one row per (explained charge, event): for a sum every event of the scope whose
--        quantity overlaps the row's positions; for a peak the event that set the new
--        maximum (per period instance)
-- key:   (transaction_id, event_id)
-- upstream: accepted_events, active_plans, period_units, explain_segments, run_context
-- A sum's events are laid out in the order of ts, then event_id, from the scope's
-- position_start; zero quantities occupy no position and are left out. A peak's event
-- (the highest quantity, the earliest on a tie) spans the running maximum before it to its
-- quantity, which is exactly what period_units posts for the scope.
with

events as (
    select * from accepted_events
),

plans as (
    select * from active_plans
),

units as (
    select * from period_units
),

segments as (
    select * from explain_segments
),

context as (
    select day_start, month_start from run_context
),

plan_events as (
    select
        p.plan_id,
        p.algorithm,
        e.event_id,
        e.ts,
        e.account_id,
        e.scope_id,
        e.source_file,
        e.quantity,
        case p.billing_period
            when 'hour' then date_trunc('hour', e.ts)
            when 'day' then ctx.day_start
            else cast(ctx.month_start as timestamp)
        end as period_key
    from events as e
    inner join plans as p
        on p.product_code = e.product_code
        and p.meter = e.meter
    cross join context as ctx
    where p.algorithm in ('sum', 'peak')
),

scope_events as (
    select
        pe.*,
        u.threshold_key,  -- the scope's (plan_groups): the same for all its events
        u.position_start,
        u.position_end,
        count(*) over scope_window as scope_events,
        coalesce(
            sum(pe.quantity) over (
                scope_window order by pe.ts, pe.event_id
                rows between unbounded preceding and 1 preceding
            ),
            cast(0 as decimal(38, 6))
        ) as quantity_before,
        row_number() over (
            scope_window order by pe.quantity desc, pe.ts, pe.event_id
        ) as peak_rank
    from plan_events as pe
    inner join units as u
        on u.plan_id = pe.plan_id
        and u.period_key = pe.period_key
        and u.account_id = pe.account_id
        and u.scope_id = pe.scope_id
    window scope_window as (
        partition by pe.plan_id, pe.period_key, pe.account_id, pe.scope_id
    )
),

laid_out as (
    select
        *,
        case
            when algorithm = 'sum' then position_start + quantity_before
            else position_start
        end as event_from,
        case
            when algorithm = 'sum' then position_start + quantity_before + quantity
            else position_end
        end as event_to
    from scope_events
    where algorithm = 'sum' or peak_rank = 1
),

in_rows as (
    select
        sg.transaction_id,
        lo.algorithm,
        lo.period_key,
        lo.event_id,
        lo.ts,
        lo.scope_id,
        lo.source_file,
        lo.quantity,
        lo.scope_events,
        case when lo.event_from > sg.range_start then lo.event_from else sg.range_start end
            as position_from,
        case when lo.event_to < sg.range_end then lo.event_to else sg.range_end end
            as position_to
    from laid_out as lo
    inner join segments as sg
        on sg.plan_id = lo.plan_id
        and sg.period_key = lo.period_key
        and sg.account_id = lo.account_id
        and sg.threshold_key = lo.threshold_key
        and sg.scope_id = lo.scope_id
    where lo.event_from < sg.range_end
      and lo.event_to > sg.range_start
)

select
    transaction_id,
    algorithm,
    period_key,
    event_id,
    ts,
    scope_id,
    source_file,
    quantity,
    scope_events,
    position_from,
    position_to,
    position_to - position_from as units
from in_rows
