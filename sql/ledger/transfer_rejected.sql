-- transfer_rejected: the pass's transfer when ledger_transfer drew nothing from the sender
-- (it holds less than the amount in the currency), with what the sender held, for the
-- transfer_rejected alert (SPEC §4 step 3).
-- grain: one row per rejected transfer (at most one per pass)
-- key:   (transfer_id)
-- upstream: transfers_today, slices, ledger_transfer
-- parameter: $transfer_order, the pass's transfer
with

transfer as (
    select t.*
    from transfers_today as t
    where t.transfer_order = $transfer_order
      and not exists (select 1 from ledger_transfer)
)

select
    t.transfer_id,
    t.from_account,
    t.to_account,
    t.amount,
    coalesce(sum(s.remaining), 0) as available
from transfer as t
left join slices as s
    on s.account_id = t.from_account
    and (t.currency is null or s.currency = t.currency)
group by t.transfer_id, t.from_account, t.to_account, t.amount
