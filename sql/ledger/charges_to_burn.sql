-- charges_to_burn: the day's charges in the order the burn takes them (SPEC §4 step 4),
-- the product order written once: an account's products in ascending product_code (one
-- burn round per product_rank, each from what the previous round left), a product's
-- charges in scope, plan and tier order (charge_order).
-- grain: one row per charge with credits > 0
-- key:   (transaction_id); (account_id, product_rank, charge_order) is unique too
-- upstream: charges
select
    account_id,
    product_code,
    transaction_id,
    credits,
    dense_rank() over (partition by account_id order by product_code) as product_rank,
    row_number() over (
        partition by account_id, product_code order by scope_id, plan_id, tier
    ) as charge_order
from charges
where credits > 0
