-- out_of_range_rows: the valid rows that would take their usage group out of the
-- ledger's range, rejected as quantity_sum_out_of_range (rejected_rows lists them with
-- the rows validation rejects).
-- grain: one row per rejected input row
-- key:   (source_file, source_row)
-- upstream: checked_events, duplicate_rows, raw_events, credit_rules (quantity_limit)
-- Range (flexbatch/limits.py): a group's (account, scope, product, meter) quantities of
-- the day sum below quantity_limit (1e14), so units x price stays below 1e20 credits. In a
-- group that reaches it, the event at which the running sum (in ts, event_id, file, row
-- order) reaches the limit and every later one are rejected. A day whose quantities all
-- together stay below 9/10 of it (a cheap double sum of one column) has no such group: the
-- gate is then empty and the group scan below stops at once.
with

limits as (
    select quantity_limit from credit_rules
),

gate as (
    -- an ungrouped sum: grouped by the limit, it was a hash aggregate of every row
    select 1 as is_open
    from (
        select
            sum(
                case when e.quantity >= 0 and e.quantity < l.quantity_limit
                    then e.quantity else 1 end
            ) as quantity_total,
            max(l.quantity_limit) as quantity_limit
        from raw_events as e
        cross join limits as l
    ) as s
    where s.quantity_total >= s.quantity_limit * 9 / 10
),

valid as (
    select c.*
    from checked_events as c
    inner join gate as g
        on g.is_open = 1
    left join duplicate_rows as d
        on d.source_file = c.source_file
        and d.source_row = c.source_row
    where c.reason is null
      and d.source_file is null
),

group_totals as (
    select
        account_id,
        scope_id,
        product_code,
        meter,
        sum(cast(coalesce(quantity, 1) as decimal(38, 6))) as quantity_total
    from valid
    group by account_id, scope_id, product_code, meter
),

over_limit as (
    select
        v.*,
        sum(cast(coalesce(v.quantity, 1) as decimal(38, 6))) over (
            partition by v.account_id, v.scope_id, v.product_code, v.meter
            order by v.ts, v.event_id, v.source_file, v.source_row
            rows between unbounded preceding and current row
        ) as running_total,
        l.quantity_limit
    from valid as v
    cross join limits as l
    inner join group_totals as t
        on t.account_id = v.account_id
        and t.scope_id = v.scope_id
        and t.product_code = v.product_code
        and t.meter = v.meter
    where t.quantity_total >= l.quantity_limit
)

select
    event_id, ts, account_id, scope_id, product_code, meter, user_id, resource_id,
    quantity, source_file, source_row, 'quantity_sum_out_of_range' as reason
from over_limit
where running_total >= quantity_limit
