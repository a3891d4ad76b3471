-- focus_corrections: corrections as FinOps FOCUS 1.2 rows (SPEC §8): exported in the
-- month they are booked in with ChargeClass = Correction; billing period the booked
-- month, charge period the closed month.
-- grain: one row per correction and charge category it corrects (consumed credits:
--        Usage; granted credits: Purchase); transfers, expiries, voids and overdraft have
--        no FOCUS row in the ledger export, so neither do their corrections
-- key:   (x_LedgerRef, "ChargeCategory")
-- upstream: corrections (view), grant_state (slices' cost currency), $account, $start,
--           $end (filters on the booked month's first day), $provider
-- The money value of a corrected credit is not known per correction (the credits it
-- moves come from slices of several costs), so the cost columns are 0 and the credits are
-- in PricingCurrencyEffectiveCost (Usage) and PricingQuantity (Purchase); see docs/focus.md.
with

selected as (
    select *
    from corrections
    where ($account is null or account_id = $account)
        and ($start is null or booked_month >= $start)
        and ($end is null or booked_month <= $end)
),

billing_currency as (
    -- the account's cost currency in that credit currency (its slices agree in practice;
    -- the greatest is taken so the choice is deterministic), USD without slices
    select account_id, currency, max(coalesce(cost_currency, 'USD')) as cost_currency
    from grant_state
    group by account_id, currency
),

parts as (
    select
        s.*,
        kinds.category,
        case kinds.category when 'Usage' then s.consumed_delta else s.granted_delta end
            as credits
    from selected as s
    cross join (values ('Usage'), ('Purchase')) as kinds (category)
    where (kinds.category = 'Usage' and s.consumed_delta <> 0)
        or (kinds.category = 'Purchase' and s.granted_delta <> 0)
)

select
    cast(0 as decimal(38, 12)) as "BilledCost",
    p.account_id as "BillingAccountId",
    p.account_id as "BillingAccountName",
    coalesce(bc.cost_currency, 'USD') as "BillingCurrency",
    cast(p.booked_month + interval 1 month as timestamptz) as "BillingPeriodEnd",
    cast(cast(p.booked_month as timestamp) as timestamptz) as "BillingPeriodStart",
    p.category as "ChargeCategory",
    'Correction' as "ChargeClass",
    'Correction of ' || strftime(p.closed_month, '%Y-%m') || ' booked in '
        || strftime(p.booked_month, '%Y-%m') || ': '
        || case p.category when 'Usage' then 'consumed ' else 'granted ' end
        || cast(p.credits as varchar) || ' ' || p.currency || ' (' || p.reason || ')'
        as "ChargeDescription",
    case p.category when 'Usage' then 'Usage-Based' else 'One-Time' end as "ChargeFrequency",
    cast(p.closed_month + interval 1 month as timestamptz) as "ChargePeriodEnd",
    cast(cast(p.closed_month as timestamp) as timestamptz) as "ChargePeriodStart",
    cast(null as decimal(38, 6)) as "ConsumedQuantity",
    cast(null as varchar) as "ConsumedUnit",
    cast(0 as decimal(38, 12)) as "ContractedCost",
    cast(0 as decimal(38, 12)) as "EffectiveCost",
    p.account_id || ':' || strftime(p.booked_month, '%Y-%m') || ':'
        || coalesce(bc.cost_currency, 'USD') as "InvoiceId",
    $provider as "InvoiceIssuerName",
    cast(0 as decimal(38, 12)) as "ListCost",
    'Standard' as "PricingCategory",
    p.currency as "PricingCurrency",
    case p.category when 'Usage' then p.credits else cast(0 as decimal(38, 6)) end
        as "PricingCurrencyEffectiveCost",
    cast(null as decimal(38, 6)) as "PricingQuantity",
    cast(null as varchar) as "PricingUnit",
    $provider as "ProviderName",
    $provider as "PublisherName",
    'Other' as "ServiceCategory",
    'Prepaid credits (' || p.currency || ')' as "ServiceName",
    'Other (Other)' as "ServiceSubcategory",
    'CREDITS:' || p.currency as "SkuId",
    p.account_id as "SubAccountId",
    p.account_id as "SubAccountName",
    'correction' as "x_EntryType",
    cast(null as varchar) as "x_GrantId",
    cast(null as varchar) as "x_TransferRef",
    cast(null as date) as "x_GrantEffectiveOn",
    cast(null as date) as "x_GrantExpiresOn",
    cast(null as decimal(38, 6)) as "x_UnitCost",
    cast(null as varchar) as "x_ScopeId",
    cast(null as date) as "x_PlanVersion",
    cast(null as integer) as "x_Tier",
    p.correction_id as "x_LedgerRef",
    cast(null as varchar) as "x_Meter",
    p.booked_month as _day
from parts as p
left join billing_currency as bc
    on bc.account_id = p.account_id
    and bc.currency = p.currency
