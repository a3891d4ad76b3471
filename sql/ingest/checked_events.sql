-- checked_events: every raw usage row of the day with the first SPEC §3.1 rule it breaks.
-- grain: one row per input row (duplicates included)
-- key:   (source_file, source_row); reason is null for a valid row
-- upstream: raw_events (all files of IN/usage/date=D), active_plans, run_context,
--           credit_rules (id_max_length, quantity_limit: flexbatch/limits.py)
-- The order of the CASE is the order rules are reported in: one reason per row.
with

raw as (
    select * from raw_events
),

context as (
    select ctx.day_start, ctx.day_end, r.id_max_length, r.quantity_limit
    from run_context as ctx
    cross join credit_rules as r
),

plan_needs as (
    -- which (product, meter) pairs need a user_id or a resource_id today
    select
        product_code,
        meter,
        max(case when counts_users then 1 else 0 end) as needs_user,
        max(case when counts_resources then 1 else 0 end) as needs_resource
    from active_plans
    group by product_code, meter
),

checked as (
    select
        r.event_id,
        r.ts,
        r.account_id,
        r.scope_id,
        r.product_code,
        r.meter,
        r.user_id,
        r.resource_id,
        r.quantity,
        r.source_file,
        r.source_row,
        case
            when r.event_id is null or r.event_id = '' then 'event_id_empty'
            when r.ts is null then 'ts_missing'
            when r.ts < ctx.day_start or r.ts >= ctx.day_end then 'ts_outside_partition_day'
            when r.account_id is null or r.account_id = '' then 'account_id_empty'
            when length(r.account_id) > ctx.id_max_length then 'account_id_too_long'
            when r.scope_id is null or r.scope_id = '' then 'scope_id_empty'
            when r.product_code is null or r.product_code = '' then 'product_code_empty'
            when r.meter is null or r.meter = '' then 'meter_empty'
            -- the CASE hides quantity's Parquet min/max from DuckDB's optimiser: those
            -- leave NaN out, and beside quantities all 0 / -0 it folded isnan to false
            when isnan(case when r.quantity is not null then r.quantity end)
                or abs(r.quantity) = cast('Infinity' as double)
                then 'quantity_not_finite'
            when r.quantity < 0 then 'quantity_negative'
            -- the ledger's range (flexbatch/limits.py): quantity x price < 1e20 credits
            when r.quantity >= ctx.quantity_limit then 'quantity_out_of_range'
            when pn.needs_user = 1 and (r.user_id is null or r.user_id = '')
                then 'user_id_missing_for_user_plan'
            when pn.needs_resource = 1 and (r.resource_id is null or r.resource_id = '')
                then 'resource_id_missing_for_resource_plan'
        end as reason
    from raw as r
    cross join context as ctx
    left join plan_needs as pn
        on pn.product_code = r.product_code
        and pn.meter = r.meter
)

select
    event_id,
    ts,
    account_id,
    scope_id,
    product_code,
    meter,
    user_id,
    resource_id,
    quantity,
    source_file,
    source_row,
    reason
from checked
