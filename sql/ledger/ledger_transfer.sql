-- ledger_transfer: one transfer of SPEC §4 step 3, taken out of the sender's slices in
-- burn order into receiver slices GRANT@TRANSFER that keep expiry, priority, currency,
-- cost and products. A transfer larger than what the sender holds moves nothing.
-- grain: one row per sender slice the transfer draws from
-- key:   (transfer_id, grant_id)
-- upstream: transfers_today, slices, grant_burn_rank
-- parameter: $transfer_order, the pass's transfer
with

transfer as (
    select t.*
    from transfers_today as t
    where t.transfer_order = $transfer_order
),

sender_slices as (
    select
        s.*,
        t.transfer_id,
        t.to_account,
        t.amount as transfer_amount,
        coalesce(
            sum(s.remaining) over (
                order by r.burn_rank
                rows between unbounded preceding and 1 preceding
            ),
            cast(0 as decimal(38, 6))
        ) as slice_before,
        sum(s.remaining) over () as sender_total
    from slices as s
    inner join transfer as t
        on t.from_account = s.account_id
        and (t.currency is null or t.currency = s.currency)
    inner join grant_burn_rank as r
        on r.account_id = s.account_id and r.grant_id = s.grant_id
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
    origin_id,
    rolled_over,
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
