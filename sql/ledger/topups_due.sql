-- topups_due: the top-ups issued by the previous processed day (its topups partition,
-- SPEC §10), shaped as grants for ledger_grant: they take effect like any grant, on the
-- day after their trigger day, with the rule's terms as issued.
-- grain: one grant per top-up issued
-- key:   (account_id, grant_id)
-- upstream: topups_prev (OUT's topups of the previous processed day)
select
    t.grant_id,
    t.account_id,
    t.currency,
    t.amount,
    t.effective_on,
    t.expires_on,
    t.priority,
    -- topups.products is 'A;B' as in grants.csv; slices hold ';A;B;' ('' = every product)
    case when t.products = '' then '' else ';' || t.products || ';' end as products,
    t.unit_cost,
    t.cost_currency
from topups_prev as t
