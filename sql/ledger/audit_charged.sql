-- audit_charged: per account, consumed + overdraft must equal the day's charged credits.
-- Returns the violating accounts (zero rows = pass).
-- grain: one row per account whose consumed + overdraft differs from its charges
-- key:   (account_id)
-- upstream: ledger_entries, charges
with

charged as (
    select account_id, sum(credits) as credits from charges group by account_id
),

drawn as (
    select account_id, -sum(amount) as credits
    from ledger_entries
    where entry_type in ('consume', 'overdraft')
    group by account_id
)

select
    coalesce(c.account_id, d.account_id) as account_id,
    c.credits as charged,
    d.credits as consumed_and_overdraft
from charged as c
full outer join drawn as d
    on d.account_id = c.account_id
where coalesce(c.credits, 0) <> coalesce(d.credits, 0)
