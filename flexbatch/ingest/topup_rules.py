"""Top-up rules (SPEC §10, auto-recharge): find, read, validate and type IN/topups.csv
(or .parquet), with the grants file's reader and rule tables (:mod:`credit_inputs`): cells
read as text, amounts exact, the first broken rule in file order a one-line ConfigError
naming file, row, field and fix.

Decisions beyond the SPEC (README, "Grant lifecycle"): a rule's currency must be the
currency of at least one grant of the grants file (a typo guard: a rule in a currency no
grant has would mint credits of a currency nothing else knows); ``priority`` and
``products`` read and default as a grant's (priority 0 for cloud_credit, 10 otherwise;
products ';'-separated, empty = every product); ``unit_cost`` defaults to 0 and
``cost_currency`` to USD.
"""

from __future__ import annotations

import logging
from pathlib import Path

import polars as pl

from flexbatch.ingest.credit_inputs import (
    _INTEGER,
    _ISO_4217,
    CREDITS,
    DEFAULT_COST_CURRENCY,
    _amount_rules,
    _days_rule,
    _decimal,
    _required,
    _Rule,
    _sorted_by,
    _text_frame,
    _text_model,
    _unique,
    _validate,
    _with_product_lists,
)
from flexbatch.ingest.input_files import topups_file

logger = logging.getLogger(__name__)

TOPUPS_SCHEMA: dict[str, pl.DataType] = {
    "rule_id": pl.String(), "account_id": pl.String(), "currency": pl.String(),
    "threshold": CREDITS, "amount": CREDITS, "target": CREDITS, "unit_cost": CREDITS,
    "cost_currency": pl.String(), "priority": pl.Int32(), "products": pl.List(pl.String()),
    "expires_after_days": pl.Int32(), "max_per_month": pl.Int32(),
}  # fmt: skip
TOPUPS_REQUIRED = ("rule_id", "account_id", "currency", "threshold")
TOPUP_RULES_EMPTY = pl.DataFrame(schema=TOPUPS_SCHEMA)
MAX_PER_MONTH = 31  # one top-up a day at most: a larger cap is no cap


def _rules(currencies: list[str]) -> list[_Rule]:
    """The row rules, in the order a row's first broken one is reported; ``currencies``
    are those of the grants file."""
    c = pl.col
    known = ", ".join(currencies) if currencies else "none: there is no grant"
    count = c("max_per_month").cast(pl.Int64, strict=False).fill_null(0)
    return [
        _required("rule_id"), _unique("rule_id", "top-up rule"), _required("account_id"),
        _required("currency"),
        _Rule("currency_known", "currency", ~c("currency").is_in(currencies),
              "{v} is the currency of no grant in the grants file (known: " + known + ")",
              "use the currency of the account's grants (top-ups refill a currency, they "
              "do not create one)"),
        _required("threshold"), *_amount_rules("threshold", strict=False, credits=True),
        *_amount_rules("amount", strict=True), *_amount_rules("target", strict=True),
        _Rule("amount_or_target", "amount", c("amount").is_null() == c("target").is_null(),
              "amount and target are both given or both empty",
              "give either a fixed amount or a target balance to fill up to"),
        _Rule("target_above_threshold", "target",
              _decimal("target") <= _decimal("threshold"),
              "{v} is not above threshold '{threshold}'",
              "set target above threshold (a top-up fills the balance up to it)"),
        *_amount_rules("unit_cost", strict=False),
        _Rule("cost_currency_iso", "cost_currency", ~c("cost_currency").str.contains(_ISO_4217),
              "{v} is not an ISO 4217 code", "write three uppercase letters such as USD"),
        _Rule("priority_integer", "priority", c("priority").is_not_null()
              & ~(c("priority").str.contains(_INTEGER)
                  & c("priority").cast(pl.Int32, strict=False).is_not_null()),
              "{v} is not a 32-bit integer",
              "write a whole number (0 burns first) or leave it empty for the default"),
        _days_rule("expires_after_days"),
        _Rule("max_per_month_count", "max_per_month", c("max_per_month").is_not_null()
              & ~(c("max_per_month").str.contains(_INTEGER) & (count > 0)
                  & (count <= MAX_PER_MONTH)),
              "{v} is not a whole number of top-ups from 1 to 31",
              "write how many top-ups the rule may issue per month, or leave it empty"),
    ]  # fmt: skip


def load_topup_rules(input_root: Path, grants: pl.DataFrame) -> pl.DataFrame:
    """Validated top-up rules with defaults applied, sorted by rule_id (TOPUPS_SCHEMA);
    an empty frame when there is no topups file. ``grants`` are the loaded grants (their
    currencies are the ones a rule may top up)."""
    path = topups_file(input_root)
    if path is None:
        return TOPUP_RULES_EMPTY
    currencies = sorted(set(grants["currency"].to_list()))
    rules = _rules(currencies)
    text = _text_frame(path, TOPUPS_SCHEMA, TOPUPS_REQUIRED)
    _validate(path, text, _text_model("TopupsText", TOPUPS_SCHEMA, rules), rules, "rule_id")
    default_priority = pl.when(pl.col("currency") == "cloud_credit").then(0).otherwise(10)
    topups = _with_product_lists(text).select(
        "rule_id", "account_id", "currency", _decimal("threshold"), _decimal("amount"),
        _decimal("target"), _decimal("unit_cost").fill_null(pl.lit(0).cast(CREDITS)),
        pl.col("cost_currency").fill_null(DEFAULT_COST_CURRENCY),
        pl.coalesce(pl.col("priority").cast(pl.Int32), default_priority).alias("priority"),
        "products",
        pl.col("expires_after_days").cast(pl.Int32), pl.col("max_per_month").cast(pl.Int32),
    )  # fmt: skip
    topups = _sorted_by(topups.cast(TOPUPS_SCHEMA), "rule_id")  # type: ignore[arg-type]
    logger.info("loaded %d top-up rules from %s", topups.height, path)
    return topups
