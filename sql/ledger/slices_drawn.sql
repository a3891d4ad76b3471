-- slices_drawn: what a step's entries take from the slices they draw from: the signed
-- sum of their consume, transfer_out and void entries per slice, which the ledger adds to
-- those slices' remaining in place (``_draw``: the slices nothing drew from are not
-- rewritten). The other entries move no existing slice: grant, transfer_in and
-- rollover_in come with their new slice (ledger_grant, transfer_slices, rollover_slices),
-- expire and rollover_out end one (slices_opening), overdraft has none.
-- grain: one row per slice a step's entries drew from
-- key:   (account_id, grant_id)
-- upstream: posted_entries (the entries the step just wrote)
select account_id, grant_id, sum(amount) as delta
from posted_entries
where entry_type in ('consume', 'transfer_out', 'void')
group by account_id, grant_id
