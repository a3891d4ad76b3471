"""rate_plans.toml loading and validation (SPEC §3.2)."""

from __future__ import annotations

import hashlib
import logging
from datetime import date
from decimal import Decimal
from pathlib import Path

import duckdb
import pyarrow as pa
import pytest

from flexbatch.errors import ConfigError
from flexbatch.ingest.rate_plans import (
    PlanVersion,
    Tier,
    config_sha256,
    load_rate_plans,
    plan_tables,
)

# One valid plan, as raw TOML values; tests override or drop (None) single keys.
BASE = {
    "id": '"P1"',
    "product_code": '"ADH"',
    "chargeable": '"resource"',
    "meter": '"streams_accessed"',
    "algorithm": '"daily_unique_resources"',
    "billing_period": '"month"',
    "effective_from": "2026-01-01",
    "tiers": "[ { above = 0, price = 0 }, { above = 500, price = 0.002 } ]",
}
USER_PLAN = {"chargeable": '"user"', "algorithm": '"unique_users"'}


def plan(**fields: str | None) -> str:
    values = {**BASE, **fields}
    body = "\n".join(f"{key} = {value}" for key, value in values.items() if value is not None)
    return f"[[plan]]\n{body}\n\n"


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "rate_plans.toml"
    path.write_text(text, encoding="utf-8")
    return path


def load_error(path: Path) -> str:
    """The ConfigError message of loading path, checked to be one line with a fix."""
    with pytest.raises(ConfigError) as info:
        load_rate_plans(path)
    message = str(info.value)
    assert info.value.exit_code == 2
    assert "\n" not in message
    assert message.startswith(f"{path}: ")
    assert "fix:" in message
    return message


# --- valid files --------------------------------------------------------------------------

TWO_VERSIONS = """
# the later version first: loading sorts by (plan_id, effective_from)
[[plan]]
id = "ADH-STREAMS-ACCESSED"
product_code = "ADH"
service = "data-hub"
chargeable = "resource"
meter = "streams_accessed"
algorithm = "daily_unique_resources"
billing_period = "month"
effective_from = "2027-01-01"
tiers = [ { above = 0, price = 0 }, { above = 400, price = 0.0015 }, { above = 10000, price = 1 } ]

[[plan]]
id = "ADH-STREAMS-ACCESSED"
product_code = "ADH"
product_name = "AVEVA Data Hub"
hosting = "on_premises"
service = "data-hub"
chargeable = "resource"
meter = "streams_accessed"
algorithm = "daily_unique_resources"
billing_period = "month"
threshold_scope = "account"
effective_from = 2026-01-01
effective_to = 2027-01-01
tiers = [ { above = 0, price = 0 }, { above = 500, price = 0.002 } ]

[[plan]]
id = "CONNECT-USERS"
product_code = "CONNECT"
chargeable = "user"
meter = "active_user"
algorithm = "unique_users"
billing_period = "day"
threshold_scope = "scope"
effective_from = 2025-06-01
user_limit = 250
tiers = [ { above = 0, price = 1.25 } ]
"""

V2026 = PlanVersion(
    plan_id="ADH-STREAMS-ACCESSED",
    product_code="ADH",
    product_name="AVEVA Data Hub",
    hosting="on_premises",
    service="data-hub",
    chargeable="resource",
    meter="streams_accessed",
    algorithm="daily_unique_resources",
    billing_period="month",
    threshold_scope="account",
    effective_from=date(2026, 1, 1),
    effective_to=date(2027, 1, 1),
    user_limit=None,
    tiers=(Tier(Decimal(0), Decimal(0)), Tier(Decimal(500), Decimal("0.002"))),
)
V2027 = PlanVersion(
    plan_id="ADH-STREAMS-ACCESSED",
    product_code="ADH",
    product_name=None,
    hosting="cloud",
    service="data-hub",
    chargeable="resource",
    meter="streams_accessed",
    algorithm="daily_unique_resources",
    billing_period="month",
    threshold_scope="account",
    effective_from=date(2027, 1, 1),
    effective_to=None,
    user_limit=None,
    tiers=(
        Tier(Decimal(0), Decimal(0)),
        Tier(Decimal(400), Decimal("0.0015")),
        Tier(Decimal(10000), Decimal(1)),
    ),
)
USERS = PlanVersion(
    plan_id="CONNECT-USERS",
    product_code="CONNECT",
    product_name=None,
    hosting="cloud",
    service=None,
    chargeable="user",
    meter="active_user",
    algorithm="unique_users",
    billing_period="day",
    threshold_scope="scope",
    effective_from=date(2025, 6, 1),
    effective_to=None,
    user_limit=250,
    tiers=(Tier(Decimal(0), Decimal("1.25")),),
)


def test_two_versions_load_sorted_with_exact_prices_and_defaults(tmp_path: Path) -> None:
    plans = load_rate_plans(write(tmp_path, TWO_VERSIONS))

    assert plans == [V2026, V2027, USERS]
    price = plans[0].tiers[1].price
    assert type(price) is Decimal
    assert str(price) == "0.002"  # exact, not 0.00200000000000000004163...
    assert str(plans[1].tiers[1].price) == "0.0015"
    # defaults: hosting cloud, threshold_scope account, optional keys None
    assert (plans[1].hosting, plans[1].threshold_scope) == ("cloud", "account")
    assert (plans[1].product_name, plans[1].effective_to, plans[1].user_limit) == (None,) * 3


def test_plan_tables_schemas_and_values(tmp_path: Path) -> None:
    versions, tiers = plan_tables(load_rate_plans(write(tmp_path, TWO_VERSIONS)))

    dec = pa.decimal128(38, 6)
    assert [(f.name, f.type) for f in versions.schema] == [
        ("plan_id", pa.string()),
        ("plan_version", pa.date32()),
        ("effective_to", pa.date32()),
        ("product_code", pa.string()),
        ("product_name", pa.string()),
        ("hosting", pa.string()),
        ("service", pa.string()),
        ("chargeable", pa.string()),
        ("meter", pa.string()),
        ("algorithm", pa.string()),
        ("billing_period", pa.string()),
        ("threshold_scope", pa.string()),
        ("user_limit", pa.int64()),
    ]
    assert [(f.name, f.type) for f in tiers.schema] == [
        ("plan_id", pa.string()),
        ("plan_version", pa.date32()),
        ("tier", pa.int32()),
        ("tier_above", dec),
        ("tier_upper", dec),
        ("unit_price", dec),
    ]
    nullable = {f.name for f in versions.schema if f.nullable}
    assert nullable == {"effective_to", "product_name", "service", "user_limit"}
    assert {f.name for f in tiers.schema if f.nullable} == {"tier_upper"}

    assert versions.to_pylist() == [
        {
            "plan_id": "ADH-STREAMS-ACCESSED",
            "plan_version": date(2026, 1, 1),
            "effective_to": date(2027, 1, 1),
            "product_code": "ADH",
            "product_name": "AVEVA Data Hub",
            "hosting": "on_premises",
            "service": "data-hub",
            "chargeable": "resource",
            "meter": "streams_accessed",
            "algorithm": "daily_unique_resources",
            "billing_period": "month",
            "threshold_scope": "account",
            "user_limit": None,
        },
        {
            "plan_id": "ADH-STREAMS-ACCESSED",
            "plan_version": date(2027, 1, 1),
            "effective_to": None,
            "product_code": "ADH",
            "product_name": None,
            "hosting": "cloud",
            "service": "data-hub",
            "chargeable": "resource",
            "meter": "streams_accessed",
            "algorithm": "daily_unique_resources",
            "billing_period": "month",
            "threshold_scope": "account",
            "user_limit": None,
        },
        {
            "plan_id": "CONNECT-USERS",
            "plan_version": date(2025, 6, 1),
            "effective_to": None,
            "product_code": "CONNECT",
            "product_name": None,
            "hosting": "cloud",
            "service": None,
            "chargeable": "user",
            "meter": "active_user",
            "algorithm": "unique_users",
            "billing_period": "day",
            "threshold_scope": "scope",
            "user_limit": 250,
        },
    ]
    adh, users = "ADH-STREAMS-ACCESSED", "CONNECT-USERS"
    d26, d27, d25 = date(2026, 1, 1), date(2027, 1, 1), date(2025, 6, 1)
    assert [tuple(row.values()) for row in tiers.to_pylist()] == [
        (adh, d26, 1, Decimal("0.000000"), Decimal("500.000000"), Decimal("0.000000")),
        (adh, d26, 2, Decimal("500.000000"), None, Decimal("0.002000")),
        (adh, d27, 1, Decimal("0.000000"), Decimal("400.000000"), Decimal("0.000000")),
        (adh, d27, 2, Decimal("400.000000"), Decimal("10000.000000"), Decimal("0.001500")),
        (adh, d27, 3, Decimal("10000.000000"), None, Decimal("1.000000")),
        (users, d25, 1, Decimal("0.000000"), None, Decimal("1.250000")),
    ]


def test_plan_tables_are_exact_decimals_in_duckdb(tmp_path: Path) -> None:
    versions, tiers = plan_tables(load_rate_plans(write(tmp_path, TWO_VERSIONS)))
    con = duckdb.connect()
    con.register("plan_tiers", tiers)
    types = dict(con.sql("select column_name, column_type from (describe plan_tiers)").fetchall())
    assert types["unit_price"] == "DECIMAL(38,6)"
    total = con.sql("select sum(unit_price * 1000) from plan_tiers").fetchall()
    assert total == [(Decimal("2253.500000"),)]


def test_empty_plan_list_gives_empty_tables_with_schemas() -> None:
    versions, tiers = plan_tables([])
    assert (versions.num_rows, tiers.num_rows) == (0, 0)
    assert versions.schema.names[:2] == ["plan_id", "plan_version"]
    assert tiers.schema.field("tier_upper").type == pa.decimal128(38, 6)


@pytest.mark.parametrize("text", ["", "# no plans yet\n", "plan = []\n"])
def test_zero_plans_is_an_empty_list(tmp_path: Path, text: str) -> None:
    assert load_rate_plans(write(tmp_path, text)) == []


def test_adjacent_versions_do_not_overlap(tmp_path: Path) -> None:
    text = plan(effective_to="2026-07-01") + plan(effective_from="2026-07-01")
    plans = load_rate_plans(write(tmp_path, text))
    assert [(p.effective_from, p.effective_to) for p in plans] == [
        (date(2026, 1, 1), date(2026, 7, 1)),
        (date(2026, 7, 1), None),
    ]


def test_six_places_with_trailing_zeros_and_negative_zero_are_accepted(tmp_path: Path) -> None:
    text = plan(tiers="[ { above = 0, price = -0.0 }, { above = 1.5000000, price = 0.0020000 } ]")
    (loaded,) = load_rate_plans(write(tmp_path, text))
    assert loaded.tiers == (Tier(Decimal(0), Decimal(0)), Tier(Decimal("1.5"), Decimal("0.002")))
    assert not loaded.tiers[0].price.is_signed()
    _, tiers = plan_tables([loaded])
    assert tiers.column("tier_above").to_pylist() == [Decimal("0.000000"), Decimal("1.500000")]


def test_two_plan_ids_pricing_one_meter_is_a_warning(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    text = plan() + plan(id='"P2"', effective_from="2026-03-01")
    with caplog.at_level(logging.WARNING, logger="flexbatch.ingest.rate_plans"):
        plans = load_rate_plans(write(tmp_path, text))
    assert [p.plan_id for p in plans] == ["P1", "P2"]
    assert "'P1' and 'P2' both price streams_accessed" in caplog.text


def test_config_sha256_is_the_sha256_of_the_file_bytes(tmp_path: Path) -> None:
    path = write(tmp_path, TWO_VERSIONS)
    assert config_sha256(path) == hashlib.sha256(TWO_VERSIONS.encode()).hexdigest()
    path.write_text(TWO_VERSIONS + "\n", encoding="utf-8")
    assert config_sha256(path) == hashlib.sha256((TWO_VERSIONS + "\n").encode()).hexdigest()


# --- file-level errors --------------------------------------------------------------------


def test_missing_file_names_the_path(tmp_path: Path) -> None:
    path = tmp_path / "nowhere" / "rate_plans.toml"
    assert "file not found" in load_error(path)
    with pytest.raises(ConfigError, match="nowhere"):
        config_sha256(path)


def test_toml_syntax_error_names_the_file_and_the_parser_message(tmp_path: Path) -> None:
    message = load_error(write(tmp_path, plan() + "[[plan]]\nid = \n"))
    assert "invalid TOML" in message
    assert "line 12" in message  # the parser's own position


def test_non_utf8_file_is_a_config_error(tmp_path: Path) -> None:
    path = tmp_path / "rate_plans.toml"
    path.write_bytes(b'title = "\xff"\n')
    assert "invalid TOML" in load_error(path)


def test_integer_too_long_to_parse_is_a_config_error(tmp_path: Path) -> None:
    text = plan(tiers=f"[ {{ above = 0, price = {'9' * 5000} }} ]")
    assert "invalid TOML" in load_error(write(tmp_path, text))


@pytest.mark.parametrize(
    ("text", "field", "problem"),
    [
        pytest.param('title = "x"\n' + plan(), "title", "unknown top-level key", id="top-key"),
        pytest.param('[plan]\nid = "P1"\n', "plan", "not an array", id="plan-is-table"),
        pytest.param('plan = "P1"\n', "plan", "not an array", id="plan-is-string"),
    ],
)
def test_top_level_errors(tmp_path: Path, text: str, field: str, problem: str) -> None:
    message = load_error(write(tmp_path, text))
    assert f"field '{field}'" in message
    assert problem in message


def test_plan_entry_that_is_not_a_table(tmp_path: Path) -> None:
    message = load_error(write(tmp_path, "plan = [1]\n"))
    assert "plan #1 field 'plan[0]'" in message


# --- per-plan errors ----------------------------------------------------------------------

USER_LIMIT = {**USER_PLAN, "user_limit": None}
ENUM_CASES = {
    "hosting": ("cloud", "on_premises"),
    "chargeable": ("product", "resource", "user"),
    "algorithm": (
        "fixed",
        "unique_users",
        "unique_resources",
        "daily_unique_users",
        "daily_unique_resources",
        "sum",
        "peak",
    ),
    "billing_period": ("hour", "day", "month"),
    "threshold_scope": ("account", "scope"),
}
# (algorithm, a chargeable it does not count, the one it does)
WRONG_CHARGEABLE = [
    ("fixed", "resource", "product"),
    ("unique_users", "resource", "user"),
    ("daily_unique_users", "product", "user"),
    ("unique_resources", "user", "resource"),
    ("daily_unique_resources", "product", "resource"),
    ("sum", "user", "resource"),
    ("peak", "product", "resource"),
]
TIERS_OK = "{ above = 0, price = 0 }"

PLAN_ERRORS = [
    # unknown keys, with a spelling hint when one is close
    pytest.param({"colour": '"red"'}, "colour", "unknown key", id="unknown-key"),
    pytest.param({"algoritm": '"sum"'}, "algoritm", "did you mean 'algorithm'", id="typo-key"),
    # required keys
    *[
        pytest.param({key: None}, key, "missing", id=f"missing-{key}")
        for key in BASE
        if key not in ("id", "effective_from")
    ],
    # strings must be non-empty strings
    pytest.param({"product_code": '""'}, "product_code", "non-empty string", id="empty-code"),
    pytest.param({"meter": '"   "'}, "meter", "non-empty string", id="blank-meter"),
    pytest.param({"meter": "5"}, "meter", "non-empty string", id="number-meter"),
    pytest.param({"service": "true"}, "service", "non-empty string", id="bool-service"),
    pytest.param({"product_name": "[]"}, "product_name", "non-empty string", id="list-name"),
    # enumerations list their allowed values
    *[
        pytest.param({key: '"bogus"'}, key, ", ".join(allowed), id=f"enum-{key}")
        for key, allowed in ENUM_CASES.items()
    ],
    pytest.param({"chargeable": '"User"'}, "chargeable", "unknown value", id="enum-case"),
    # algorithm and chargeable must match the spec table
    *[
        pytest.param(
            {"algorithm": f'"{algorithm}"', "chargeable": f'"{wrong}"'},
            "chargeable",
            f'chargeable = "{right}"',
            id=f"combo-{algorithm}",
        )
        for algorithm, wrong, right in WRONG_CHARGEABLE
    ],
    # daily_* algorithms need day or month periods
    pytest.param(
        {"billing_period": '"hour"'}, "billing_period", "per day", id="hourly-daily-resources"
    ),
    pytest.param(
        {**USER_PLAN, "algorithm": '"daily_unique_users"', "billing_period": '"hour"'},
        "billing_period",
        "per day",
        id="hourly-daily-users",
    ),
    # user_limit: only for users, a positive integer
    pytest.param({"user_limit": "10"}, "user_limit", 'chargeable = "user"', id="limit-resource"),
    *[
        pytest.param({**USER_PLAN, "user_limit": raw}, "user_limit", "positive integer", id=name)
        for name, raw in [
            ("limit-zero", "0"),
            ("limit-negative", "-5"),
            ("limit-bool", "true"),
            ("limit-float", "2.5"),
            ("limit-string", '"10"'),
        ]
    ],
    # dates: TOML local dates or ISO strings, nothing else
    *[
        pytest.param({key: raw}, key, problem, id=f"{key}-{name}")
        for key in ("effective_from", "effective_to")
        for name, raw, problem in [
            ("month-13", '"2026-13-01"', "not a calendar date"),
            ("short", '"2026-1-1"', "not a calendar date"),
            ("compact", '"20260101"', "not a calendar date"),
            ("week", '"2026-W01-1"', "not a calendar date"),
            ("number", "20260101", "not a calendar date"),
            ("bool", "true", "not a calendar date"),
            ("time", "07:30:00", "not a calendar date"),
            ("local-datetime", "2027-01-01T00:00:00", "2027-01-01T00:00:00 is a date-time"),
            ("offset-datetime", "2027-01-01T00:00:00Z", "is a date-time"),
        ]
    ],
    pytest.param({"effective_to": "2026-01-01"}, "effective_to", "not after", id="to-equals-from"),
    pytest.param({"effective_to": "2025-12-31"}, "effective_to", "not after", id="to-before-from"),
    # tiers
    pytest.param({"tiers": '"free"'}, "tiers", "not a non-empty list", id="tiers-string"),
    pytest.param({"tiers": "[]"}, "tiers", "not a non-empty list", id="tiers-empty"),
    pytest.param({"tiers": "[0, 0.002]"}, "tiers[0]", "not a table", id="tier-not-table"),
    pytest.param(
        {"tiers": "[ { above = 0, price = 0, cap = 9 } ]"},
        "tiers[0].cap",
        "unknown key",
        id="tier-unknown-key",
    ),
    pytest.param({"tiers": "[ { price = 0 } ]"}, "tiers[0].above", "missing", id="no-above"),
    pytest.param({"tiers": "[ { above = 0 } ]"}, "tiers[0].price", "missing", id="no-price"),
    pytest.param(
        {"tiers": "[ { above = 100, price = 0 } ]"}, "tiers[0].above", "starts at", id="not-at-0"
    ),
    pytest.param(
        {"tiers": f"[ {TIERS_OK}, {{ above = 0, price = 1 }} ]"},
        "tiers[1].above",
        "0 is not above the previous tier's 0",
        id="above-repeated",
    ),
    pytest.param(
        {
            "tiers": f"[ {TIERS_OK}, {{ above = 500, price = 1 }}, {{ above = 400, price = 2 }} ]",
        },
        "tiers[2].above",
        "400 is not above the previous tier's 500",
        id="above-decreasing",
    ),
    pytest.param(
        {"tiers": "[ { above = -1, price = 0 } ]"}, "tiers[0].above", ">= 0", id="above-negative"
    ),
    *[
        pytest.param(
            {"tiers": f"[ {TIERS_OK}, {{ above = {above}, price = {price} }} ]"},
            f"tiers[1].{field}",
            problem,
            id=name,
        )
        for name, above, price, field, problem in [
            ("price-negative", "500", "-0.001", "price", ">= 0"),
            ("price-7-places", "500", "0.0000001", "price", "0.0000001 has over 6 decimal places"),
            ("above-7-places", "500.0000001", "1", "above", "round to 6 places"),
            ("price-exponent", "500", "1e-7", "price", "round to 6 places"),
            ("price-too-large", "500", "1e32", "price", "above the largest unit price"),
            ("price-above-1e6", "500", "1000000.000001", "price", "at most 1000000"),
            ("above-too-large", str(10**33), "1", "above", "DECIMAL(38, 6)"),
            ("price-nan", "500", "nan", "price", "not a number >= 0"),
            ("price-inf", "500", "inf", "price", "not a number >= 0"),
            ("price-bool", "500", "true", "price", "not a number"),
            ("price-string", "500", '"0.002"', "price", "not a number"),
            ("above-string", '"500"', "1", "above", "not a number"),
            ("price-date", "500", "2026-01-01", "price", "not a number"),
        ]
    ],
]


@pytest.mark.parametrize(("fields", "field", "problem"), PLAN_ERRORS)
def test_plan_errors_name_file_plan_field_and_fix(
    tmp_path: Path, fields: dict[str, str | None], field: str, problem: str
) -> None:
    # A valid plan first, so the message must point at the second, broken one.
    path = write(tmp_path, plan(id='"OK-PLAN"') + plan(id='"BAD-PLAN"', **fields))
    message = load_error(path)
    assert "plan 'BAD-PLAN'" in message
    assert f"field '{field}'" in message
    assert problem in message
    # The version is named whenever effective_from is known.
    if "effective_from" in fields:
        assert "(version" not in message
    else:
        assert "(version 2026-01-01)" in message


def test_missing_id_names_the_plan_by_position(tmp_path: Path) -> None:
    message = load_error(write(tmp_path, plan() + plan(id=None)))
    assert "plan #2 field 'id': missing" in message


@pytest.mark.parametrize("raw", ['""', "42"])
def test_bad_id(tmp_path: Path, raw: str) -> None:
    assert "plan #1 field 'id'" in load_error(write(tmp_path, plan(id=raw)))


def test_missing_effective_from_has_no_version(tmp_path: Path) -> None:
    message = load_error(write(tmp_path, plan(effective_from=None)))
    assert "plan 'P1' field 'effective_from': missing" in message


def test_error_message_shape(tmp_path: Path) -> None:
    """The exact shape from the brief: file, plan, version, field, problem, fix."""
    tiers = f"[ {TIERS_OK}, {{ above = 500, price = 1 }}, {{ above = 400, price = 2 }} ]"
    path = write(tmp_path, plan(id='"ADH-STREAMS-ACCESSED"', tiers=tiers))
    assert load_error(path) == (
        f"{path}: plan 'ADH-STREAMS-ACCESSED' (version 2026-01-01) field 'tiers[2].above': "
        "400 is not above the previous tier's 500; "
        "fix: list tiers with strictly increasing 'above' values starting at 0"
    )


# --- version errors -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("first", "second", "older", "newer"),
    [
        pytest.param({}, {"effective_from": "2026-06-01"}, "2026-01-01", "2026-06-01", id="open"),
        pytest.param(
            {"effective_to": "2026-07-01"},
            {"effective_from": "2026-06-30"},
            "2026-01-01",
            "2026-06-30",
            id="partial",
        ),
        pytest.param({}, {}, "2026-01-01", "2026-01-01", id="same-start"),
        pytest.param(
            {"effective_from": "2026-03-01", "effective_to": "2026-04-01"},
            {"effective_to": "2027-01-01"},
            "2026-01-01",
            "2026-03-01",
            id="contained",
        ),
    ],
)
def test_overlapping_versions_name_both(
    tmp_path: Path, first: dict[str, str], second: dict[str, str], older: str, newer: str
) -> None:
    message = load_error(write(tmp_path, plan(**first) + plan(**second)))
    assert f"plan 'P1' (version {newer}) field 'effective_from'" in message
    if older == newer:
        assert f"version {older} is listed twice" in message
    else:
        assert f"overlaps version {older}" in message


def test_overlap_with_a_non_neighbouring_version(tmp_path: Path) -> None:
    text = (
        plan(effective_to="2026-02-01")
        + plan(effective_from="2026-02-01", effective_to="2026-03-01")
        + plan(effective_from="2026-02-15")
    )
    message = load_error(write(tmp_path, text))
    assert "(version 2026-02-15) field 'effective_from': overlaps version 2026-02-01" in message


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        pytest.param({"product_code": '"ADH2"'}, "product_code", id="product_code"),
        pytest.param({"meter": '"streams_stored"'}, "meter", id="meter"),
        pytest.param(
            {"chargeable": '"user"', "algorithm": '"daily_unique_users"'},
            "chargeable",
            id="chargeable",
        ),
        pytest.param({"algorithm": '"unique_resources"'}, "algorithm", id="algorithm"),
        pytest.param({"billing_period": '"day"'}, "billing_period", id="billing_period"),
        pytest.param({"threshold_scope": '"scope"'}, "threshold_scope", id="threshold_scope"),
        pytest.param({"service": '"data-hub"'}, "service", id="service"),
    ],
)
def test_versions_must_agree_on_what_is_counted(
    tmp_path: Path, changes: dict[str, str], field: str
) -> None:
    text = plan(effective_to="2026-07-01") + plan(effective_from="2026-07-01", **changes)
    message = load_error(write(tmp_path, text))
    assert f"plan 'P1' (version 2026-07-01) field '{field}'" in message
    assert "here but" in message
    assert "in version 2026-01-01" in message


def test_versions_may_change_prices_names_hosting_and_user_limit(tmp_path: Path) -> None:
    text = plan(**USER_PLAN, user_limit="10", effective_to="2026-07-01") + plan(
        **USER_PLAN,
        user_limit="20",
        effective_from="2026-07-01",
        product_name='"Renamed"',
        hosting='"on_premises"',
        tiers="[ { above = 0, price = 0.5 } ]",
    )
    old, new = load_rate_plans(write(tmp_path, text))
    assert (old.user_limit, new.user_limit) == (10, 20)
    assert new.tiers == (Tier(Decimal(0), Decimal("0.5")),)
