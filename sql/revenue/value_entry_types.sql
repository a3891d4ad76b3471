-- value_entry_types: what each ledger entry type does to the value of its slice (SPEC §9),
-- written once: every value step and the revenue table read it, so a new entry type is
-- one row here (and an entry of a type missing here stops the day: audit_revenue_values).
-- grain: one row per ledger entry type
-- key:   (entry_type)
-- upstream: none
-- role:   'opens'  the entry creates its slice: a grant is valued at amount x unit_cost,
--                  a slice moved in (transfer_in, rollover_in) carries the value its
--                  paired draw (moved_from) took out of the source slice;
--         'draws'  the entry takes credits out of its slice and carries part of its value;
--         'none'   the entry touches no slice (overdraft: no value, SPEC §9).
-- revenue_column: the revenue column the entry's value is booked in; null for a move
-- inside one account, currency and cost currency (rollover: out and in cancel).
select entry_type, role, moved_from, revenue_column
from (
    values
        ('grant', 'opens', null, 'purchased'),
        ('transfer_in', 'opens', 'transfer_out', 'transferred_in_value'),
        ('rollover_in', 'opens', 'rollover_out', null),
        ('transfer_out', 'draws', null, 'transferred_out_value'),
        ('consume', 'draws', null, 'recognised'),
        ('expire', 'draws', null, 'breakage'),
        ('void', 'draws', null, 'voided_value'),
        ('rollover_out', 'draws', null, null),
        ('overdraft', 'none', null, null)
) as t (entry_type, role, moved_from, revenue_column)
