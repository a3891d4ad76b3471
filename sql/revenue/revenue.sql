-- revenue: deferred, recognised and breakage per account, credit currency and cost
-- currency (SPEC §9), every day from the account's first slice in them.
-- grain: one row per account, credit currency, cost currency and day
-- key:   (account_id, currency, cost_currency); the date is the partition
-- upstream: revenue_entries (today's values), slices_valued (end of today, with each
--           slice's drawn and value), revenue_prev (the previous processed day's rows),
--           value_entry_types
-- deferred_closing is computed from the slices alone (each live slice's value not yet
-- drawn: value - round_half_even(unit_cost x drawn, 6), 0 once empty) and the flows from
-- the entries alone, so audit_revenue_conservation checks one against the other:
-- deferred_opening + purchased + transferred_in_value - transferred_out_value - recognised
-- - breakage - voided_value = deferred_closing.
-- Each row of the three sources puts its amounts in its own columns and zero in the
-- others, so that one aggregation per key gives the row: one hash table on the three
-- string keys, not one per source, their union and three joins on those keys. The
-- closing reads slices_valued (slices joined to slice_values once, for the state too).
with

zero as (
    select cast(0 as decimal(38, 6)) as z
),

amounts as (
    -- the opening: the previous processed day's closing
    select
        p.account_id,
        p.currency,
        p.cost_currency,
        p.deferred_closing as deferred_opening,
        z.z as purchased,
        z.z as transferred_in_value,
        z.z as transferred_out_value,
        z.z as recognised,
        z.z as breakage,
        z.z as voided_value,
        z.z as deferred_closing
    from revenue_prev as p
    cross join zero as z
    union all
    -- the flows, from the entries alone
    select
        e.account_id,
        e.currency,
        e.cost_currency,
        z.z as deferred_opening,
        case when t.revenue_column = 'purchased' then e.value else z.z end as purchased,
        case when t.revenue_column = 'transferred_in_value' then e.value else z.z end
            as transferred_in_value,
        case when t.revenue_column = 'transferred_out_value' then -e.value else z.z end
            as transferred_out_value,
        case when t.revenue_column = 'recognised' then -e.value else z.z end as recognised,
        case when t.revenue_column = 'breakage' then -e.value else z.z end as breakage,
        case when t.revenue_column = 'voided_value' then -e.value else z.z end as voided_value,
        z.z as deferred_closing
    from revenue_entries as e
    inner join value_entry_types as t
        on t.entry_type = e.entry_type
    cross join zero as z
    union all
    -- the closing, from the slices alone
    select
        s.account_id,
        s.currency,
        s.cost_currency,
        z.z as deferred_opening,
        z.z as purchased,
        z.z as transferred_in_value,
        z.z as transferred_out_value,
        z.z as recognised,
        z.z as breakage,
        z.z as voided_value,
        -- value - round_half_even(unit_cost x drawn, 6) while live, 0 once empty; the
        -- rounding outside the CASEs (DuckDB evaluates it under a branch at more cost),
        -- and the CASE over drawn, not the product: one of DECIMAL(38, 12) and (38, 6)
        -- is DECIMAL(38, 6), rounded half up before the macro could see a tie
        case when s.remaining > 0 then s.value else z.z end
        - round_half_even_6(s.unit_cost * case when s.remaining > 0 then s.drawn else z.z end)
            as deferred_closing
    from slices_valued as s
    cross join zero as z
)

select
    a.account_id,
    a.currency,
    a.cost_currency,
    cast(coalesce(sum(a.deferred_opening), z.z) as decimal(38, 6)) as deferred_opening,
    cast(coalesce(sum(a.purchased), z.z) as decimal(38, 6)) as purchased,
    cast(coalesce(sum(a.transferred_in_value), z.z) as decimal(38, 6)) as transferred_in_value,
    cast(coalesce(sum(a.transferred_out_value), z.z) as decimal(38, 6)) as transferred_out_value,
    cast(coalesce(sum(a.recognised), z.z) as decimal(38, 6)) as recognised,
    cast(coalesce(sum(a.breakage), z.z) as decimal(38, 6)) as breakage,
    cast(coalesce(sum(a.voided_value), z.z) as decimal(38, 6)) as voided_value,
    cast(coalesce(sum(a.deferred_closing), z.z) as decimal(38, 6)) as deferred_closing
from amounts as a
cross join zero as z
group by a.account_id, a.currency, a.cost_currency, z.z
