-- grant_burn_rank: the burn order of SPEC §4, written once. Every step that draws credits
-- from slices (ledger_transfer, ledger_burn) and the forecast's expiry model takes slices
-- in ascending burn_rank, whatever subset it may use (a product's grants, one currency).
-- grain: one row per grant slice of `slices` (remaining 0 too)
-- key:   (account_id, grant_id); burn_rank is 1..n per account
-- upstream: slices
-- The order, per account:
--   1. priority ascending: legacy cloud credits (priority 0) go before everything else;
--   2. expires_on ascending, never-expiring last: use what would be lost first;
--   3. unit_cost ascending: free and promotional credits before paid ones;
--   4. effective_on, then grant_id: oldest first, and a total order so that every step,
--      and every run, breaks ties the same way.
-- Because the order is total, ranking all of an account's slices once and filtering later
-- gives each subset exactly the order it would have on its own.
select
    account_id,
    grant_id,
    row_number() over (
        partition by account_id
        order by priority, expires_on nulls last, unit_cost, effective_on, grant_id
    ) as burn_rank
from slices
