"""The credit rules read by both the ledger's SQL and Python (SPEC §4, §5), each written
once here.

SQL reads them from the one-row temp table ``credit_rules`` (``register_rules``), the
report and charts import the constants; a changed share changes the band, the
``low_balance`` alert and the report's band boundary together.

The burn order is not here: it is a ranking of slices, computed by one SQL step,
``sql/ledger/grant_burn_rank.sql``; the product order by ``sql/ledger/charges_to_burn.sql``.
"""

from __future__ import annotations

from decimal import Decimal

import duckdb

# balances.band is green while available > BAND_SHARE x purchased_total, else red (SPEC §5)
BAND_SHARE = Decimal("0.2")
# expiring_90d and the expiring_soon alert look this many days ahead (SPEC §5)
EXPIRING_WINDOW_DAYS = 90


def percent(share: Decimal) -> str:
    """A share as a percent without trailing zeros: Decimal("0.2") -> "20", "0.125" ->
    "12.5" (for messages and labels)."""
    text = format(share * 100, "f")
    return text.rstrip("0").rstrip(".") if "." in text else text


BAND_PERCENT = percent(BAND_SHARE)  # "20"


def register_rules(con: duckdb.DuckDBPyConnection) -> None:
    """Temp table ``credit_rules``: one row, the constants above, for the SQL steps to
    cross join."""
    con.execute(
        "create or replace temp table credit_rules as select "
        "cast(? as decimal(9, 6)) as band_share, cast(? as varchar) as band_percent, "
        "cast(? as integer) as expiring_window_days",
        [BAND_SHARE, BAND_PERCENT, EXPIRING_WINDOW_DAYS],
    )
