"""The rules read by both the job's SQL and Python (SPEC §3.1, §5), each written once here:
the band share, the windows in days, and (from :mod:`flexbatch.limits`) the input limits.

SQL reads them from the one-row relation ``credit_rules`` (``rules_select``: a temp table
of the job's connection, ``register_rules``, or a CTE of the views computed on read); the
report and charts import the constants. A changed share changes the band, the
``low_balance`` alert and the report's band boundary together; a changed window changes the
job, the helper views and the report's words together.

The burn order is not here: it is a ranking of slices, computed by one SQL step,
``sql/ledger/grant_burn_rank.sql``; the product order by ``sql/ledger/charges_to_burn.sql``.
"""

from __future__ import annotations

from decimal import Decimal

import duckdb

from flexbatch.limits import ID_MAX_LENGTH, QUANTITY_LIMIT

# balances.band is green while available > BAND_SHARE x purchased_total, else red (SPEC §5)
BAND_SHARE = Decimal("0.2")
# expiring_90d and the expiring_soon alert look this many days ahead (SPEC §5)
EXPIRING_WINDOW_DAYS = 90
# the usage_by_*_90d helper views and the report's usage: the as-of day and the days before
USAGE_WINDOW_DAYS = 90
# forecast.burn_rate is the mean consumption of this many trailing days (SPEC §5)
BURN_WINDOW_DAYS = 30
# forecast_daily: the days after as_of the curve covers (SPEC §5)
FORECAST_HORIZON_DAYS = 90
# the depletion_forecast alert: projected to run out within this many days
DEPLETION_ALERT_DAYS = 30
# forecast.depletion_date is null beyond this many days; known expiries this far are applied
DEPLETION_HORIZON_DAYS = 365


def percent(share: Decimal) -> str:
    """A share as a percent without trailing zeros: Decimal("0.2") -> "20", "0.125" ->
    "12.5" (for messages and labels)."""
    text = format(share * 100, "f")
    return text.rstrip("0").rstrip(".") if "." in text else text


BAND_PERCENT = percent(BAND_SHARE)  # "20"

# (column, DuckDB type, value) of credit_rules
RULES: tuple[tuple[str, str, object], ...] = (
    ("band_share", "decimal(9, 6)", BAND_SHARE),
    ("band_percent", "varchar", BAND_PERCENT),
    ("expiring_window_days", "integer", EXPIRING_WINDOW_DAYS),
    ("usage_window_days", "integer", USAGE_WINDOW_DAYS),
    ("burn_window_days", "integer", BURN_WINDOW_DAYS),
    ("forecast_horizon_days", "integer", FORECAST_HORIZON_DAYS),
    ("depletion_alert_days", "integer", DEPLETION_ALERT_DAYS),
    ("depletion_horizon_days", "integer", DEPLETION_HORIZON_DAYS),
    ("quantity_limit", "double", QUANTITY_LIMIT),  # quantities are read as doubles
    ("id_max_length", "integer", ID_MAX_LENGTH),
)


def rules_select() -> str:
    """The one-row SELECT of ``credit_rules`` (the constants as typed literals)."""

    def literal(value: object) -> str:
        return f"'{value}'" if isinstance(value, str | Decimal) else str(value)

    return "select " + ", ".join(
        f"cast({literal(value)} as {kind}) as {name}" for name, kind, value in RULES
    )


def rules_cte() -> str:
    """``credit_rules`` as a CTE, for SQL run where no temp table holds it (the views
    computed on read and the helper views, which the catalog file keeps)."""
    return f"credit_rules as not materialized ({rules_select()})"


def with_rules(select: str) -> str:
    """``select`` with ``credit_rules`` in its scope."""
    return f"with {rules_cte()}\nselect * from (\n{select}\n)"


def register_rules(con: duckdb.DuckDBPyConnection) -> None:
    """Temp table ``credit_rules``: one row, the constants above, for the SQL steps to
    cross join."""
    con.execute(f"create or replace temp table credit_rules as {rules_select()}")
