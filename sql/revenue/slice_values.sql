-- slice_values: every slice of the day with its value (SPEC §9). A slice moved in today is
-- worth what its paired draw took out of its source slice; that draw's value needs the
-- source's value only when it empties the source, and the source may itself have moved in
-- today (a transfer received and sent on), so values are resolved down the chains of the
-- day's moves by a recursive query, from the slices whose value is known (a slice no move
-- reaches keeps the value value_slices gave it, or none: audit_revenue_values).
-- grain: one row per slice
-- key:   (account_id, grant_id)
-- upstream: value_slices, value_draws, ledger_entries, value_entry_types
with recursive

moved_in as (
    select
        e.account_id,
        e.grant_id,
        e.entry_type,
        e.ref,
        t.moved_from
    from ledger_entries as e
    inner join value_entry_types as t
        on t.entry_type = e.entry_type
    where t.role = 'opens' and t.moved_from is not null
),

-- a moved-in slice's source draw: a transfer's receiver slice is GRANT@TRANSFER for the
-- sender's slice GRANT and the same ref (one transfer has one sender); a rollover slice is
-- GRANT~rollover in the same account (SPEC §4, §10)
moves as (
    select
        m.account_id,
        m.grant_id,
        d.account_id as from_account,
        d.grant_id as from_grant,
        d.empties,
        d.value_before,
        d.partial_value
    from moved_in as m
    inner join value_draws as d
        on d.entry_type = m.moved_from
        and d.ref = m.ref
        and m.grant_id = d.grant_id || '@' || d.ref
    where m.entry_type = 'transfer_in'
    union all
    select
        m.account_id,
        m.grant_id,
        d.account_id as from_account,
        d.grant_id as from_grant,
        d.empties,
        d.value_before,
        d.partial_value
    from moved_in as m
    inner join value_draws as d
        on d.entry_type = m.moved_from
        and d.account_id = m.account_id
        and m.grant_id = d.grant_id || '~rollover'
    where m.entry_type = 'rollover_in'
),

-- starts from the sources of the day's moves whose value is known, not every slice: the
-- slices no move touches keep value_slices' value without a pass through the recursion
resolved (account_id, grant_id, value) as (
    select s.account_id, s.grant_id, s.value
    from value_slices as s
    where s.value is not null
      and exists (
          select 1
          from moves as mv
          where mv.from_account = s.account_id and mv.from_grant = s.grant_id
      )
    union all
    select
        mv.account_id,
        mv.grant_id,
        case when mv.empties then r.value - mv.value_before else mv.partial_value end
    from resolved as r
    inner join moves as mv
        on mv.from_account = r.account_id and mv.from_grant = r.grant_id
)

select
    s.account_id,
    s.grant_id,
    s.currency,
    s.cost_currency,
    s.unit_cost,
    s.size,
    cast(coalesce(r.value, s.value) as decimal(38, 6)) as value
from value_slices as s
left join resolved as r
    on r.account_id = s.account_id and r.grant_id = s.grant_id
