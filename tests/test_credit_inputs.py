"""Grants and transfers inputs (SPEC §3.3): loading, defaults, and one-line ConfigErrors."""

from __future__ import annotations

import hashlib
import shutil
from datetime import date
from decimal import Decimal, localcontext
from pathlib import Path

import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pandera.config import config_context

from flexbatch.errors import ConfigError
from flexbatch.ingest.credit_inputs import (
    GRANTS_SCHEMA,
    TRANSFERS_SCHEMA,
    _amount_rules,
    _decimal,
    grants_file,
    inputs_sha256,
    load_grants,
    load_transfers,
    transfers_file,
)

DATA = Path(__file__).resolve().parents[1] / "data"

GRANT_COLUMNS = list(GRANTS_SCHEMA)
GOOD_GRANT = {
    "grant_id": "G-1",
    "account_id": "acme",
    "currency": "flex_credit",
    "amount": "100",
    "effective_on": "2026-09-01",
    "expires_on": "2027-09-01",
    "priority": "",
    "products": "",
    "source": "purchase",
    "unit_cost": "0.95",
    "cost_currency": "USD",
    "voided_on": "",
    "rollover_max": "",
    "rollover_days": "",
}
TRANSFER_COLUMNS = list(TRANSFERS_SCHEMA)
GOOD_TRANSFER = {
    "transfer_id": "T-1",
    "date": "2026-09-20",
    "from_account": "acme",
    "to_account": "initech",
    "amount": "200",
    "currency": "flex_credit",
}


def _csv(columns: list[str], rows: list[dict[str, str]]) -> str:
    lines = [",".join(columns)] + [",".join(row.get(c, "") for c in columns) for row in rows]
    return "\n".join(lines) + "\n"


def _write(folder: Path, name: str, text: str) -> Path:
    path = folder / name
    path.write_text(text, encoding="utf-8")
    return path


def _grants(tmp_path: Path, *rows: dict[str, str]) -> Path:
    return _write(tmp_path, "grants.csv", _csv(GRANT_COLUMNS, list(rows)))


def _transfers(tmp_path: Path, *rows: dict[str, str]) -> Path:
    return _write(tmp_path, "transfers.csv", _csv(TRANSFER_COLUMNS, list(rows)))


def _grant(**changes: str) -> dict[str, str]:
    return {**GOOD_GRANT, **changes}


def _transfer(**changes: str) -> dict[str, str]:
    return {**GOOD_TRANSFER, **changes}


# --------------------------------------------------------------------------- samples
def test_sample_grants_load_exactly_with_defaults() -> None:
    grants = load_grants(DATA)
    assert dict(grants.schema) == GRANTS_SCHEMA
    assert grants["grant_id"].to_list() == sorted(grants["grant_id"].to_list())
    by_id = {row["grant_id"]: row for row in grants.iter_rows(named=True)}
    assert len(by_id) == 10

    promo = by_id["G-ACME-PROMO-Q4"]
    assert promo["amount"] == Decimal("250.500000")
    assert str(promo["amount"]) == "250.500000"
    assert promo["unit_cost"] == Decimal("0")
    assert (promo["effective_on"], promo["expires_on"]) == (date(2026, 10, 1), date(2026, 12, 31))

    legacy = by_id["G-ACME-LEGACY-CC"]
    assert legacy["priority"] == 0  # cloud_credit default
    assert legacy["unit_cost"] == Decimal("0")  # empty cell: default 0
    assert legacy["cost_currency"] == "USD"  # empty cell: default USD
    assert legacy["products"] == []
    assert legacy["source"] == "legacy"

    assert by_id["G-ACME-2026-001"]["priority"] == 10  # flex_credit default
    assert by_id["G-ACME-2026-001"]["unit_cost"] == Decimal("0.950000")
    assert by_id["G-GLOBEX-2026-001"]["cost_currency"] == "EUR"
    assert by_id["G-GLOBEX-2026-001"]["unit_cost"] == Decimal("1.100000")

    deposit = by_id["G-GLOBEX-ACD-DEP"]
    assert deposit["amount"] == Decimal("400")
    assert deposit["priority"] == 5  # given explicitly
    assert deposit["expires_on"] is None
    assert deposit["products"] == ["ACD"]
    assert by_id["G-INITECH-2026-001"]["cost_currency"] == "USD"
    assert by_id["G-INITECH-REPL-10"]["products"] == ["ADH", "API"]

    # SPEC §10: a voided promo, a bonus that rolls over, no lifecycle column elsewhere
    assert by_id["G-GLOBEX-PROMO-VOID"]["voided_on"] == date(2026, 9, 10)
    bonus = by_id["G-GLOBEX-Q3-BONUS"]
    assert (bonus["rollover_max"], bonus["rollover_days"]) == (Decimal(100), 30)
    others = grants.filter(~pl.col("grant_id").is_in(["G-GLOBEX-PROMO-VOID", "G-GLOBEX-Q3-BONUS"]))
    assert others.select("voided_on", "rollover_max", "rollover_days").null_count().row(0) == (
        8,
        8,
        8,
    )


def test_sample_transfers_load() -> None:
    transfers = load_transfers(DATA)
    assert dict(transfers.schema) == TRANSFERS_SCHEMA
    assert transfers.rows() == [
        ("T-2026-0001", date(2026, 9, 20), "acme", "initech", Decimal("200"), "flex_credit"),
        ("T-2026-0002", date(2026, 10, 12), "globex", "umbrella", Decimal("50000"), None),
    ]


def test_files_and_sha256() -> None:
    assert grants_file(DATA) == DATA / "grants.csv"
    assert transfers_file(DATA) == DATA / "transfers.csv"
    assert inputs_sha256(DATA) == {
        "grants": hashlib.sha256((DATA / "grants.csv").read_bytes()).hexdigest(),
        "transfers": hashlib.sha256((DATA / "transfers.csv").read_bytes()).hexdigest(),
    }


# --------------------------------------------------------------------------- absent, both
def test_no_files_give_empty_typed_frames(tmp_path: Path) -> None:
    assert grants_file(tmp_path) is None and transfers_file(tmp_path) is None
    grants, transfers = load_grants(tmp_path), load_transfers(tmp_path)
    assert grants.is_empty() and dict(grants.schema) == GRANTS_SCHEMA
    assert transfers.is_empty() and dict(transfers.schema) == TRANSFERS_SCHEMA
    assert inputs_sha256(tmp_path) == {"grants": "", "transfers": ""}


def test_header_only_files_give_empty_typed_frames(tmp_path: Path) -> None:
    _grants(tmp_path)
    _transfers(tmp_path)
    assert dict(load_grants(tmp_path).schema) == GRANTS_SCHEMA
    assert load_grants(tmp_path).is_empty()
    assert dict(load_transfers(tmp_path).schema) == TRANSFERS_SCHEMA


@pytest.mark.parametrize(("stem", "find"), [("grants", grants_file), ("transfers", transfers_file)])
def test_csv_and_parquet_both_present(tmp_path: Path, stem: str, find) -> None:
    shutil.copy(DATA / f"{stem}.csv", tmp_path / f"{stem}.csv")
    pl.read_csv(DATA / f"{stem}.csv", infer_schema=False).write_parquet(
        tmp_path / f"{stem}.parquet"
    )
    with pytest.raises(ConfigError, match=r"both present; fix: ") as info:
        find(tmp_path)
    assert f"{stem}.csv" in str(info.value) and f"{stem}.parquet" in str(info.value)
    assert info.value.exit_code == 2
    loader = load_grants if stem == "grants" else load_transfers
    with pytest.raises(ConfigError, match="both present"):
        loader(tmp_path)


# --------------------------------------------------------------------------- parquet
def _typed_sample() -> pl.DataFrame:
    """The sample grants as a typed Parquet writer would have them."""
    text = pl.read_csv(DATA / "grants.csv", infer_schema=False)
    return text.with_columns(
        pl.col("amount").cast(pl.Decimal(38, 6)),
        pl.col("unit_cost").cast(pl.Decimal(20, 2)),
        pl.col("effective_on", "expires_on").str.to_date("%Y-%m-%d"),
        pl.col("priority").cast(pl.Int64),
    )


def test_parquet_grants_load_the_same_as_csv(tmp_path: Path) -> None:
    _typed_sample().write_parquet(tmp_path / "grants.parquet")
    assert load_grants(tmp_path).equals(load_grants(DATA))


def test_parquet_text_and_integer_columns(tmp_path: Path) -> None:
    text = pl.read_csv(DATA / "grants.csv", infer_schema=False)
    text.write_parquet(tmp_path / "grants.parquet")  # every column as text
    assert load_grants(tmp_path).equals(load_grants(DATA))
    whole = text.filter(pl.col("grant_id") == "G-GLOBEX-ACD-DEP")
    whole = whole.with_columns(pl.col("amount").cast(pl.Int32), pl.col("products").str.split(";"))
    whole.write_parquet(tmp_path / "grants.parquet")
    grants = load_grants(tmp_path)
    assert grants["amount"].to_list() == [Decimal("400")]
    assert grants["products"].to_list() == [["ACD"]]


def test_parquet_transfers_load_the_same_as_csv(tmp_path: Path) -> None:
    text = pl.read_csv(DATA / "transfers.csv", infer_schema=False)
    typed = text.with_columns(
        pl.col("date").str.to_date("%Y-%m-%d"), pl.col("amount").cast(pl.Decimal(38, 3))
    )
    typed.write_parquet(tmp_path / "transfers.parquet")
    assert load_transfers(tmp_path).equals(load_transfers(DATA))


@pytest.mark.parametrize(
    ("column", "expr", "fix"),
    [
        ("amount", pl.col("amount").cast(pl.Float64), "write amounts as decimal or text"),
        ("unit_cost", pl.col("unit_cost").cast(pl.Float32), "write amounts as decimal or text"),
        ("effective_on", pl.col("effective_on").str.to_datetime("%Y-%m-%d"), "date32"),
        ("priority", pl.col("priority").cast(pl.Float64), "integer or text"),
        ("grant_id", pl.lit(True).alias("grant_id"), "write it as text"),
    ],
)
def test_parquet_rejects_types(tmp_path: Path, column: str, expr: pl.Expr, fix: str) -> None:
    pl.read_csv(DATA / "grants.csv", infer_schema=False).with_columns(expr).write_parquet(
        tmp_path / "grants.parquet"
    )
    with pytest.raises(ConfigError) as info:
        load_grants(tmp_path)
    message = str(info.value)
    assert "grants.parquet" in message and f"column '{column}'" in message
    assert "is not accepted; fix: " in message and fix in message.split("fix: ")[1]


def test_parquet_rows_are_validated(tmp_path: Path) -> None:
    bad = _typed_sample().with_columns(
        pl.when(pl.col("grant_id") == "G-ACME-PROMO-Q4")
        .then(pl.lit(Decimal("-1")).cast(pl.Decimal(38, 6)))
        .otherwise(pl.col("amount"))
        .alias("amount")
    )
    bad.write_parquet(tmp_path / "grants.parquet")
    with pytest.raises(ConfigError, match=r"grants\.parquet: row 3 \(grant_id 'G-ACME-PROMO-Q4'\)"):
        load_grants(tmp_path)


# --------------------------------------------------------------------------- csv details
def test_amounts_are_exact_decimals(tmp_path: Path) -> None:
    big = "99999999999999999999.999999"  # the largest amount in the ledger's range
    _grants(
        tmp_path,
        _grant(grant_id="A", amount=big),
        _grant(grant_id="B", amount="0.000001"),
        _grant(grant_id="C", amount="1.50000000", unit_cost="0.1000000"),  # zeros past 6 places
        _grant(grant_id="D", amount="+7", unit_cost="-0"),
    )
    grants = load_grants(tmp_path)
    assert grants["amount"].to_list() == [
        Decimal(big),
        Decimal("0.000001"),
        Decimal("1.5"),
        Decimal("7"),
    ]
    assert grants["unit_cost"].to_list()[2:] == [Decimal("0.1"), Decimal("0")]


# Plain decimal text as a file may hold it: a sign, leading zeros, up to 40 integer digits,
# a fraction of up to 12 digits whose tail may be zeros.
PLAIN_DECIMALS = st.builds(
    lambda sign, zeros, whole, fraction, tail: f"{sign}{zeros}{whole}{fraction}{tail}",
    st.sampled_from(["", "+", "-"]),
    st.sampled_from(["", "0", "000"]),
    st.from_regex(r"[0-9]{1,40}", fullmatch=True),
    st.one_of(st.just(""), st.from_regex(r"\.[0-9]{1,12}", fullmatch=True)),
    st.sampled_from(["", "0", "0000000"]),
)


@settings(max_examples=300, deadline=None)
@given(st.lists(PLAIN_DECIMALS, min_size=1, max_size=20))
def test_amount_places_fits_and_value_agree_with_python_decimal(texts: list[str]) -> None:
    """On plain decimal text the places and fits rules and the parsed value are what
    Python's Decimal says: places after dropping trailing zeros, integer digits after
    dropping leading ones, and the exact value."""
    _text, places, fits, _range, _sign = _amount_rules("amount", strict=True)
    got = pl.DataFrame({"amount": texts}).select(
        places.bad.fill_null(False).alias("places"),
        fits.bad.fill_null(False).alias("fits"),
        _decimal("amount").alias("value"),
    )
    with localcontext(prec=100):
        for text, (too_fine, too_big, value) in zip(texts, got.iter_rows(), strict=True):
            exact = Decimal(text)
            exponent = exact.normalize().as_tuple().exponent
            assert too_fine == (isinstance(exponent, int) and exponent < -6), text
            assert too_big == (abs(exact) >= Decimal(10) ** 32), text
            if not (too_fine or too_big):
                assert value == exact, text


def test_trailing_zeros_are_dropped_only_after_the_point(tmp_path: Path) -> None:
    _grants(
        tmp_path,
        _grant(grant_id="A", amount="100", unit_cost="10"),
        _grant(grant_id="B", amount="100.000", unit_cost="10.0"),
        _grant(grant_id="C", amount="0100.0100", unit_cost="0.0"),
    )
    grants = load_grants(tmp_path)
    assert grants["amount"].to_list() == [Decimal(100), Decimal(100), Decimal("100.01")]
    assert grants["unit_cost"].to_list() == [Decimal(10), Decimal(10), Decimal(0)]


def test_repeated_product_texts_keep_each_rows_list(tmp_path: Path) -> None:
    # Each distinct text is split once and joined back: the rows must keep their own list.
    texts = ["A;B", "", "B", " B ;A", "A;B", "C", "", "B", "A;;C"]
    _grants(tmp_path, *(_grant(grant_id=f"G-{n}", products=t) for n, t in enumerate(texts)))
    grants = load_grants(tmp_path)
    assert grants["grant_id"].to_list() == [f"G-{n}" for n in range(len(texts))]
    assert grants["products"].to_list() == [
        ["A", "B"], [], ["B"], ["A", "B"], ["A", "B"], ["C"], [], ["B"], ["A", "C"],
    ]  # fmt: skip


def test_cells_are_stripped_and_products_normalised(tmp_path: Path) -> None:
    _grants(
        tmp_path,
        _grant(grant_id=" G-2 ", currency="cloud_credit", products=" API ; ADH;;API; "),
        _grant(grant_id="G-1", priority=" -3 ", cost_currency=" ", unit_cost="  "),
    )
    grants = load_grants(tmp_path)
    assert grants["grant_id"].to_list() == ["G-1", "G-2"]  # sorted by grant_id
    assert grants["products"].to_list() == [[], ["ADH", "API"]]
    assert grants["priority"].to_list() == [-3, 0]
    assert grants["cost_currency"].to_list() == ["USD", "USD"]
    assert grants["unit_cost"].to_list()[0] == Decimal("0")


def test_optional_columns_may_be_absent(tmp_path: Path) -> None:
    required = ["grant_id", "account_id", "currency", "amount", "effective_on"]
    rows = [_grant(), _grant(grant_id="CC", currency="cloud_credit")]
    _write(tmp_path, "grants.csv", _csv(required, rows))
    grants = load_grants(tmp_path)
    assert dict(grants.schema) == GRANTS_SCHEMA
    assert grants.select("priority", "unit_cost", "cost_currency").rows() == [
        (0, Decimal("0"), "USD"),
        (10, Decimal("0"), "USD"),
    ]
    assert grants["expires_on"].to_list() == [None, None]
    _write(tmp_path, "transfers.csv", _csv(TRANSFER_COLUMNS[:-1], [_transfer()]))
    assert load_transfers(tmp_path)["currency"].to_list() == [None]


def test_blank_lines_are_no_rows_but_keep_row_numbers(tmp_path: Path) -> None:
    header = ",".join(GRANT_COLUMNS)
    good = ",".join(GOOD_GRANT[c] for c in GRANT_COLUMNS)
    bad = good.replace("G-1", "G-2").replace(",100,", ",-1,")
    _write(tmp_path, "grants.csv", f"{header}\n{good}\n\n{bad}\n\n")
    with pytest.raises(ConfigError, match=r"row 3 \(grant_id 'G-2'\) field 'amount'"):
        load_grants(tmp_path)
    _write(tmp_path, "grants.csv", f"{header}\n\n{good}\n\n")
    assert load_grants(tmp_path).height == 1


def test_first_problem_in_file_order(tmp_path: Path) -> None:
    _grants(
        tmp_path,
        _grant(),
        _grant(grant_id="G-2", cost_currency="usd", amount="abc"),  # two problems on row 2
        _grant(grant_id="", amount="-1"),
    )
    with pytest.raises(ConfigError) as info:
        load_grants(tmp_path)
    message = str(info.value)
    assert message.startswith(str(tmp_path / "grants.csv") + ": row 2 (grant_id 'G-2') ")
    assert "field 'amount': 'abc' is not a plain decimal number; fix: " in message
    assert "\n" not in message


def test_pandera_switched_off_does_not_skip_the_rules(tmp_path: Path) -> None:
    _grants(tmp_path, _grant(amount="-5"))
    with config_context(validation_enabled=False), pytest.raises(ConfigError, match="> 0"):
        load_grants(tmp_path)


# --------------------------------------------------------------------------- rules
# (rows, row number, field, text in the message); the id is named when the row has one.
GRANT_CASES = [
    ([_grant(grant_id="")], 1, "grant_id", "is empty"),
    ([_grant(), _grant(grant_id="G-2"), _grant()], 3, "grant_id", "'G-1' repeats row 1"),
    ([_grant(account_id="")], 1, "account_id", "is empty"),
    ([_grant(currency="")], 1, "currency", "is empty"),
    ([_grant(amount="")], 1, "amount", "is empty"),
    ([_grant(), _grant(grant_id="G-7", amount="-5")], 2, "amount", "'-5' must be a decimal > 0"),
    ([_grant(amount="0")], 1, "amount", "'0' must be a decimal > 0"),
    ([_grant(amount="abc")], 1, "amount", "not a plain decimal"),
    ([_grant(amount="1e5")], 1, "amount", "not a plain decimal"),
    ([_grant(amount='"1,000"')], 1, "amount", "not a plain decimal"),
    ([_grant(amount="1.1234567")], 1, "amount", "more than 6 decimal places; fix: round to 6"),
    ([_grant(amount="1" * 33)], 1, "amount", "does not fit DECIMAL(38,6)"),
    ([_grant(effective_on="")], 1, "effective_on", "is empty"),
    ([_grant(effective_on="2026-02-30")], 1, "effective_on", "not a valid date"),
    ([_grant(effective_on="2026/09/01")], 1, "effective_on", "not a valid date"),
    ([_grant(effective_on="2026-9-1")], 1, "effective_on", "not a valid date"),
    ([_grant(expires_on="soon")], 1, "expires_on", "not a valid date"),
    ([_grant(expires_on="2026-09-01")], 1, "expires_on", "is not after effective_on"),
    ([_grant(expires_on="2026-08-01")], 1, "expires_on", "is not after effective_on"),
    ([_grant(priority="high")], 1, "priority", "not a 32-bit integer"),
    ([_grant(priority="1.5")], 1, "priority", "not a 32-bit integer"),
    ([_grant(priority="99999999999")], 1, "priority", "not a 32-bit integer"),
    ([_grant(unit_cost="-0.5")], 1, "unit_cost", "must be a decimal >= 0"),
    ([_grant(unit_cost="0.1234567")], 1, "unit_cost", "more than 6 decimal places"),
    ([_grant(unit_cost="free")], 1, "unit_cost", "not a plain decimal"),
    ([_grant(cost_currency="usd")], 1, "cost_currency", "not an ISO 4217 code"),
    ([_grant(cost_currency="EURO")], 1, "cost_currency", "not an ISO 4217 code"),
]
TRANSFER_CASES = [
    ([_transfer(transfer_id="")], 1, "transfer_id", "is empty"),
    ([_transfer(), _transfer()], 2, "transfer_id", "'T-1' repeats row 1"),
    ([_transfer(date="")], 1, "date", "is empty"),
    ([_transfer(date="2026-13-01")], 1, "date", "not a valid date"),
    ([_transfer(from_account="")], 1, "from_account", "is empty"),
    ([_transfer(to_account="")], 1, "to_account", "is empty"),
    ([_transfer(to_account="acme")], 1, "to_account", "'acme' is also the from_account"),
    ([_transfer(amount="")], 1, "amount", "is empty"),
    ([_transfer(amount="-1")], 1, "amount", "must be a decimal > 0"),
    ([_transfer(amount="0.0")], 1, "amount", "must be a decimal > 0"),
    ([_transfer(amount="1.0000001")], 1, "amount", "more than 6 decimal places"),
    ([_transfer(amount="ten")], 1, "amount", "not a plain decimal"),
]


def _assert_row_error(message: str, name: str, row: int, id_field: str, rows, field, text):
    ident = rows[row - 1][id_field]
    where = f"row {row} ({id_field} '{ident}')" if ident else f"row {row} field"
    assert message.startswith(name + ": "), message
    assert where in message, message
    assert f"field '{field}': " in message and text in message, message
    assert "; fix: " in message and "\n" not in message, message


@pytest.mark.parametrize(("rows", "row", "field", "text"), GRANT_CASES)
def test_grant_rules(tmp_path: Path, rows, row: int, field: str, text: str) -> None:
    path = _grants(tmp_path, *rows)
    with pytest.raises(ConfigError) as info:
        load_grants(tmp_path)
    assert info.value.exit_code == 2
    _assert_row_error(str(info.value), str(path), row, "grant_id", rows, field, text)


@pytest.mark.parametrize(("rows", "row", "field", "text"), TRANSFER_CASES)
def test_transfer_rules(tmp_path: Path, rows, row: int, field: str, text: str) -> None:
    path = _transfers(tmp_path, *rows)
    with pytest.raises(ConfigError) as info:
        load_transfers(tmp_path)
    _assert_row_error(str(info.value), str(path), row, "transfer_id", rows, field, text)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("grant_id,account_id,currency,effective_on\n", "column 'amount' is missing"),
        (",".join([*GRANT_COLUMNS, "colour"]) + "\n", "column 'colour': unknown column; fix:"),
        ("grant_id,account_id,currency,ammount,effective_on\n", "did you mean 'amount'?"),
        (",".join([*GRANT_COLUMNS, "amount"]) + "\n", "column 'amount' appears twice"),
        ("grant_id,,account_id,currency,amount,effective_on\n", "column 2 has no name"),
        ("", "empty file"),
        (
            _csv(GRANT_COLUMNS, [GOOD_GRANT]) + "G-2,a,b,1,2026-01-01" + "," * 10 + "extra\n",
            "more fields than the header",
        ),
    ],
)
def test_grant_file_problems(tmp_path: Path, text: str, expected: str) -> None:
    path = _write(tmp_path, "grants.csv", text)
    with pytest.raises(ConfigError) as info:
        load_grants(tmp_path)
    message = str(info.value)
    assert message.startswith(f"{path}: ") and expected in message and "fix: " in message
    assert "\n" not in message


def test_transfer_unknown_and_missing_columns(tmp_path: Path) -> None:
    _write(tmp_path, "transfers.csv", "transfer_id,date,from_account,to_account,amount,note\n")
    with pytest.raises(ConfigError, match=r"transfers\.csv: column 'note': unknown column; fix:"):
        load_transfers(tmp_path)
    _write(tmp_path, "transfers.csv", "transfer_id,date,from_account,amount\n")
    with pytest.raises(ConfigError, match=r"column 'to_account' is missing \(required\); fix:"):
        load_transfers(tmp_path)
