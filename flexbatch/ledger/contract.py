"""The credit ledger's contract: ``ledger(con, CreditInputs, CreditState) -> LedgerResult``,
in the manner of OpenMeter's ``engine.Run(params) -> result``: the day's inputs and a
starting snapshot in, the day's tables and the next snapshot out.

Relations are Arrow tables (or Polars frames for the validated input files): they belong
to no connection, so the ledger registers them itself in the connection it is given, with
its run context, and no caller prepares temp tables for it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import polars as pl
import pyarrow as pa

from flexbatch.ledger.rules import FORECAST_HORIZON_DAYS


@dataclass(frozen=True)
class CreditInputs:
    """The day.

    ``charges``       the day's charges (charging's ``ChargingResult.charges``): account_id,
                      product_code, transaction_id, credits DECIMAL(38, 6), …
    ``usage_alerts``  charging's ``user_limit_exceeded`` alerts, published with the
                      ledger's: account_id, kind, severity, message, amount, ref
    ``grants``        the validated grants file (``ingest/credit_inputs.load_grants``)
    ``transfers``     the validated transfers file (``load_transfers``)
    ``topup_rules``   the validated top-up rules (``ingest/topup_rules``); None: none
    ``day``, ``previous_day`` (the last processed day before it, None on the first),
    ``horizon_days``  the forecast's horizon
    """

    charges: pa.Table
    usage_alerts: pa.Table
    grants: pl.DataFrame
    transfers: pl.DataFrame
    topup_rules: pl.DataFrame | None
    day: date
    previous_day: date | None
    horizon_days: int = FORECAST_HORIZON_DAYS


@dataclass(frozen=True)
class CreditState:
    """The starting snapshot, read from OUT by ``ledger/state.read_credit_state`` (an OUT
    from before SPEC §10 with ``legacy_state``'s defaults).

    ``slices_prev``     every grant slice at the end of the previous processed day
                        (``_state/grants``): account_id, grant_id, currency, priority,
                        expires_on, unit_cost, cost_currency, effective_on, products,
                        origin_id, rolled_over, remaining, drawn, value
    ``balances_prev``   that day's ``balances`` (the columns the next day adds to or
                        carries forward)
    ``burn_window``     the ``balances`` of the 29 days before the day (the burn window),
                        summed: account_id, currency, consumed, days_observed
    ``depletion_prev``  that day's depletion dates (account_id, currency, depletion_date)
    ``topups_prev``     that day's ``topups`` (they take effect today, SPEC §10)
    ``topups_month``    rule_id, effective_on of the month's earlier top-ups
    ``revenue_prev``    that day's ``revenue`` (account_id, currency, cost_currency,
                        deferred_closing)
    """

    slices_prev: pa.Table
    balances_prev: pa.Table
    burn_window: pa.Table
    depletion_prev: pa.Table
    topups_prev: pa.Table
    topups_month: pa.Table
    revenue_prev: pa.Table


@dataclass(frozen=True)
class CreditCounts:
    entries: int
    transfers: int
    transfers_rejected: int
    burn_rounds: int
    alerts: int
    accounts_recomputed: int = 0  # ledger_accounts: the accounts the passes recomputed
    balances_carried: int = 0  # balances rows carried forward unchanged


@dataclass(frozen=True)
class LedgerResult:
    """The day's published credit tables (SPEC §9, §10), each a LazyFrame sorted by the
    table's key when collected, ``grant_state`` the next snapshot's slices
    (``_state/grants``; with ``balances``, ``forecast``, ``topups`` and ``revenue`` all
    the next day's ``CreditState`` needs), and the counts."""

    credit_ledger: pl.LazyFrame
    balances: pl.LazyFrame
    forecast: pl.LazyFrame
    alerts: pl.LazyFrame
    topups: pl.LazyFrame
    revenue: pl.LazyFrame
    revenue_entries: pl.LazyFrame
    grant_state: pl.LazyFrame
    counts: CreditCounts

    def tables(self) -> dict[str, pl.LazyFrame]:
        """The frames by the path of their table under OUT (what the writer publishes)."""
        return {
            "credit_ledger": self.credit_ledger,
            "balances": self.balances,
            "forecast": self.forecast,
            "alerts": self.alerts,
            "topups": self.topups,
            "revenue": self.revenue,
            "revenue_entries": self.revenue_entries,
            "_state/grants": self.grant_state,
        }
