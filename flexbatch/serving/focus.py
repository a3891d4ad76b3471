"""The credit ledger as FinOps FOCUS 1.2 cost-and-usage rows (``export --format focus``).

Credits are a virtual currency, and FOCUS 1.2 allows a virtual currency only in the
``PricingCurrency*`` columns while ``BillingCurrency`` must be a national currency. So:

* a ``grant`` entry is a **Purchase** row: One-Time, billed ``amount × unit_cost`` in the
  grant's ``cost_currency``, EffectiveCost 0 (the purchase covers future usage), charge
  period = the grant's validity; a top-up (SPEC §10) is one too, described as a top-up of
  its rule;
* a ``consume`` entry is a **Usage** row: Usage-Based, billed 0, EffectiveCost = the credits
  × the ``unit_cost`` of the grant slice they came from, ``PricingCurrency`` = the credit
  currency and ``PricingCurrencyEffectiveCost`` = the credits.

Transfers, expiries, rollovers and overdrafts move no money, so they are not FOCUS charges
(nor are voids: see ``docs/focus.md``): transfers
and expiry stay visible on the rows they affect (``x_TransferRef``, ``x_GrantExpiresOn``)
and every ledger entry is in the plain ``export credit_ledger``. Overdraft (usage no grant
covered) is billed later as overage at a price this job does not know, so it has no FOCUS
row rather than a row of placeholder zeros (FOCUS NullHandling forbids those).

The cost basis of a slice (``unit_cost``, ``cost_currency``, ``effective_on``,
``expires_on``) is not on the ledger rows; it comes from the grant-slice state
``OUT/_state/grants`` (every slice live at the end of each day, transferred slices keeping
their grant's cost basis). Every column's derivation is in ``docs/focus.md``.
"""

from __future__ import annotations

from pathlib import Path

import duckdb

from flexbatch.errors import ConfigError, FlexbatchError
from flexbatch.ledger.credit_ledger import GRANT_STATE
from flexbatch.serving.focus_units import register_units
from flexbatch.tables import table

FOCUS_VERSION = "1.2"
DEFAULT_PROVIDER = "flexbatch"

FOCUS_COLUMNS = (
    "BilledCost",
    "BillingAccountId",
    "BillingAccountName",
    "BillingCurrency",
    "BillingPeriodEnd",
    "BillingPeriodStart",
    "ChargeCategory",
    "ChargeClass",
    "ChargeDescription",
    "ChargeFrequency",
    "ChargePeriodEnd",
    "ChargePeriodStart",
    "ConsumedQuantity",
    "ConsumedUnit",
    "ContractedCost",
    "EffectiveCost",
    "InvoiceId",
    "InvoiceIssuerName",
    "ListCost",
    "PricingCategory",
    "PricingCurrency",
    "PricingCurrencyEffectiveCost",
    "PricingQuantity",
    "PricingUnit",
    "ProviderName",
    "PublisherName",
    "ServiceCategory",
    "ServiceName",
    "ServiceSubcategory",
    "SkuId",
    "SubAccountId",
    "SubAccountName",
)
EXTRA_COLUMNS = (
    "x_EntryType",
    "x_GrantId",
    "x_TransferRef",
    "x_GrantEffectiveOn",
    "x_GrantExpiresOn",
    "x_UnitCost",
    "x_ScopeId",
    "x_PlanVersion",
    "x_Tier",
    "x_LedgerRef",
    "x_Meter",
)
COLUMNS = FOCUS_COLUMNS + EXTRA_COLUMNS

# One statement: the ledger rows in range, the slices' cost basis, the charge each consume
# row pays for, then one select that lays out every FOCUS column. `$account`, `$start`
# and `$end` are optional filters (null = all).
FOCUS_SQL = """
with ledger as (
    select *
    from credit_ledger
    where ($account is null or account_id = $account)
        and ($start is null or date >= $start)
        and ($end is null or date <= $end)
),

slice_values as (
    -- the value (SPEC §9) of each ledger entry that touches a slice, in its cost currency
    select date, account_id, grant_id, entry_type, ref, value
    from revenue_entries
    where ($account is null or account_id = $account)
        and ($start is null or date >= $start)
        and ($end is null or date <= $end)
),

slices as (
    -- one row per grant slice ever live: its cost basis and validity (constant per slice)
    select
        account_id,
        grant_id,
        max(unit_cost) as unit_cost,
        max(coalesce(cost_currency, 'USD')) as cost_currency,
        max(effective_on) as effective_on,
        max(expires_on) as expires_on
    from grant_state
    group by account_id, grant_id
),

charge_parts as (
    -- consume and overdraft rows with the charge they book; a charge drawn from several
    -- slices (or partly uncovered) has several parts
    select
        ledger.date,
        ledger.account_id,
        ledger.grant_id,
        ledger.currency,
        ledger.entry_type,
        -ledger.amount as credits,
        ledger.ref,
        charges.scope_id,
        charges.product_code,
        charges.plan_id,
        charges.plan_version,
        charges.tier,
        charges.meter,
        charges.units,
        charges.credits as charge_credits,
        row_number() over (
            partition by ledger.ref order by ledger.entry_type, ledger.grant_id
        ) as part_no,
        count(*) over (partition by ledger.ref) as parts
    from ledger
    inner join charges
        on charges.transaction_id = ledger.ref
        and charges.date = ledger.date
    where ledger.entry_type in ('consume', 'overdraft')
),

unit_shares as (
    -- each part's share of the charge's units in integer micro-units, rounded half up;
    -- the last part takes the remainder so the parts add up to the units exactly
    select
        *,
        cast(units * 1000000 as hugeint) as units_micro,
        case
            when parts = 1 or charge_credits = 0 then cast(units * 1000000 as hugeint)
            else (
                2 * cast(units * 1000000 as hugeint) * cast(credits * 1000000 as hugeint)
                + cast(charge_credits * 1000000 as hugeint)
            ) // (2 * cast(charge_credits * 1000000 as hugeint))
        end as share_micro
    from charge_parts
),

usage_parts as (
    select
        *,
        cast(
            case
                when part_no < parts then share_micro
                else units_micro - (sum(share_micro) over (partition by ref) - share_micro)
            end as decimal(38, 0)
        ) * 0.000001 as units_part
    from unit_shares
),

purchase_rows as (
    -- a top-up (SPEC §10) is a grant like any other: a purchase, named after its rule
    select
        ledger.date,
        ledger.account_id,
        ledger.currency,
        ledger.entry_type,
        ledger.grant_id,
        ledger.amount as credits,
        ledger.ref,
        cast(slice_values.value as decimal(38, 12)) as value,
        slices.unit_cost,
        slices.cost_currency,
        slices.effective_on,
        slices.expires_on,
        case when topups.rule_id is null then 'Purchase' else 'Top-up' end as purchase_kind,
        case when topups.rule_id is null then '' else ', rule ' || topups.rule_id end
            as purchase_rule
    from ledger
    left join slices
        on slices.account_id = ledger.account_id
        and slices.grant_id = ledger.grant_id
    left join topups
        on topups.account_id = ledger.account_id
        and topups.grant_id = ledger.grant_id
    left join slice_values
        on slice_values.date = ledger.date
        and slice_values.account_id = ledger.account_id
        and slice_values.grant_id = ledger.grant_id
        and slice_values.entry_type = ledger.entry_type
    where ledger.entry_type = 'grant'
),

breakage_rows as (
    -- an expiry that forfeits value: the breakage of its grant's purchase (SPEC §9)
    select
        ledger.date,
        ledger.account_id,
        ledger.currency,
        ledger.entry_type,
        ledger.grant_id,
        -ledger.amount as credits,
        cast(-slice_values.value as decimal(38, 12)) as value,
        slices.unit_cost,
        slices.cost_currency,
        slices.effective_on,
        slices.expires_on
    from ledger
    inner join slice_values
        on slice_values.date = ledger.date
        and slice_values.account_id = ledger.account_id
        and slice_values.grant_id = ledger.grant_id
        and slice_values.entry_type = ledger.entry_type
    left join slices
        on slices.account_id = ledger.account_id
        and slices.grant_id = ledger.grant_id
    where ledger.entry_type = 'expire' and slice_values.value < 0
),

usage_rows as (
    select
        usage_parts.*,
        cast(-slice_values.value as decimal(38, 12)) as value,
        slices.unit_cost,
        slices.cost_currency,
        slices.effective_on,
        slices.expires_on
    from usage_parts
    left join slices
        on slices.account_id = usage_parts.account_id
        and slices.grant_id = usage_parts.grant_id
    left join slice_values
        on slice_values.date = usage_parts.date
        and slice_values.account_id = usage_parts.account_id
        and slice_values.grant_id = usage_parts.grant_id
        and slice_values.entry_type = usage_parts.entry_type
        and slice_values.ref = usage_parts.ref
    where usage_parts.entry_type = 'consume'
),

focus_rows as (
    select
        purchase_rows.value as "BilledCost",
        purchase_rows.account_id as "BillingAccountId",
        purchase_rows.account_id as "BillingAccountName",
        purchase_rows.cost_currency as "BillingCurrency",
        date_trunc('month', purchase_rows.date) + interval 1 month as billing_period_end,
        date_trunc('month', purchase_rows.date) as billing_period_start,
        'Purchase' as "ChargeCategory",
        cast(null as varchar) as "ChargeClass",
        purchase_rows.purchase_kind || ' of ' || cast(purchase_rows.credits as varchar) || ' '
            || purchase_rows.currency || ' at ' || cast(purchase_rows.unit_cost as varchar)
            || ' ' || purchase_rows.cost_currency || ' each (grant '
            || purchase_rows.grant_id || purchase_rows.purchase_rule || ')'
            as "ChargeDescription",
        'One-Time' as "ChargeFrequency",
        coalesce(purchase_rows.expires_on, purchase_rows.date + 1) as charge_period_end,
        purchase_rows.date as charge_period_start,
        cast(null as decimal(38, 6)) as "ConsumedQuantity",
        cast(null as varchar) as "ConsumedUnit",
        purchase_rows.value as "ContractedCost",
        cast(0 as decimal(38, 12)) as "EffectiveCost",
        purchase_rows.value as "ListCost",
        'Standard' as "PricingCategory",
        purchase_rows.currency as "PricingCurrency",
        cast(0 as decimal(38, 6)) as "PricingCurrencyEffectiveCost",
        purchase_rows.credits as "PricingQuantity",
        currency_units.unit as "PricingUnit",
        'Prepaid credits (' || purchase_rows.currency || ')' as "ServiceName",
        'CREDITS:' || purchase_rows.currency as "SkuId",
        purchase_rows.account_id as "SubAccountId",
        purchase_rows.account_id as "SubAccountName",
        purchase_rows.entry_type as "x_EntryType",
        purchase_rows.grant_id as "x_GrantId",
        purchase_rows.effective_on as "x_GrantEffectiveOn",
        purchase_rows.expires_on as "x_GrantExpiresOn",
        purchase_rows.unit_cost as "x_UnitCost",
        cast(null as varchar) as "x_ScopeId",
        cast(null as date) as "x_PlanVersion",
        cast(null as integer) as "x_Tier",
        purchase_rows.ref as "x_LedgerRef",
        cast(null as varchar) as "x_Meter"
    from purchase_rows
    inner join focus_units as currency_units
        on currency_units.kind = 'currency'
        and currency_units.identifier = purchase_rows.currency

    union all

    select
        cast(0 as decimal(38, 12)) as "BilledCost",
        usage_rows.account_id as "BillingAccountId",
        usage_rows.account_id as "BillingAccountName",
        usage_rows.cost_currency as "BillingCurrency",
        date_trunc('month', usage_rows.date) + interval 1 month as billing_period_end,
        date_trunc('month', usage_rows.date) as billing_period_start,
        'Usage' as "ChargeCategory",
        cast(null as varchar) as "ChargeClass",
        cast(usage_rows.units_part as varchar) || ' ' || usage_rows.meter || ' of '
            || usage_rows.product_code || ' (plan ' || usage_rows.plan_id || ' tier '
            || cast(usage_rows.tier as varchar) || ', scope ' || usage_rows.scope_id
            || ') paid with ' || cast(usage_rows.credits as varchar) || ' '
            || usage_rows.currency || ' from grant ' || usage_rows.grant_id
            as "ChargeDescription",
        'Usage-Based' as "ChargeFrequency",
        usage_rows.date + 1 as charge_period_end,
        usage_rows.date as charge_period_start,
        usage_rows.units_part as "ConsumedQuantity",
        meter_units.unit as "ConsumedUnit",
        usage_rows.value as "ContractedCost",
        usage_rows.value as "EffectiveCost",
        usage_rows.value as "ListCost",
        'Standard' as "PricingCategory",
        usage_rows.currency as "PricingCurrency",
        usage_rows.credits as "PricingCurrencyEffectiveCost",
        usage_rows.units_part as "PricingQuantity",
        meter_units.unit as "PricingUnit",
        usage_rows.product_code as "ServiceName",
        usage_rows.plan_id as "SkuId",
        usage_rows.account_id as "SubAccountId",
        usage_rows.account_id as "SubAccountName",
        usage_rows.entry_type as "x_EntryType",
        usage_rows.grant_id as "x_GrantId",
        usage_rows.effective_on as "x_GrantEffectiveOn",
        usage_rows.expires_on as "x_GrantExpiresOn",
        usage_rows.unit_cost as "x_UnitCost",
        usage_rows.scope_id as "x_ScopeId",
        usage_rows.plan_version as "x_PlanVersion",
        usage_rows.tier as "x_Tier",
        usage_rows.ref as "x_LedgerRef",
        usage_rows.meter as "x_Meter"
    from usage_rows
    inner join focus_units as meter_units
        on meter_units.kind = 'meter'
        and meter_units.identifier = usage_rows.meter

    union all

    select
        cast(0 as decimal(38, 12)) as "BilledCost",
        breakage_rows.account_id as "BillingAccountId",
        breakage_rows.account_id as "BillingAccountName",
        breakage_rows.cost_currency as "BillingCurrency",
        date_trunc('month', breakage_rows.date) + interval 1 month as billing_period_end,
        date_trunc('month', breakage_rows.date) as billing_period_start,
        'Usage' as "ChargeCategory",
        cast(null as varchar) as "ChargeClass",
        'Breakage of ' || cast(breakage_rows.credits as varchar) || ' '
            || breakage_rows.currency || ' of grant ' || breakage_rows.grant_id
            || ' expired unused: ' || cast(breakage_rows.value as varchar) || ' '
            || breakage_rows.cost_currency || ' of its purchase' as "ChargeDescription",
        'One-Time' as "ChargeFrequency",
        breakage_rows.date + 1 as charge_period_end,
        breakage_rows.date as charge_period_start,
        breakage_rows.credits as "ConsumedQuantity",
        currency_units.unit as "ConsumedUnit",
        breakage_rows.value as "ContractedCost",
        breakage_rows.value as "EffectiveCost",
        breakage_rows.value as "ListCost",
        'Standard' as "PricingCategory",
        breakage_rows.currency as "PricingCurrency",
        breakage_rows.credits as "PricingCurrencyEffectiveCost",
        breakage_rows.credits as "PricingQuantity",
        currency_units.unit as "PricingUnit",
        'Prepaid credits (' || breakage_rows.currency || ')' as "ServiceName",
        'CREDITS:' || breakage_rows.currency as "SkuId",
        breakage_rows.account_id as "SubAccountId",
        breakage_rows.account_id as "SubAccountName",
        breakage_rows.entry_type as "x_EntryType",
        breakage_rows.grant_id as "x_GrantId",
        breakage_rows.effective_on as "x_GrantEffectiveOn",
        breakage_rows.expires_on as "x_GrantExpiresOn",
        breakage_rows.unit_cost as "x_UnitCost",
        cast(null as varchar) as "x_ScopeId",
        cast(null as date) as "x_PlanVersion",
        cast(null as integer) as "x_Tier",
        cast(null as varchar) as "x_LedgerRef",
        cast(null as varchar) as "x_Meter"
    from breakage_rows
    inner join focus_units as currency_units
        on currency_units.kind = 'currency'
        and currency_units.identifier = breakage_rows.currency
)

select
    "BilledCost",
    "BillingAccountId",
    "BillingAccountName",
    "BillingCurrency",
    cast(billing_period_end as timestamptz) as "BillingPeriodEnd",
    cast(billing_period_start as timestamptz) as "BillingPeriodStart",
    "ChargeCategory",
    "ChargeClass",
    "ChargeDescription",
    "ChargeFrequency",
    cast(cast(charge_period_end as timestamp) as timestamptz) as "ChargePeriodEnd",
    cast(cast(charge_period_start as timestamp) as timestamptz) as "ChargePeriodStart",
    cast("ConsumedQuantity" as decimal(38, 6)) as "ConsumedQuantity",
    "ConsumedUnit",
    "ContractedCost",
    "EffectiveCost",
    -- the account's provisional statement of the month in one billing currency
    "BillingAccountId" || ':' || strftime(billing_period_start, '%Y-%m') || ':'
        || "BillingCurrency" as "InvoiceId",
    $provider as "InvoiceIssuerName",
    "ListCost",
    "PricingCategory",
    "PricingCurrency",
    "PricingCurrencyEffectiveCost",
    cast("PricingQuantity" as decimal(38, 6)) as "PricingQuantity",
    "PricingUnit",
    $provider as "ProviderName",
    $provider as "PublisherName",
    'Other' as "ServiceCategory",
    "ServiceName",
    'Other (Other)' as "ServiceSubcategory",
    "SkuId",
    "SubAccountId",
    "SubAccountName",
    "x_EntryType",
    "x_GrantId",
    -- GRANT@TRANSFER, GRANT@TRANSFER~rollover (SPEC §10): the transfer
    case
        when strpos("x_GrantId", '@') > 0
            then regexp_replace(substr("x_GrantId", strpos("x_GrantId", '@') + 1), '~rollover$', '')
    end as "x_TransferRef",
    "x_GrantEffectiveOn",
    "x_GrantExpiresOn",
    "x_UnitCost",
    "x_ScopeId",
    "x_PlanVersion",
    "x_Tier",
    "x_LedgerRef",
    "x_Meter"
from focus_rows
order by
    "ChargePeriodStart",
    "BillingAccountId",
    "ChargeCategory",
    "x_GrantId",
    "x_LedgerRef"
"""


def register_grant_state(con: duckdb.DuckDBPyConnection, out: Path) -> None:
    """View ``grant_state`` over ``OUT/_state/grants`` (every slice live at each day's end)."""
    folder = out / GRANT_STATE
    if not any(folder.glob("date=*/*.parquet")):
        raise ConfigError(
            f"export focus: {folder} has no grant state, so the ledger has no cost basis; "
            "fix: run flexbatch run (or backfill) on this output first"
        )
    source = table(GRANT_STATE).duckdb_source(out)  # OUT may hold glob characters
    con.execute(f"create or replace temp view grant_state as select * from {source}")


def focus_relation(
    con: duckdb.DuckDBPyConnection,
    out: Path,
    *,
    account: str | None,
    start,
    end,
    provider: str = DEFAULT_PROVIDER,
) -> duckdb.DuckDBPyRelation:
    """FOCUS 1.2 rows of the ledger entries in range, typed (DECIMAL, TIMESTAMPTZ UTC);
    ``provider`` (``FLEXBATCH_PROVIDER_NAME``) names the vendor running the job in
    ProviderName, PublisherName and InvoiceIssuerName.

    ``con`` must already have the ``credit_ledger`` and ``charges`` views."""
    register_grant_state(con, out)
    register_units(
        con,
        (m for (m,) in con.execute("select distinct meter from charges").fetchall()),
        (c for (c,) in con.execute("select distinct currency from credit_ledger").fetchall()),
    )
    params = {"account": account, "start": start, "end": end, "provider": provider}
    relation = con.sql(FOCUS_SQL, params=params)
    missing = (
        relation.filter(
            '"x_UnitCost" is null or "BillingCurrency" is null or "EffectiveCost" is null '
            'or "BilledCost" is null'
        )
        .project('"x_GrantId"')
        .fetchall()
    )
    if missing:
        raise FlexbatchError(
            f"export focus: no cost basis or value for grant slice {missing[0][0]!r} in "
            f"{out / GRANT_STATE} or revenue_entries; fix: backfill OUT from its first day "
            "(an output written before revenue, SPEC §9, has no values)"
        )
    return relation
