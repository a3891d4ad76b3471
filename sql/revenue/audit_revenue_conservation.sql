-- audit_revenue_conservation: per account, credit currency and cost currency, the value
-- deferred at the end of the day (from the slices) must equal the opening plus the day's
-- flows (from the entries), exactly (SPEC §9). Returns the violating revenue rows (zero
-- rows = pass).
-- grain: one row per violating revenue row
-- key:   (account_id, currency, cost_currency)
-- upstream: revenue
select
    account_id,
    currency,
    cost_currency,
    deferred_opening,
    deferred_closing
from revenue
where deferred_opening + purchased + transferred_in_value - transferred_out_value
    - recognised - breakage - voided_value <> deferred_closing
