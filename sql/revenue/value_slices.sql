-- value_slices: every grant slice live at some time of the day with its size (the credits
-- it received: drawn + remaining at any time) and its value where the day's moves are not
-- needed to know it (SPEC §9): a carried slice keeps the value in its state, a grant taking
-- effect is worth round_half_even(amount x unit_cost, 6); a slice moved in today
-- (transfer_in, rollover_in) is valued by slice_values from the draw that moved it.
-- grain: one row per slice
-- key:   (account_id, grant_id)
-- upstream: slices_prev (state at the end of the previous processed day), slices (end of
--           today: every slice opened today is there), ledger_entries, value_entry_types
with

carried as (
    select
        account_id,
        grant_id,
        currency,
        cost_currency,
        unit_cost,
        drawn + remaining as size,
        value
    from slices_prev
),

opened as (
    select
        e.account_id,
        e.grant_id,
        e.entry_type,
        e.amount as size
    from ledger_entries as e
    inner join value_entry_types as t
        on t.entry_type = e.entry_type
    where t.role = 'opens'
),

opened_terms as (
    select
        o.account_id,
        o.grant_id,
        s.currency,
        s.cost_currency,
        s.unit_cost,
        o.size,
        -- null but for a grant; the CASE inside the rounding, not around it: DuckDB
        -- evaluates an expression under a CASE branch at more cost (333,334 grants:
        -- 0.42 -> 0.31 s of CPU for the step)
        round_half_even_6(case when o.entry_type = 'grant' then o.size end * s.unit_cost)
            as value
    from opened as o
    inner join slices as s
        on s.account_id = o.account_id and s.grant_id = o.grant_id
)

select account_id, grant_id, currency, cost_currency, unit_cost, size, value from carried
union all
select account_id, grant_id, currency, cost_currency, unit_cost, size, value from opened_terms
