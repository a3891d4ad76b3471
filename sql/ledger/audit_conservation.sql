-- audit_conservation: per account and currency, purchased_total - used_total -
-- expired_total - voided_total must equal available, and available must equal opening plus
-- the day's movements (voids included, SPEC §10). Returns the violating balances rows (zero rows = pass).
-- grain: one row per violating balances row
-- key:   (account_id, currency)
-- upstream: balances
select account_id, currency, available, purchased_total, used_total, expired_total
from balances
where purchased_total - used_total - expired_total - voided_total <> available
   or opening + granted + transferred_in - transferred_out - consumed - expired - voided
      <> available
