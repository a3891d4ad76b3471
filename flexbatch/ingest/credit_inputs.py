"""Grants and transfers (SPEC §3.3): find, read, validate and type IN/grants.* and
IN/transfers.* (.csv or .parquet). Cells are read as text (CSV without type inference,
Parquet cast to text), so amounts go from text to Decimal(38, 6) exactly, never via floats.
A Pandera model per input checks the text frame with the rule tables below (vectorised
Polars expressions); the first broken rule in file order is a one-line ConfigError naming
file, row, field and fix. A bad row is never skipped.
"""

from __future__ import annotations

import difflib
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandera.polars as pa
import polars as pl
from pandera.config import ValidationDepth, config_context

from flexbatch.errors import ConfigError
from flexbatch.ingest.input_files import grants_file, inputs_sha256, transfers_file
from flexbatch.limits import CREDIT_LIMIT, PRICE_LIMIT

logger = logging.getLogger(__name__)

__all__ = ["grants_file", "inputs_sha256", "load_grants", "load_transfers", "transfers_file"]

CREDITS = pl.Decimal(38, 6)
GRANTS_SCHEMA: dict[str, pl.DataType] = {
    "grant_id": pl.String(), "account_id": pl.String(), "currency": pl.String(),
    "amount": CREDITS, "effective_on": pl.Date(), "expires_on": pl.Date(),
    "priority": pl.Int32(), "products": pl.List(pl.String()), "source": pl.String(),
    "unit_cost": CREDITS, "cost_currency": pl.String(),
    "voided_on": pl.Date(), "rollover_max": CREDITS, "rollover_days": pl.Int32(),
}  # fmt: skip
TRANSFERS_SCHEMA: dict[str, pl.DataType] = {
    "transfer_id": pl.String(), "date": pl.Date(), "from_account": pl.String(),
    "to_account": pl.String(), "amount": CREDITS, "currency": pl.String(),
}  # fmt: skip
GRANTS_REQUIRED = ("grant_id", "account_id", "currency", "amount", "effective_on")
TRANSFERS_REQUIRED = ("transfer_id", "date", "from_account", "to_account", "amount")
DEFAULT_COST_CURRENCY = "USD"

_DECIMAL = r"^[+-]?[0-9]+(\.[0-9]+)?$"  # plain decimal text: no exponent, no separators
_INTEGER = r"^[+-]?[0-9]+$"
_ISO_DATE = r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$"
_ISO_4217 = r"^[A-Z]{3}$"
# Accepted Parquet types per column kind, and the fix when a column has another type.
_PARQUET_FIX = {
    "amount": "write amounts as decimal or text", "integer": "write it as an integer or text",
    "date": "write dates as date32 or YYYY-MM-DD text", "text": "write it as text",
    "list": "write it as text ('A;B') or a list of text",
}  # fmt: skip
_KIND = {
    "amount": "amount", "unit_cost": "amount", "priority": "integer",
    "effective_on": "date", "expires_on": "date", "date": "date", "products": "list",
    "voided_on": "date", "rollover_max": "amount", "rollover_days": "integer",
    "threshold": "amount", "target": "amount", "expires_after_days": "integer",
    "max_per_month": "integer",
}  # fmt: skip


# --------------------------------------------------------------------------- rules
@dataclass(frozen=True)
class _Rule:
    """One row rule. ``bad`` is True where a row breaks it (null counts as not broken);
    ``problem`` may use {v} (the value, quoted), {first} (row of the first duplicate)
    and any column of the row."""

    name: str
    field: str
    bad: pl.Expr
    problem: str
    fix: str


def _decimal(column: str) -> pl.Expr:
    """Exact text -> Decimal(38, 6); trailing fraction zeros are dropped first, so
    1.50000000 parses; the rules reject text that is not exact within 6 places. (Only plain
    decimal text is ever typed: the rules on other text report its text rule first.)"""
    c = pl.col(column)
    text = pl.when(c.str.contains(".", literal=True)).then(c.str.strip_chars_end("0"))
    return text.otherwise(c).cast(CREDITS, strict=False)


def _with_product_lists(text: pl.DataFrame) -> pl.DataFrame:
    """``products`` text -> its sorted distinct codes (';'-separated, blanks dropped, empty
    = every product). A file repeats a few product lists over many rows, so each distinct
    text is split once and joined back (splitting every row was most of a load's time)."""
    codes = pl.element().str.strip_chars()
    lists = text.select(pl.col("products").unique()).with_columns(
        pl.col("products").fill_null("").str.split(";")
        .list.eval(codes.filter(codes != "")).list.unique().list.sort().alias("_codes")
    )  # fmt: skip
    joined = text.join(lists, on="products", how="left", nulls_equal=True, maintain_order="left")
    return joined.with_columns(pl.col("_codes").alias("products")).drop("_codes")


def _sorted_by(frame: pl.DataFrame, key: str) -> pl.DataFrame:
    """``frame`` sorted by its unique ``key``. Files are mostly written in key order, and
    checking that is one cheap pass where sorting 1.7 M ids is a large part of a load;
    with unique keys either way gives the same rows in the same order."""
    if frame[key].is_sorted():
        return frame.with_columns(pl.col(key).set_sorted())  # as sort() leaves it
    return frame.sort(key)


def _date(column: str) -> pl.Expr:
    c = pl.col(column)
    return pl.when(c.str.contains(_ISO_DATE)).then(c.str.to_date("%Y-%m-%d", strict=False))


def _required(field: str) -> _Rule:
    return _Rule(f"{field}_required", field, pl.col(field).is_null(), "is empty (required)",
                 f"fill in {field} on this row")  # fmt: skip


def _unique(field: str, noun: str) -> _Rule:
    c = pl.col(field)
    bad = c.is_not_null() & ~c.is_first_distinct()
    return _Rule(f"{field}_unique", field, bad, "{v} repeats row {first}",
                 f"give each {noun} its own {field}")  # fmt: skip


def _amount_rules(field: str, strict: bool, credits: bool | None = None) -> list[_Rule]:
    """An exact decimal in the ledger's range: an ``amount`` (strict: > 0) below
    CREDIT_LIMIT, a ``unit_cost`` at most PRICE_LIMIT (flexbatch.limits); ``credits``
    (default: ``strict``) picks the credit range for a non-strict one (``rollover_max``)."""
    c = pl.col(field)
    # On plain decimal text (other text breaks the first rule, reported before these):
    # a nonzero digit past the 6th place; a 33rd integer digit after the leading zeros.
    places = c.str.contains(r"\.[0-9]{6}[0-9]*[1-9]")
    digits = c.str.contains(r"^[+-]?0*[1-9][0-9]{32}")
    value = _decimal(field)
    sign = "> 0" if strict else ">= 0"
    return [
        _Rule(f"{field}_text", field, c.is_not_null() & ~c.str.contains(_DECIMAL),
              "{v} is not a plain decimal number",
              "write digits with an optional '.' (e.g. 250.5): no exponent, separator or "
              "currency sign"),
        _Rule(f"{field}_places", field, places, "{v} has more than 6 decimal places",
              "round to 6 places"),
        _Rule(f"{field}_fits", field, digits,  # DECIMAL(38, 6): 32 integer digits
              "{v} does not fit DECIMAL(38,6)", "use a value below 1e32"),
        _range_rule(field, value, strict if credits is None else credits),
        _Rule(f"{field}_sign", field, value <= 0 if strict else value < 0,
              "{v} must be a decimal " + sign, f"write an amount {sign}"),
    ]  # fmt: skip


def _range_rule(field: str, value: pl.Expr, credits: bool) -> _Rule:
    if credits:
        return _Rule(f"{field}_range", field, value >= CREDIT_LIMIT,
                     "{v} is beyond the ledger's range (below 1e20 credits)",
                     "split it into amounts below 100000000000000000000 (1e20)")  # fmt: skip
    return _Rule(f"{field}_range", field, value > PRICE_LIMIT,
                 "{v} is above the largest unit cost, 1,000,000",
                 "write at most 1000000 per credit")  # fmt: skip


# a day count: at most a century, so a date plus it stays a valid date
MAX_DAYS = 36525


def _days_rule(field: str) -> _Rule:
    """An optional whole number of days > 0 (``rollover_days``, ``expires_after_days``)."""
    c = pl.col(field)
    number = c.cast(pl.Int64, strict=False).fill_null(0)
    bad = c.is_not_null() & ~(c.str.contains(_INTEGER) & (number > 0) & (number <= MAX_DAYS))
    return _Rule(f"{field}_days", field, bad, "{v} is not a whole number of days > 0",
                 f"write a whole number from 1 to {MAX_DAYS} or leave it empty")  # fmt: skip


def _date_rule(field: str) -> _Rule:
    bad = pl.col(field).is_not_null() & _date(field).is_null()
    return _Rule(f"{field}_date", field, bad, "{v} is not a valid date (YYYY-MM-DD)",
                 "write a calendar day as YYYY-MM-DD, e.g. 2026-09-01")  # fmt: skip


GRANT_RULES: list[_Rule] = [
    _required("grant_id"), _unique("grant_id", "grant"), _required("account_id"),
    _required("currency"), _required("amount"), *_amount_rules("amount", strict=True),
    _required("effective_on"), _date_rule("effective_on"), _date_rule("expires_on"),
    _Rule("expires_on_after", "expires_on", _date("expires_on") <= _date("effective_on"),
          "{v} is not after effective_on '{effective_on}'",
          "set expires_on after effective_on (it is exclusive) or leave it empty"),
    _Rule("priority_integer", "priority", pl.col("priority").is_not_null()
          & ~(pl.col("priority").str.contains(_INTEGER)
              & pl.col("priority").cast(pl.Int32, strict=False).is_not_null()),
          "{v} is not a 32-bit integer",
          "write a whole number (0 burns first) or leave it empty for the default"),
    *_amount_rules("unit_cost", strict=False),
    _Rule("cost_currency_iso", "cost_currency", ~pl.col("cost_currency").str.contains(_ISO_4217),
          "{v} is not an ISO 4217 code", "write three uppercase letters such as USD or EUR"),
    # SPEC §10: void and rollover
    _date_rule("voided_on"),
    *_amount_rules("rollover_max", strict=False, credits=True),
    _Rule("rollover_max_needs_days", "rollover_days",
          pl.col("rollover_max").is_not_null() & pl.col("rollover_days").is_null(),
          "is empty but rollover_max is set", "give rollover_days (> 0) with rollover_max"),
    _days_rule("rollover_days"),
    _Rule("rollover_days_needs_max", "rollover_max",
          pl.col("rollover_days").is_not_null() & pl.col("rollover_max").is_null(),
          "is empty but rollover_days is set",
          "give rollover_max (the most that rolls over) or leave rollover_days empty"),
    _Rule("rollover_needs_expiry", "rollover_max",
          pl.col("rollover_max").is_not_null() & pl.col("expires_on").is_null(),
          "{v} is set but the grant never expires (no expires_on), so nothing can roll over",
          "set expires_on or leave rollover_max and rollover_days empty"),
]  # fmt: skip
TRANSFER_RULES: list[_Rule] = [
    _required("transfer_id"), _unique("transfer_id", "transfer"),
    _required("date"), _date_rule("date"),
    _required("from_account"), _required("to_account"),
    _Rule("to_account_other", "to_account", pl.col("to_account") == pl.col("from_account"),
          "{v} is also the from_account", "transfer between two different accounts"),
    _required("amount"), *_amount_rules("amount", strict=True),
]  # fmt: skip


# --------------------------------------------------------------------------- models
RULES_CHECK = "rules"  # the name of the one row check of each text model


def _text_model(name: str, columns: dict[str, Any], rules: list[_Rule]) -> Any:
    """A Pandera model of a file as read: exactly ``columns``, all text, null = not given,
    and one dataframe check, ``rules``, that a row breaks no rule: every rule in one Polars
    select, one pass over the file (a check per rule was a pass each, and parsed the same
    amounts and dates again); its failure cases carry the row index, and ``_validate`` finds
    which rule a failing row breaks first."""

    def passes(cls: Any, data: pa.PolarsData) -> pl.LazyFrame:
        return data.lazyframe.select(~pl.any_horizontal(_broken(rules)))

    namespace: dict[str, Any] = {column: pa.Field(nullable=True) for column in columns}
    namespace["__annotations__"] = dict.fromkeys(columns, str)
    namespace["Config"] = type("Config", (), {"strict": True})
    namespace["rules"] = pa.dataframe_check(name=RULES_CHECK)(passes)
    return type(name, (pa.DataFrameModel,), namespace)


def _broken(rules: list[_Rule]) -> list[pl.Expr]:
    """Per rule, True where a row breaks it (a null outcome is no break)."""
    return [rule.bad.fill_null(False).alias(rule.name) for rule in rules]


GrantsText = _text_model("GrantsText", GRANTS_SCHEMA, GRANT_RULES)
TransfersText = _text_model("TransfersText", TRANSFERS_SCHEMA, TRANSFER_RULES)


# --------------------------------------------------------------------------- reading
def _unreadable(path: Path, kind: str, exc: BaseException) -> ConfigError:
    text = " ".join(str(exc).split())  # one line, at most 200 characters
    text = text if len(text) <= 200 else text[:197] + "..."
    if "more fields than" in text:  # polars' hint names a reader option, not a fix
        text = "a row has more fields than the header (quote cells with commas)"
    return ConfigError(f"{path}: cannot read {kind}: {text}; fix: repair the file")


def _read_csv(path: Path) -> pl.DataFrame:
    """All cells as text; the header is read as row 0 so its names are checked as written."""
    try:
        raw = pl.read_csv(path, has_header=False, infer_schema=False, encoding="utf8", glob=False)
    except pl.exceptions.NoDataError:
        raise ConfigError(f"{path}: empty file; fix: write at least the header line") from None
    except (pl.exceptions.PolarsError, OSError) as exc:
        raise _unreadable(path, "CSV", exc) from None
    names = [None if name is None else name.strip() for name in raw.row(0)]
    for n, name in enumerate(names, start=1):
        if not name:
            raise ConfigError(f"{path}: column {n} has no name; fix: name it or remove it")
        if names.index(name) != n - 1:
            raise ConfigError(f"{path}: column '{name}' appears twice; fix: keep one of them")
    return raw.slice(1).rename(dict(zip(raw.columns, names, strict=True)))  # type: ignore[arg-type]


def _parquet_text(path: Path, frame: pl.DataFrame) -> pl.DataFrame:
    """Cast each column of an accepted type to text (a loop over columns, not rows)."""
    columns = []
    for name, dtype in frame.schema.items():
        kind, c = _KIND.get(name, "text"), pl.col(name)
        ok = dtype in (pl.String, pl.Null) or (
            (kind == "amount" and (dtype.is_integer() or isinstance(dtype, pl.Decimal)))
            or (kind == "integer" and dtype.is_integer())
            or (kind == "date" and dtype == pl.Date)
            or (kind in ("text", "list") and isinstance(dtype, pl.Categorical | pl.Enum))
        )
        if kind == "list" and dtype == pl.List(pl.String):
            ok, c = True, c.list.join(";")
        if not ok:
            problem = f"type {dtype} is not accepted"
            raise ConfigError(f"{path}: column '{name}': {problem}; fix: {_PARQUET_FIX[kind]}")
        columns.append(c.cast(pl.String))
    return frame.select(columns)


def _read(path: Path) -> pl.DataFrame:
    if path.suffix == ".csv":
        return _read_csv(path)
    try:
        frame = pl.read_parquet(path, glob=False)
    except (pl.exceptions.PolarsError, OSError) as exc:
        raise _unreadable(path, "Parquet", exc) from None
    return _parquet_text(path, frame)


def _check_columns(
    path: Path, frame: pl.DataFrame, schema: dict[str, Any], required: tuple[str, ...]
) -> pl.DataFrame:
    """Unknown columns first (with a did-you-mean hint), then missing required ones;
    absent optional columns are added as "not given"."""
    for name in frame.columns:
        if name not in schema:
            close = difflib.get_close_matches(name, list(schema), n=1)
            hint = f"did you mean '{close[0]}'?" if close else "known: " + ", ".join(schema)
            fix = f"remove or rename it; {hint}"
            raise ConfigError(f"{path}: column '{name}': unknown column; fix: {fix}")
    for name in required:
        if name not in frame.columns:
            raise ConfigError(f"{path}: column '{name}' is missing (required); fix: add it")
    absent = [pl.lit(None, pl.String).alias(name) for name in schema if name not in frame.columns]
    return frame.with_columns(absent).select(list(schema))


def _text_frame(path: Path, schema: dict[str, Any], required: tuple[str, ...]) -> pl.DataFrame:
    frame = _check_columns(path, _read(path), schema, required)
    # Surrounding blanks are dropped and an empty cell is "not given" (null).
    frame = frame.with_columns(pl.all().str.strip_chars().replace("", None))
    # A blank line is no record, but it keeps its number so rows match the file's lines.
    blank = pl.all_horizontal(pl.exclude("_row").is_null())
    return frame.with_row_index("_row", offset=1).filter(~blank)


def _validate(
    path: Path, frame: pl.DataFrame, model: Any, rules: list[_Rule], id_field: str
) -> None:
    """Run the Pandera model; raise the first broken rule in file order (row, then rule)."""
    # Forced on: the rules must run even if PANDERA_VALIDATION_ENABLED is off.
    depth = ValidationDepth.SCHEMA_AND_DATA
    try:
        with config_context(validation_enabled=True, validation_depth=depth):
            model.validate(frame.drop("_row"), lazy=True)
        return
    except pa.errors.SchemaErrors as exc:
        failures = exc.failure_cases
    rows = failures.filter((pl.col("check") == RULES_CHECK) & pl.col("index").is_not_null())
    if rows.is_empty():  # a schema failure the readers should have made impossible
        column, check = failures.select("column", "check").row(0)
        raise ConfigError(f"{path}: column '{column}' fails {check}; fix: correct the file")
    # The first failing row in file order, and the first rule (in table order) it breaks.
    index = rows["index"].min()
    broken = frame.select(_broken(rules)).row(index)  # type: ignore[arg-type]
    rank = broken.index(True)
    rule, row = rules[rank], frame.row(index, named=True)
    value = row[rule.field]
    shown = repr(value if value is None or len(value) <= 60 else value[:57] + "...")
    duplicate_of = frame.filter(pl.col(rule.field) == value)["_row"][0] if value else None
    problem = rule.problem.format(**row, v=shown, first=duplicate_of)
    ident = f" ({id_field} {row[id_field]!r})" if row[id_field] else ""
    where = f"row {row['_row']}{ident} field '{rule.field}'"
    raise ConfigError(f"{path}: {where}: {problem}; fix: {rule.fix}")


def load_grants(input_root: Path) -> pl.DataFrame:
    """Validated grants with defaults applied, sorted by grant_id (GRANTS_SCHEMA);
    an empty frame when there is no grants file."""
    path = grants_file(input_root)
    if path is None:
        return pl.DataFrame(schema=GRANTS_SCHEMA)
    text = _text_frame(path, GRANTS_SCHEMA, GRANTS_REQUIRED)
    _validate(path, text, GrantsText, GRANT_RULES, "grant_id")
    default_priority = pl.when(pl.col("currency") == "cloud_credit").then(0).otherwise(10)
    grants = _with_product_lists(text).select(
        "grant_id", "account_id", "currency", _decimal("amount"),
        _date("effective_on").alias("effective_on"), _date("expires_on").alias("expires_on"),
        pl.coalesce(pl.col("priority").cast(pl.Int32), default_priority).alias("priority"),
        "products", "source",
        _decimal("unit_cost").fill_null(pl.lit(0).cast(CREDITS)),
        pl.col("cost_currency").fill_null(DEFAULT_COST_CURRENCY),
        _date("voided_on").alias("voided_on"), _decimal("rollover_max"),
        pl.col("rollover_days").cast(pl.Int32),
    )  # fmt: skip
    grants = _sorted_by(grants.cast(GRANTS_SCHEMA), "grant_id")  # type: ignore[arg-type]
    logger.info("loaded %d grants from %s", grants.height, path)
    return grants


def load_transfers(input_root: Path) -> pl.DataFrame:
    """Validated transfers sorted by transfer_id (TRANSFERS_SCHEMA); an empty frame when
    there is no transfers file."""
    path = transfers_file(input_root)
    if path is None:
        return pl.DataFrame(schema=TRANSFERS_SCHEMA)
    text = _text_frame(path, TRANSFERS_SCHEMA, TRANSFERS_REQUIRED)
    _validate(path, text, TransfersText, TRANSFER_RULES, "transfer_id")
    transfers = text.select(
        "transfer_id", _date("date").alias("date"), "from_account", "to_account",
        _decimal("amount"), "currency",
    )  # fmt: skip
    transfers = _sorted_by(transfers.cast(TRANSFERS_SCHEMA), "transfer_id")  # type: ignore[arg-type]
    logger.info("loaded %d transfers from %s", transfers.height, path)
    return transfers
