-- ledger_transfer: one transfer of SPEC §4 step 3, taken out of the sender's slices in
-- burn order into receiver slices GRANT@TRANSFER that keep expiry, priority, currency,
-- cost and products. A transfer larger than what the sender holds moves nothing.
-- grain: one row per sender slice the transfer draws from
-- key:   (transfer_id, grant_id)
-- upstream: slices, current_transfer (one row)
with

transfer as (
    select * from current_transfer
),

sender_slices as (
    select
        s.*,
        t.transfer_id,
        t.to_account,
        t.amount as transfer_amount,
        coalesce(
            sum(s.remaining) over (
                order by
                    s.priority, s.expires_on nulls last, s.unit_cost, s.effective_on, s.grant_id
                rows between unbounded preceding and 1 preceding
            ),
            cast(0 as decimal(38, 6))
        ) as slice_before,
        sum(s.remaining) over () as sender_total
    from slices as s
    inner join transfer as t
        on t.from_account = s.account_id
        and (t.currency is null or t.currency = s.currency)
    where s.remaining > 0
)

select
    account_id,
    grant_id,
    currency,
    priority,
    expires_on,
    unit_cost,
    cost_currency,
    effective_on,
    products,
    remaining,
    transfer_id,
    to_account,
    case
        when transfer_amount - slice_before >= remaining then remaining
        else transfer_amount - slice_before
    end as moved
from sender_slices
where sender_total >= transfer_amount
  and slice_before < transfer_amount
