"""Rate plans (SPEC §3.2): read, validate and tabulate ``rate_plans.toml``.

A bad price list must stop the night before anything is charged, so every problem is a
one-line ``ConfigError`` naming file, plan, field and fix. Prices stay exact ``Decimal``.
"""

from __future__ import annotations

import difflib
import hashlib
import logging
import re
import tomllib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, time
from decimal import Decimal, localcontext
from pathlib import Path
from typing import Any

import pyarrow as pa

from flexbatch.errors import ConfigError
from flexbatch.limits import INT64_MAX, POSITION_LIMIT, PRICE_LIMIT

logger = logging.getLogger(__name__)

# fmt: off
# Allowed values of the enumerated keys; the first one is the default.
CHOICES = {
    "hosting": ("cloud", "on_premises"),
    "chargeable": ("product", "resource", "user"),
    "algorithm": ("fixed", "unique_users", "unique_resources", "daily_unique_users",
                  "daily_unique_resources", "sum", "peak"),
    "billing_period": ("hour", "day", "month"),
    "threshold_scope": ("account", "scope"),
}
# The chargeable type each algorithm counts (the algorithm table of SPEC §3.2).
ALGORITHM_CHARGEABLE = {
    "fixed": "product", "unique_users": "user", "daily_unique_users": "user",
    "unique_resources": "resource", "daily_unique_resources": "resource",
    "sum": "resource", "peak": "resource",
}
# What the distinct algorithms count, for Python; SQL reads active_plans' counts_users and
# counts_resources, which a test checks against these.
USER_ALGORITHMS = ("unique_users", "daily_unique_users")
RESOURCE_ALGORITHMS = ("unique_resources", "daily_unique_resources")
PLAN_KEYS = (
    "id", "product_code", "product_name", "hosting", "service", "chargeable", "meter",
    "algorithm", "billing_period", "threshold_scope", "effective_from", "effective_to",
    "user_limit", "tiers",
)
REQUIRED_KEYS = (
    "id", "product_code", "chargeable", "meter", "algorithm", "billing_period",
    "effective_from", "tiers",
)
TEXT_KEYS = ("product_code", "product_name", "service", "meter")
# Tier positions carry across versions, so what is counted and how cannot change.
VERSION_INVARIANT_KEYS = (
    "product_code", "meter", "chargeable", "algorithm", "billing_period", "threshold_scope",
    "service",
)
# fmt: on
TIER_KEYS = ("above", "price")

# Amounts are DECIMAL(38, 6) downstream: 6 places, so at most 32 integer digits.
DECIMAL_TYPE = pa.decimal128(38, 6)
_STEP = Decimal("0.000001")
_ISO_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")  # ASCII only

_TEXT, _DAY = pa.string(), pa.date32()
# fmt: off
PLAN_VERSIONS_SCHEMA = pa.schema([  # key: (plan_id, plan_version)
    pa.field("plan_id", _TEXT, False), pa.field("plan_version", _DAY, False),
    pa.field("effective_to", _DAY), pa.field("product_code", _TEXT, False),
    pa.field("product_name", _TEXT), pa.field("hosting", _TEXT, False),
    pa.field("service", _TEXT), pa.field("chargeable", _TEXT, False),
    pa.field("meter", _TEXT, False), pa.field("algorithm", _TEXT, False),
    pa.field("billing_period", _TEXT, False), pa.field("threshold_scope", _TEXT, False),
    pa.field("user_limit", pa.int64()),
])
PLAN_TIERS_SCHEMA = pa.schema([  # key: (plan_id, plan_version, tier)
    pa.field("plan_id", _TEXT, False), pa.field("plan_version", _DAY, False),
    pa.field("tier", pa.int32(), False), pa.field("tier_above", DECIMAL_TYPE, False),
    pa.field("tier_upper", DECIMAL_TYPE), pa.field("unit_price", DECIMAL_TYPE, False),
])
# fmt: on


@dataclass(frozen=True)
class Tier:
    above: Decimal  # lower bound (exclusive) of the tier's unit positions
    price: Decimal  # credits per unit


@dataclass(frozen=True)
class PlanVersion:
    plan_id: str
    product_code: str
    product_name: str | None
    hosting: str  # "cloud" (default) | "on_premises"
    service: str | None
    chargeable: str  # product | resource | user
    meter: str
    algorithm: str  # a key of ALGORITHM_CHARGEABLE
    billing_period: str  # hour | day | month
    threshold_scope: str  # account (default) | scope
    effective_from: date  # inclusive; also the "plan_version" key
    effective_to: date | None  # exclusive
    user_limit: int | None
    tiers: tuple[Tier, ...]


def _show(value: Any) -> str:
    """A value as the user wrote it, on one short line."""
    if value is None:
        text = "not set"
    elif isinstance(value, bool):
        text = "true" if value else "false"
    elif isinstance(value, date | time):
        text = value.isoformat()
    elif isinstance(value, Decimal):
        # As written (0.0000001, not 1E-7), but never expand a huge exponent.
        text = f"{value:f}" if value.is_finite() and abs(value.adjusted()) < 40 else str(value)
    else:
        text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


@dataclass
class _Where:
    """Where a problem is, so each message names the file, plan and version."""

    file: str
    plan: str = ""
    version: date | None = None

    def error(self, field: str, problem: str, fix: str) -> ConfigError:
        where = self.plan + (f" (version {self.version})" if self.version else "")
        where = f"{where} field '{field}'" if where else f"field '{field}'"
        return ConfigError(f"{self.file}: {where}: {problem}; fix: {fix}")


def _string(raw: dict[str, Any], key: str, where: _Where, default: str | None = None) -> Any:
    if key not in raw:
        return default
    value = raw[key]
    if not isinstance(value, str) or not value.strip():
        raise where.error(key, f"{_show(value)} is not a non-empty string", f'write {key} = "..."')
    return value


def _choice(raw: dict[str, Any], key: str, where: _Where) -> str:
    allowed = CHOICES[key]
    value = _string(raw, key, where, default=allowed[0])
    if value not in allowed:
        raise where.error(key, f"unknown value {_show(value)}", "use one of " + ", ".join(allowed))
    return value


def _date(value: Any, field: str, where: _Where) -> date:
    # datetime is a subclass of date: a time of day would be silently dropped.
    if isinstance(value, date) and not isinstance(value, datetime):
        return value
    if isinstance(value, str) and _ISO_DATE.fullmatch(value):
        try:
            return date.fromisoformat(value)
        except ValueError:
            pass
    kind = "a date-time, not a date" if isinstance(value, datetime) else "not a calendar date"
    raise where.error(field, f"{_show(value)} is {kind}", f"write a day: {field} = 2026-01-01")


def _amount(value: Any, field: str, where: _Where, *, price: bool = False) -> Decimal:
    """A tier number that fits DECIMAL(38, 6) exactly (no floats, no rounding) and the
    ledger's range: an ``above`` below 10^32, a price at most ``PRICE_LIMIT``."""
    shown = _show(value)
    if isinstance(value, bool) or not isinstance(value, int | Decimal):
        key = field.rsplit(".", 1)[-1]
        raise where.error(field, f"{shown} is not a number", f"write a bare number: {key} = 0.002")
    amount = Decimal(value)
    if not amount.is_finite() or amount < 0:
        raise where.error(field, f"{shown} is not a number >= 0", "write a decimal >= 0")
    if price and amount > PRICE_LIMIT:
        problem = f"{shown} is above the largest unit price, {PRICE_LIMIT:,} credits"
        raise where.error(field, problem, f"use a price of at most {PRICE_LIMIT} (1e6)")
    if amount >= POSITION_LIMIT:
        raise where.error(field, f"{shown} overflows DECIMAL(38, 6)", "use a value below 1e32")
    with localcontext() as ctx:
        ctx.prec = 80  # quantize must not round: exactness is what is checked
        if amount != amount.quantize(_STEP):
            raise where.error(field, f"{shown} has over 6 decimal places", "round to 6 places")
    return amount.copy_abs()  # a written -0 becomes 0


def _tiers(value: Any, where: _Where) -> tuple[Tier, ...]:
    fix_order = "list tiers with strictly increasing 'above' values starting at 0"
    if not isinstance(value, list) or not value:
        example = "tiers = [ { above = 0, price = 0 }, { above = 500, price = 0.002 } ]"
        raise where.error("tiers", f"{_show(value)} is not a non-empty list", f"write {example}")
    tiers: list[Tier] = []
    for i, raw in enumerate(value):
        name = f"tiers[{i}]"
        if not isinstance(raw, dict):
            raise where.error(name, f"{_show(raw)} is not a table", "write {above=A, price=P}")
        for key in raw:
            if key not in TIER_KEYS:
                raise where.error(f"{name}.{key}", "unknown key", "keep only 'above' and 'price'")
        for key in TIER_KEYS:
            if key not in raw:
                raise where.error(f"{name}.{key}", "missing", f"add {key} = ... to the tier")
        above = _amount(raw["above"], f"{name}.above", where)
        price = _amount(raw["price"], f"{name}.price", where, price=True)
        if i == 0 and above != 0:
            raise where.error(f"{name}.above", f"the first tier starts at {above}", fix_order)
        if tiers and above <= tiers[-1].above:
            problem = f"{above} is not above the previous tier's {tiers[-1].above}"
            raise where.error(f"{name}.above", problem, fix_order)
        tiers.append(Tier(above=above, price=price))
    return tuple(tiers)


def _plan(raw: Any, index: int, file: str) -> PlanVersion:
    """One [[plan]] table, checked field by field in a fixed order."""
    where = _Where(file, plan=f"plan #{index + 1}")
    if not isinstance(raw, dict):
        raise where.error(f"plan[{index}]", f"{_show(raw)} is not a table", "use [[plan]] tables")
    plan_id = _string(raw, "id", where)
    if plan_id is None:
        raise where.error("id", "missing", 'add id = "..." (a stable plan id)')
    where.plan = f"plan {plan_id!r}"
    if "effective_from" in raw:
        where.version = _date(raw["effective_from"], "effective_from", where)
    for key in raw:
        if key not in PLAN_KEYS:
            close = difflib.get_close_matches(key, PLAN_KEYS, n=1)
            hint = f"did you mean '{close[0]}'?" if close else f"known keys: {', '.join(PLAN_KEYS)}"
            raise where.error(key, "unknown key", f"remove it or rename it; {hint}")
    for key in REQUIRED_KEYS:
        if key not in raw:
            raise where.error(key, "missing (required)", f"add {key} = ... to the plan")
    assert where.version is not None  # effective_from is required and parsed above

    text = {key: _string(raw, key, where) for key in TEXT_KEYS}
    choice = {key: _choice(raw, key, where) for key in CHOICES}
    algorithm, chargeable = choice["algorithm"], choice["chargeable"]

    counts = ALGORITHM_CHARGEABLE[algorithm]
    if chargeable != counts:
        problem = f"algorithm {algorithm} counts {counts}s, not {chargeable}s"
        raise where.error("chargeable", problem, f'set chargeable = "{counts}"')
    if algorithm.startswith("daily_") and choice["billing_period"] == "hour":
        problem = f"algorithm {algorithm} counts per day, not per hour"
        raise where.error("billing_period", problem, 'use billing_period = "day" or "month"')

    effective_to = None
    if "effective_to" in raw:
        effective_to = _date(raw["effective_to"], "effective_to", where)
        if effective_to <= where.version:
            problem = f"{effective_to} is not after effective_from {where.version}"
            raise where.error("effective_to", problem, "set a later (exclusive) end or remove it")

    user_limit = raw.get("user_limit")
    if user_limit is not None:
        if chargeable != "user":
            problem = f'only applies to chargeable = "user", not "{chargeable}"'
            raise where.error("user_limit", problem, "remove user_limit from this plan")
        if isinstance(user_limit, bool) or not isinstance(user_limit, int) or user_limit <= 0:
            problem = f"{_show(user_limit)} is not a positive integer"
            raise where.error("user_limit", problem, "write a whole number, e.g. user_limit = 250")
        if user_limit > INT64_MAX:
            problem = f"{user_limit} is beyond a 64-bit integer"
            raise where.error("user_limit", problem, f"write at most {INT64_MAX}")

    return PlanVersion(
        plan_id=plan_id,
        **text,
        **choice,
        effective_from=where.version,
        effective_to=effective_to,
        user_limit=user_limit,
        tiers=_tiers(raw["tiers"], where),
    )


def _check_versions(plans: list[PlanVersion], file: str) -> None:
    """Versions of one id: same counting rules, and intervals that do not overlap."""
    first: dict[str, PlanVersion] = {}
    previous: PlanVersion | None = None
    for plan in plans:  # sorted by (plan_id, effective_from)
        where = _Where(file, plan=f"plan {plan.plan_id!r}", version=plan.effective_from)
        base = first.setdefault(plan.plan_id, plan)
        for key in VERSION_INVARIANT_KEYS:
            new, old = getattr(plan, key), getattr(base, key)
            if new != old:
                problem = f"{_show(new)} here but {_show(old)} in version {base.effective_from}"
                raise where.error(key, problem, "keep it across versions or use a new plan id")
        if previous is not None and previous.plan_id == plan.plan_id:
            ends = previous.effective_to
            if ends is None or ends > plan.effective_from:
                other = f"version {previous.effective_from}"
                problem = f"overlaps {other} (effective_to {_show(ends)})"
                fix = f"give {other} effective_to = {plan.effective_from} or earlier"
                if previous.effective_from == plan.effective_from:
                    problem, fix = f"{other} is listed twice", "give each version its own start"
                raise where.error("effective_from", problem, fix)
        previous = plan


def _warn_shared_meters(plans: list[PlanVersion]) -> None:
    # Two plan ids pricing one (product_code, meter) at once would charge it twice; the
    # spec does not forbid it, so it is a warning, not an error.
    for i, a in enumerate(plans):
        for b in plans[i + 1 :]:
            same_meter = (a.product_code, a.meter) == (b.product_code, b.meter)
            if same_meter and a.plan_id != b.plan_id and _overlap(a, b):
                logger.warning("plans %r and %r both price %s", a.plan_id, b.plan_id, a.meter)


def _overlap(a: PlanVersion, b: PlanVersion) -> bool:
    a_ends_after_b_starts = a.effective_to is None or a.effective_to > b.effective_from
    return a_ends_after_b_starts and (b.effective_to is None or b.effective_to > a.effective_from)


def load_rate_plans(path: Path) -> list[PlanVersion]:
    """Read and fully validate rate_plans.toml; raise ConfigError on the first problem.

    Sorted by (plan_id, effective_from).
    """
    file = str(path)
    try:
        with open(path, "rb") as f:
            doc = tomllib.load(f, parse_float=Decimal)  # exact prices, never floats
    except FileNotFoundError:
        raise ConfigError(f"{file}: file not found; fix: put rate_plans.toml there") from None
    except ValueError as exc:  # TOMLDecodeError, bad UTF-8, an over-long integer
        message = " ".join(str(exc).split())
        raise ConfigError(f"{file}: invalid TOML: {message}; fix: correct the syntax") from None
    except OSError as exc:
        raise ConfigError(f"{file}: cannot read: {exc.strerror}; fix: check the path") from None

    where = _Where(file)
    for key in doc:
        if key != "plan":
            raise where.error(key, "unknown top-level key", "put every plan under [[plan]]")
    raw_plans = doc.get("plan", [])
    if not isinstance(raw_plans, list):
        raise where.error("plan", "is not an array of tables", "write each plan as [[plan]]")

    plans = sorted(
        (_plan(raw, i, file) for i, raw in enumerate(raw_plans)),
        key=lambda p: (p.plan_id, p.effective_from),
    )
    _check_versions(plans, file)
    _warn_shared_meters(plans)
    logger.info("loaded %d rate plan versions from %s", len(plans), file)
    return plans


def plan_tables(plans: Sequence[PlanVersion]) -> tuple[pa.Table, pa.Table]:
    """Arrow tables for DuckDB: (plan_versions, plan_tiers).

    plan_version is the version's effective_from; tier is 1-based in tier order and
    tier_upper is the next tier's tier_above (null for the last tier). Arrow rescales the
    exact Decimals to DECIMAL(38, 6) losslessly (they were checked to fit).
    """
    names = PLAN_VERSIONS_SCHEMA.names
    versions = [
        {name: getattr(p, "effective_from" if name == "plan_version" else name) for name in names}
        for p in plans
    ]
    tiers: list[dict[str, Any]] = []
    for p in plans:
        uppers = [t.above for t in p.tiers[1:]] + [None]
        for n, (tier, upper) in enumerate(zip(p.tiers, uppers, strict=True), start=1):
            row = (p.plan_id, p.effective_from, n, tier.above, upper, tier.price)
            tiers.append(dict(zip(PLAN_TIERS_SCHEMA.names, row, strict=True)))
    return (
        pa.Table.from_pylist(versions, schema=PLAN_VERSIONS_SCHEMA),
        pa.Table.from_pylist(tiers, schema=PLAN_TIERS_SCHEMA),
    )


def config_sha256(path: Path) -> str:
    """sha256 hex digest of the file bytes, recorded in `runs.config_sha256`."""
    try:
        return hashlib.sha256(Path(path).read_bytes()).hexdigest()
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read: {exc.strerror}; fix: check the path") from None
