"""Credit ledger, balances, forecast and alerts (SPEC §3.3, §4, §5): tiny hand-written
grants, transfers and charges whose ledger entries, balances, forecasts and alerts are
computed by hand in the comments. Values are exact Decimals, never copied from a run.

Charges of an exact amount come from one `sum` plan per product with a single tier of
price 1 (credits = quantity); quantities are binary-exact floats (halves, quarters...).
Ledger rows are compared as (date, account, entry_type, grant_id, currency, amount,
product_code, grant_remaining) unless a test says otherwise.

The days run in memory (``charging_days`` then ``ledger_days``, writing OUT's layout), so
the burn, transfer, expiry, overdraft and balance goldens are in the fast suite; those
over many days (forecast windows), the CLI's own (a backfill over an existing OUT, the
user_limit alert, which needs the charging relations) and the Hypothesis run are slow.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import date, timedelta
from decimal import Decimal as D
from pathlib import Path

import duckdb
import polars as pl
import pytest
from charging_days import charge_days
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from ledger_days import Ledger

from flexbatch.serving.views import register_views

from helpers import (
    event,
    plan_toml,
    read_table,
    write_grants,
    write_plans,
    write_transfers,
    write_usage,
)

ONE_PRICE = "[ { above = 0, price = 1 } ]"
D1 = date(2026, 3, 1)


def day(n: int) -> str:
    """Day n of the test calendar: day(1) = 2026-03-01, day(31) = 2026-03-31."""
    return (D1 + timedelta(days=n - 1)).isoformat()


def plus(d: str, days: int) -> str:
    return (date.fromisoformat(d) + timedelta(days=days)).isoformat()


def sum_plans(*products: str) -> str:
    """One `sum` plan `P-<product>` per product, meter `m`, price 1."""
    return "".join(
        plan_toml(
            f"P-{p}",
            algorithm="sum",
            chargeable="resource",
            billing_period="day",
            meter="m",
            product=p,
            tiers=ONE_PRICE,
        )
        for p in products
    )


def charge(
    d: str, credits: float, *, account: str = "acme", product: str = "ADH", scope: str = "ns-1"
) -> dict:
    """One usage event charged `credits` credits on day `d` (through sum_plans)."""
    return event(
        f"{d}T01:00:00",
        account=account,
        scope=scope,
        product=product,
        meter="m",
        resource="r1",
        quantity=credits,
    )


def grant(grant_id: str, amount: str, effective_on: str = day(1), **kw: str) -> dict:
    """One grants.csv row (kw: account_id, currency, expires_on, priority, products...)."""
    return {
        "grant_id": grant_id,
        "account_id": "acme",
        "currency": "flex_credit",
        "amount": amount,
        "effective_on": effective_on,
        **kw,
    }


def job(
    tmp_path: Path,
    flexbatch,
    *,
    last: str,
    usage: Sequence[dict] = (),
    grants: list[dict] | None = None,
    transfers: list[dict] | None = None,
    plans: str | None = None,
    first: str = day(1),
    cli: bool = False,
) -> Path:
    """Write IN (a usage partition for every day first..last, empty where no event), run
    first..last (in memory, or a CLI backfill when ``cli``), return OUT."""
    inp, out = tmp_path / "in", tmp_path / "out"
    write_plans(inp, plans or sum_plans("ADH", "CONNECT", "ZZZ"))
    by_day: dict[str, list[dict]] = {}
    for row in usage:
        by_day.setdefault(row["ts"].date().isoformat(), []).append(row)
    d = first
    while d <= last:
        write_usage(inp, d, by_day.get(d, []))
        d = plus(d, 1)
    if grants is not None:
        write_grants(inp, grants)
    if transfers is not None:
        write_transfers(inp, transfers)
    if cli:
        args = ("backfill", "--from", first, "--to", last, "--input", str(inp))
        result = flexbatch(*args, "--output", str(out))
        assert result.exit_code == 0, result.stderr
        return out
    # in memory: the charging steps, then the ledger's, day by day (both write OUT's layout)
    days = charge_days(inp, out, date.fromisoformat(first), date.fromisoformat(last))
    credit = Ledger(tmp_path)  # IN's grants and transfers as written above
    for d, frames in days.items():
        credit.run(d, frames["charges"])
    return out


def table(out: Path, name: str) -> pl.DataFrame:
    frame = read_table(out, name)
    if "date" not in frame.columns:
        return frame
    return frame.with_columns(pl.col("date").cast(pl.Utf8))


LEDGER_COLS = (
    "account_id",
    "entry_type",
    "grant_id",
    "currency",
    "amount",
    "product_code",
    "grant_remaining",
)


def ledger(out: Path, *types: str, cols: tuple[str, ...] = LEDGER_COLS) -> list[tuple]:
    """Ledger rows as sorted (date, *cols) tuples, only `types` if given."""
    frame = table(out, "credit_ledger")
    if frame.is_empty():
        return []
    if types:
        frame = frame.filter(pl.col("entry_type").is_in(types))
    return srt(frame.select("date", *cols).iter_rows())


def _key(value: object) -> tuple[str, str]:
    if value is None:
        return ("", "")
    if isinstance(value, D):  # equal decimals sort alike whatever their scale
        return ("~", str(value.normalize()))
    return ("~", str(value))


def srt(rows: Iterable[tuple]) -> list[tuple]:
    """Rows sorted so that expected and actual rows come in the same order (None first)."""
    return sorted(rows, key=lambda row: tuple(_key(v) for v in row))


def txid(
    out: Path,
    d: str,
    product: str = "ADH",
    scope: str = "ns-1",
    account: str = "acme",
    plan: str | None = None,
    tier: int = 1,
) -> str:
    """The transaction_id of the charge row (d, account, product, scope, plan, tier)."""
    frame = table(out, "charges").filter(
        (pl.col("date") == d)
        & (pl.col("account_id") == account)
        & (pl.col("product_code") == product)
        & (pl.col("scope_id") == scope)
        & (pl.col("plan_id") == (plan or f"P-{product}"))
        & (pl.col("tier") == tier)
    )
    assert frame.height == 1, frame
    return frame["transaction_id"][0]


def balances(out: Path) -> dict[tuple[str, str, str], dict]:
    """Balance rows by (date, account_id, currency)."""
    return {
        (r["date"], r["account_id"], r["currency"]): r
        for r in table(out, "balances").iter_rows(named=True)
    }


def alerts(out: Path, *kinds: str) -> list[tuple]:
    """Alerts as sorted (date, account_id, kind, ref, amount), only `kinds` if given."""
    frame = table(out, "alerts")
    if frame.is_empty():
        return []
    if kinds:
        frame = frame.filter(pl.col("kind").is_in(kinds))
    return srt(frame.select("date", "account_id", "kind", "ref", "amount").iter_rows())


def forecast(out: Path, as_of: str) -> pl.DataFrame:
    """The day-by-day forecast as of a day as readers see it: the view forecast_daily (the
    curve, computed on read) with the published compact row's burn_rate and
    depletion_date."""
    files = sorted((out / "forecast" / f"as_of={as_of}").glob("*.parquet"))
    assert files, f"no forecast partition as_of={as_of}"
    assert pl.read_parquet(files[0]).columns == [
        "account_id", "currency", "burn_rate", "depletion_date",
        "projected_available_30d", "projected_available_60d", "projected_available_90d",
    ]  # fmt: skip
    con = duckdb.connect()
    register_views(con, out)
    return con.sql(
        "select d.account_id, d.currency, d.date, d.projected_available, f.burn_rate, "
        "f.depletion_date, f.projected_available_30d, f.projected_available_60d, "
        "f.projected_available_90d from forecast_daily as d "
        "inner join forecast as f using (as_of, account_id, currency) "
        "where d.as_of = cast(? as date) order by d.account_id, d.currency, d.date",
        params=[as_of],
    ).pl()


# 1. burn order (SPEC §4 step 4) ----------------------------------------------------------

BURN_ORDER_CASES = {
    # priority ascending beats grant_id: G-B (priority 1) before G-A (priority 5)
    # charge 12: G-B 10 -> 0, G-A 2 -> 8
    "priority": (
        [grant("G-A", "10", priority="5"), grant("G-B", "10", priority="1")],
        [(1, 12.0)],
        [("G-B", "-10", "0"), ("G-A", "-2", "8")],
    ),
    # priority beats expiry: G-A (priority 1, never expires) before G-B (priority 10, soon)
    # charge 6: G-A 5 -> 0, G-B 1 -> 4
    "priority_before_expiry": (
        [grant("G-A", "5", priority="1"), grant("G-B", "5", expires_on="2026-03-20")],
        [(1, 6.0)],
        [("G-A", "-5", "0"), ("G-B", "-1", "4")],
    ),
    # equal priority: earliest expiry first, never-expiring last
    # charge 12: G-C (04-10) 5 -> 0, G-B (04-30) 5 -> 0, G-A (never) 2 -> 3
    "expiry": (
        [
            grant("G-A", "5"),
            grant("G-B", "5", expires_on="2026-04-30"),
            grant("G-C", "5", expires_on="2026-04-10"),
        ],
        [(1, 12.0)],
        [("G-C", "-5", "0"), ("G-B", "-5", "0"), ("G-A", "-2", "3")],
    ),
    # expiry beats cost: the paid G-B expiring 06-01 before the free never-expiring G-A
    # charge 6: G-B 5 -> 0, G-A 1 -> 4
    "expiry_before_cost": (
        [
            grant("G-A", "5", unit_cost="0"),
            grant("G-B", "5", unit_cost="2", expires_on="2026-06-01"),
        ],
        [(1, 6.0)],
        [("G-B", "-5", "0"), ("G-A", "-1", "4")],
    ),
    # same priority and expiry: free (unit_cost empty = 0) before 0.5 before 0.9
    # charge 12: G-B 5 -> 0, G-C 5 -> 0, G-A 2 -> 3
    "free_before_paid": (
        [
            grant("G-A", "5", unit_cost="0.9"),
            grant("G-B", "5"),
            grant("G-C", "5", unit_cost="0.5"),
        ],
        [(1, 12.0)],
        [("G-B", "-5", "0"), ("G-C", "-5", "0"), ("G-A", "-2", "3")],
    ),
    # then effective_on: on day 2, G-B (effective day 1) before G-A (effective day 2)
    # charge 6 on day 2: G-B 5 -> 0, G-A 1 -> 4
    "effective_on": (
        [grant("G-A", "5", effective_on=day(2)), grant("G-B", "5")],
        [(2, 6.0)],
        [("G-B", "-5", "0"), ("G-A", "-1", "4")],
    ),
    # then grant_id: G-C before G-D; charge 6: G-C 5 -> 0, G-D 1 -> 4
    "grant_id": (
        [grant("G-D", "5"), grant("G-C", "5")],
        [(1, 6.0)],
        [("G-C", "-5", "0"), ("G-D", "-1", "4")],
    ),
}


@pytest.mark.parametrize("case", list(BURN_ORDER_CASES))
def test_burn_order(tmp_path, flexbatch, case):
    grants, charges, expected = BURN_ORDER_CASES[case]
    out = job(
        tmp_path,
        flexbatch,
        last=day(2),
        usage=[charge(day(n), credits) for n, credits in charges],
        grants=grants,
    )
    charge_day = day(charges[0][0])
    ref = txid(out, charge_day)
    cols = ("grant_id", "amount", "grant_remaining", "ref", "product_code", "currency")
    got = ledger(out, "consume", cols=cols)
    assert got == srt(
        (charge_day, g, D(a), D(r), ref, "ADH", "flex_credit") for g, a, r in expected
    )
    assert ledger(out, "overdraft") == []


def test_grant_effective_mid_period_is_used_from_its_first_day(tmp_path, flexbatch):
    # G-LATE (priority 1, effective day 2) would burn first but does not exist on day 1.
    # day 1: charge 3 from G-BASE -> 7.  day 2: G-LATE +10; charge 3 from G-LATE -> 7.
    out = job(
        tmp_path,
        flexbatch,
        last=day(2),
        usage=[charge(day(1), 3.0), charge(day(2), 3.0)],
        grants=[
            grant("G-LATE", "10", effective_on=day(2), priority="1"),
            grant("G-BASE", "10"),
        ],
    )
    fc = "flex_credit"
    assert ledger(out) == srt(
        [
            (day(1), "acme", "grant", "G-BASE", fc, D(10), None, D(10)),
            (day(1), "acme", "consume", "G-BASE", fc, D(-3), "ADH", D(7)),
            (day(2), "acme", "grant", "G-LATE", fc, D(10), None, D(10)),
            (day(2), "acme", "consume", "G-LATE", fc, D(-3), "ADH", D(7)),
        ]
    )


def test_cloud_credits_first_until_they_expire_then_flex_tokens(tmp_path, flexbatch):
    # Z-CLOUD: cloud_credit 10, priority defaults to 0, expires day 3 (exclusive);
    # A-TOKEN: flex_token 100, priority defaults to 10 (the grant_id would put it first).
    # day 1: 4 from Z-CLOUD -> 6; day 2: 4 -> 2; day 3: Z-CLOUD expires its 2 first, then
    # 4 from A-TOKEN -> 96.
    out = job(
        tmp_path,
        flexbatch,
        last=day(3),
        usage=[charge(day(n), 4.0) for n in (1, 2, 3)],
        grants=[
            grant("Z-CLOUD", "10", currency="cloud_credit", expires_on=day(3)),
            grant("A-TOKEN", "100", currency="flex_token"),
        ],
    )
    cc, ft = "cloud_credit", "flex_token"
    assert ledger(out, "consume", "expire") == srt(
        [
            (day(1), "acme", "consume", "Z-CLOUD", cc, D(-4), "ADH", D(6)),
            (day(2), "acme", "consume", "Z-CLOUD", cc, D(-4), "ADH", D(2)),
            (day(3), "acme", "expire", "Z-CLOUD", cc, D(-2), None, D(0)),
            (day(3), "acme", "consume", "A-TOKEN", ft, D(-4), "ADH", D(96)),
        ]
    )
    bal = balances(out)
    assert bal[(day(3), "acme", cc)]["available"] == D(0)
    assert bal[(day(3), "acme", cc)]["expired"] == D(2)
    assert bal[(day(3), "acme", ft)]["available"] == D(96)
    assert bal[(day(2), "acme", ft)]["consumed"] == D(0)


def test_product_restricted_grant_only_pays_for_its_products(tmp_path, flexbatch):
    # acme: G-ADH (priority 1, products ADH) goes first for ADH, is skipped for CONNECT.
    #   ADH 3: G-ADH -> 7.  CONNECT 4: G-ALL -> 6 (G-ADH keeps 7).
    # beta: only B-ADH (flex_token, products ADH): CONNECT 4 may use no grant, so all 4
    #   are overdraft in flex_credit (not flex_token); B-ADH keeps its 5.
    out = job(
        tmp_path,
        flexbatch,
        last=day(1),
        usage=[
            charge(day(1), 3.0),
            charge(day(1), 4.0, product="CONNECT"),
            charge(day(1), 4.0, product="CONNECT", account="beta"),
        ],
        grants=[
            grant("G-ADH", "10", priority="1", products="ADH"),
            grant("G-ALL", "10"),
            grant("B-ADH", "5", account_id="beta", currency="flex_token", products="ADH"),
        ],
    )
    fc = "flex_credit"
    assert ledger(out, "consume", "overdraft") == srt(
        [
            (day(1), "acme", "consume", "G-ADH", fc, D(-3), "ADH", D(7)),
            (day(1), "acme", "consume", "G-ALL", fc, D(-4), "CONNECT", D(6)),
            (day(1), "beta", "overdraft", None, fc, D(-4), "CONNECT", None),
        ]
    )
    assert balances(out)[(day(1), "beta", "flex_token")]["available"] == D(5)


def test_products_burn_in_ascending_product_code(tmp_path, flexbatch):
    # one flex_token grant of 5; ZZZ charged 4 and ADH 3 on the same day.
    # ADH first: 3 -> 2 left; ZZZ: 2 -> 0, 2 overdraft in flex_token (the currency of the
    # last grant ZZZ could use).
    out = job(
        tmp_path,
        flexbatch,
        last=day(1),
        usage=[charge(day(1), 4.0, product="ZZZ"), charge(day(1), 3.0)],
        grants=[grant("G", "5", currency="flex_token")],
    )
    ft = "flex_token"
    cols = (
        "entry_type",
        "grant_id",
        "currency",
        "amount",
        "product_code",
        "grant_remaining",
        "ref",
    )
    adh, zzz = txid(out, day(1)), txid(out, day(1), "ZZZ")
    assert ledger(out, "consume", "overdraft", cols=cols) == srt(
        [
            (day(1), "consume", "G", ft, D(-3), "ADH", D(2), adh),
            (day(1), "consume", "G", ft, D(-2), "ZZZ", D(0), zzz),
            (day(1), "overdraft", None, ft, D(-2), "ZZZ", None, zzz),
        ]
    )


def test_charges_of_a_product_burn_in_scope_plan_tier_order(tmp_path, flexbatch):
    # ADH plans: P-ADH (price 1) and P-ADH-B (meter m2: 1 unit at 1, then 2 per unit).
    # Charges: (ns-2, P-ADH, 1) 3; (ns-1, P-ADH-B) 2 units -> tier 1: 1, tier 2: 2;
    # (ns-1, P-ADH, 1) 2. One grant of 4, burnt in (scope, plan, tier) order:
    # (ns-1, P-ADH, 1) 2 -> 2 left; (ns-1, P-ADH-B, 1) 1 -> 1 left;
    # (ns-1, P-ADH-B, 2) 1 -> 0 and 1 overdraft; (ns-2, P-ADH, 1) 3 overdraft.
    plans = sum_plans("ADH") + plan_toml(
        "P-ADH-B",
        algorithm="sum",
        chargeable="resource",
        billing_period="day",
        meter="m2",
        product="ADH",
        tiers="[ { above = 0, price = 1 }, { above = 1, price = 2 } ]",
    )
    second_meter = charge(day(1), 2.0)
    second_meter["meter"] = "m2"
    out = job(
        tmp_path,
        flexbatch,
        last=day(1),
        plans=plans,
        usage=[charge(day(1), 3.0, scope="ns-2"), second_meter, charge(day(1), 2.0)],
        grants=[grant("G", "4")],
    )
    a = txid(out, day(1))
    b1 = txid(out, day(1), plan="P-ADH-B", tier=1)
    b2 = txid(out, day(1), plan="P-ADH-B", tier=2)
    c = txid(out, day(1), scope="ns-2")
    cols = ("entry_type", "grant_id", "amount", "grant_remaining", "ref")
    assert ledger(out, "consume", "overdraft", cols=cols) == srt(
        [
            (day(1), "consume", "G", D(-2), D(2), a),
            (day(1), "consume", "G", D(-1), D(1), b1),
            (day(1), "consume", "G", D(-1), D(0), b2),
            (day(1), "overdraft", None, D(-1), None, b2),
            (day(1), "overdraft", None, D(-3), None, c),
        ]
    )


# 2. expiry (SPEC §4 step 1) --------------------------------------------------------------


def test_expiry_writes_off_the_exact_remaining_on_expires_on(tmp_path, flexbatch):
    # G-EXP 10 expires day 3 (exclusive), burns first; G-LONG 10 never expires.
    # day 1: 2.5 from G-EXP -> 7.5; day 2: 1.25 -> 6.25;
    # day 3: expire G-EXP -6.25 (remaining 0), then 1 from G-LONG -> 9.
    out = job(
        tmp_path,
        flexbatch,
        last=day(3),
        usage=[charge(day(1), 2.5), charge(day(2), 1.25), charge(day(3), 1.0)],
        grants=[grant("G-EXP", "10", expires_on=day(3)), grant("G-LONG", "10")],
    )
    fc = "flex_credit"
    assert ledger(out) == srt(
        [
            (day(1), "acme", "grant", "G-EXP", fc, D(10), None, D(10)),
            (day(1), "acme", "grant", "G-LONG", fc, D(10), None, D(10)),
            (day(1), "acme", "consume", "G-EXP", fc, D("-2.5"), "ADH", D("7.5")),
            (day(2), "acme", "consume", "G-EXP", fc, D("-1.25"), "ADH", D("6.25")),
            (day(3), "acme", "expire", "G-EXP", fc, D("-6.25"), None, D(0)),
            (day(3), "acme", "consume", "G-LONG", fc, D(-1), "ADH", D(9)),
        ]
    )
    expire = table(out, "credit_ledger").filter(pl.col("entry_type") == "expire")
    assert expire["ref"].to_list() == [None]
    # day 3: opening 6.25 + 10 = 16.25, expired 6.25, consumed 1 -> 9
    b3 = balances(out)[(day(3), "acme", fc)]
    assert (b3["opening"], b3["expired"], b3["consumed"], b3["available"]) == (
        D("16.25"),
        D("6.25"),
        D(1),
        D(9),
    )
    assert (b3["expired_total"], b3["used_total"], b3["purchased_total"]) == (
        D("6.25"),
        D("4.75"),
        D(20),
    )


# 3. transfers (SPEC §4 step 3) -----------------------------------------------------------


def transfer(transfer_id: str, d: str, amount: str, **kw: str) -> dict:
    return {
        "transfer_id": transfer_id,
        "date": d,
        "from_account": "acme",
        "to_account": "beta",
        "amount": amount,
        **kw,
    }


def test_transfer_moves_slices_in_burn_order_and_keeps_their_terms(tmp_path, flexbatch):
    # acme: G-1 10 (priority 5, expires day 5, products ADH), G-2 10 (priority 10).
    # day 1: acme ADH 2 from G-1 -> 8.
    # day 2: T-1 acme -> beta 15: G-1 8 -> 0 then G-2 7 -> 3; beta gets G-1@T-1 (8) and
    #        G-2@T-1 (7), same priority, expiry, currency and products.
    # day 3: T-2 acme -> beta 4 > 3 held: rejected whole, nothing moved.
    #        beta ADH 1: G-1@T-1 (priority 5) -> 7; beta CONNECT 9: G-1@T-1 is ADH-only,
    #        so G-2@T-1 7 -> 0 and 2 overdraft.
    # day 5: G-1@T-1 expires with its 7.
    out = job(
        tmp_path,
        flexbatch,
        last=day(5),
        usage=[
            charge(day(1), 2.0),
            charge(day(3), 1.0, account="beta"),
            charge(day(3), 9.0, account="beta", product="CONNECT"),
        ],
        grants=[
            grant("G-1", "10", priority="5", expires_on=day(5), products="ADH"),
            grant("G-2", "10"),
        ],
        transfers=[transfer("T-1", day(2), "15"), transfer("T-2", day(3), "4")],
    )
    fc = "flex_credit"
    cols = ("account_id", "entry_type", "grant_id", "amount", "product_code", "grant_remaining")
    assert ledger(out, cols=cols) == srt(
        [
            (day(1), "acme", "grant", "G-1", D(10), None, D(10)),
            (day(1), "acme", "grant", "G-2", D(10), None, D(10)),
            (day(1), "acme", "consume", "G-1", D(-2), "ADH", D(8)),
            (day(2), "acme", "transfer_out", "G-1", D(-8), None, D(0)),
            (day(2), "acme", "transfer_out", "G-2", D(-7), None, D(3)),
            (day(2), "beta", "transfer_in", "G-1@T-1", D(8), None, D(8)),
            (day(2), "beta", "transfer_in", "G-2@T-1", D(7), None, D(7)),
            (day(3), "beta", "consume", "G-1@T-1", D(-1), "ADH", D(7)),
            (day(3), "beta", "consume", "G-2@T-1", D(-7), "CONNECT", D(0)),
            (day(3), "beta", "overdraft", None, D(-2), "CONNECT", None),
            (day(5), "beta", "expire", "G-1@T-1", D(-7), None, D(0)),
        ]
    )
    frame = table(out, "credit_ledger")
    moves = frame.filter(pl.col("entry_type").is_in(["transfer_out", "transfer_in"]))
    assert set(moves["ref"]) == {"T-1"}
    assert set(frame["currency"]) == {fc}
    assert frame.filter(pl.col("ref") == "T-2").is_empty()
    # the receiver's slices keep the sender's terms
    state = pl.read_parquet(out / "_state/grants" / f"date={day(2)}" / "part-0.parquet")
    got = {
        r["grant_id"]: (r["currency"], r["priority"], r["expires_on"], r["remaining"])
        for r in state.filter(pl.col("account_id") == "beta").iter_rows(named=True)
    }
    assert got == {
        "G-1@T-1": (fc, 5, date.fromisoformat(day(5)), D(8)),
        "G-2@T-1": (fc, 10, None, D(7)),
    }
    assert alerts(out, "transfer_rejected") == [(day(3), "acme", "transfer_rejected", "T-2", D(4))]
    bal = balances(out)
    assert (day(1), "beta", fc) not in bal  # beta's first activity is day 2
    b2a, b2b = bal[(day(2), "acme", fc)], bal[(day(2), "beta", fc)]
    assert (b2a["transferred_out"], b2a["available"], b2a["purchased_total"]) == (
        D(15),
        D(3),
        D(5),
    )
    assert (b2b["transferred_in"], b2b["available"], b2b["purchased_total"]) == (
        D(15),
        D(15),
        D(15),
    )
    b3a = bal[(day(3), "acme", fc)]
    assert (b3a["transferred_out"], b3a["available"]) == (D(0), D(3))


def test_transfer_in_one_currency_draws_only_from_it(tmp_path, flexbatch):
    # acme: C cloud_credit 5 (priority 0, first in burn order), F flex_credit 10.
    # T-1 of 4 flex_credit: F 4 -> 6; beta gets F@T-1 (4). C is untouched.
    out = job(
        tmp_path,
        flexbatch,
        last=day(1),
        grants=[grant("C", "5", currency="cloud_credit"), grant("F", "10")],
        transfers=[transfer("T-1", day(1), "4", currency="flex_credit")],
    )
    assert ledger(out, "transfer_in", "transfer_out") == srt(
        [
            (day(1), "acme", "transfer_out", "F", "flex_credit", D(-4), None, D(6)),
            (day(1), "beta", "transfer_in", "F@T-1", "flex_credit", D(4), None, D(4)),
        ]
    )


def test_transfer_boundaries_and_chains_in_transfer_id_order(tmp_path, flexbatch):
    # acme G 3 on day 1; transfers of day 1 run in transfer_id order:
    # T-0 beta -> gamma 1: beta holds nothing yet -> rejected.
    # T-1 acme -> beta 3.000001: one millionth more than acme holds -> rejected.
    # T-2 acme -> beta 3: exactly acme's balance -> G 3 -> 0, beta G@T-2 3.
    # T-3 beta -> gamma 2: passes on part of what beta just received -> G@T-2 1,
    #     gamma G@T-2@T-3 2.
    out = job(
        tmp_path,
        flexbatch,
        last=day(1),
        grants=[grant("G", "3")],
        transfers=[
            transfer("T-0", day(1), "1", from_account="beta", to_account="gamma"),
            transfer("T-1", day(1), "3.000001"),
            transfer("T-2", day(1), "3"),
            transfer("T-3", day(1), "2", from_account="beta", to_account="gamma"),
        ],
    )
    cols = ("account_id", "entry_type", "grant_id", "amount", "grant_remaining", "ref")
    assert ledger(out, "transfer_in", "transfer_out", cols=cols) == srt(
        [
            (day(1), "acme", "transfer_out", "G", D(-3), D(0), "T-2"),
            (day(1), "beta", "transfer_in", "G@T-2", D(3), D(3), "T-2"),
            (day(1), "beta", "transfer_out", "G@T-2", D(-2), D(1), "T-3"),
            (day(1), "gamma", "transfer_in", "G@T-2@T-3", D(2), D(2), "T-3"),
        ]
    )
    assert alerts(out, "transfer_rejected") == [
        (day(1), "acme", "transfer_rejected", "T-1", D("3.000001")),
        (day(1), "beta", "transfer_rejected", "T-0", D(1)),
    ]
    bal = balances(out)
    assert [bal[(day(1), a, "flex_credit")]["available"] for a in ("acme", "beta", "gamma")] == [
        D(0),
        D(1),
        D(2),
    ]


# 4. overdraft (SPEC §4 step 4) -----------------------------------------------------------


@pytest.mark.slow
def test_overdraft_without_any_grant(tmp_path, flexbatch):
    # no grants file: every charge is overdraft in flex_credit.
    # day 1: 5 overdraft (alert); day 2: 1 more (still in overdraft: no alert);
    # day 3: G 10 arrives and pays 1 -> 9 (out of overdraft);
    # day 4: 12 charged: 9 from G, 3 overdraft -> a new overdraft alert.
    inp = tmp_path / "in"
    out = job(
        tmp_path,
        flexbatch,
        last=day(2),
        usage=[charge(day(1), 5.0), charge(day(2), 1.0)],
        cli=True,
    )
    fc = "flex_credit"
    cols = (
        "entry_type",
        "grant_id",
        "currency",
        "amount",
        "product_code",
        "grant_remaining",
        "ref",
    )
    assert ledger(out, cols=cols) == srt(
        [
            (day(1), "overdraft", None, fc, D(-5), "ADH", None, txid(out, day(1))),
            (day(2), "overdraft", None, fc, D(-1), "ADH", None, txid(out, day(2))),
        ]
    )
    bal = balances(out)
    b1, b2 = bal[(day(1), "acme", fc)], bal[(day(2), "acme", fc)]
    assert (b1["available"], b1["overdraft"], b1["overdraft_total"], b1["consumed"]) == (
        D(0),
        D(5),
        D(5),
        D(0),
    )
    assert (b1["purchased_total"], b1["band"], b1["available_pct"], b1["in_overdraft"]) == (
        D(0),
        "red",
        None,
        True,
    )
    assert (b2["overdraft"], b2["overdraft_total"], b2["in_overdraft"]) == (D(1), D(6), True)
    # now credits arrive on day 3
    write_grants(inp, [grant("G", "10", effective_on=day(3))])
    write_usage(inp, day(3), [charge(day(3), 1.0)])
    write_usage(inp, day(4), [charge(day(4), 12.0)])
    args = ("--input", str(inp), "--output", str(out))
    result = flexbatch("backfill", "--from", day(1), "--to", day(4), *args)
    assert result.exit_code == 0, result.stderr
    later = [e for e in ledger(out, "consume", "overdraft", cols=cols) if e[0] >= day(3)]
    assert later == srt(
        [
            (day(3), "consume", "G", fc, D(-1), "ADH", D(9), txid(out, day(3))),
            (day(4), "consume", "G", fc, D(-9), "ADH", D(0), txid(out, day(4))),
            (day(4), "overdraft", None, fc, D(-3), "ADH", None, txid(out, day(4))),
        ]
    )
    bal = balances(out)
    assert [bal[(day(n), "acme", fc)]["in_overdraft"] for n in (1, 2, 3, 4)] == [
        True,
        True,
        False,
        True,
    ]
    assert bal[(day(4), "acme", fc)]["overdraft_total"] == D(9)  # 5 + 1 + 3
    assert alerts(out, "overdraft") == [
        (day(1), "acme", "overdraft", fc, D(5)),
        (day(4), "acme", "overdraft", fc, D(3)),
    ]
    # purchased_total 0 on days 1-2: never low_balance; day 4: 0 of 10 -> red
    assert alerts(out, "low_balance") == [(day(4), "acme", "low_balance", fc, D(0))]


def test_too_few_credits_part_consumed_rest_overdraft(tmp_path, flexbatch):
    # G 3 flex_token; ADH charged 5: 3 consumed, 2 overdraft in flex_token.
    out = job(
        tmp_path,
        flexbatch,
        last=day(1),
        usage=[charge(day(1), 5.0)],
        grants=[grant("G", "3", currency="flex_token")],
    )
    ref = txid(out, day(1))
    cols = ("entry_type", "grant_id", "currency", "amount", "grant_remaining", "ref")
    entries = ledger(out, "consume", "overdraft", cols=cols)
    assert entries == srt(
        [
            (day(1), "consume", "G", "flex_token", D(-3), D(0), ref),
            (day(1), "overdraft", None, "flex_token", D(-2), None, ref),
        ]
    )
    assert -sum(e[4] for e in entries) == D(5)  # consume + overdraft = charged
    b = balances(out)[(day(1), "acme", "flex_token")]
    assert (b["consumed"], b["overdraft"], b["available"], b["in_overdraft"]) == (
        D(3),
        D(2),
        D(0),
        True,
    )


# 5. balances (SPEC §5) -------------------------------------------------------------------

BALANCE_COLS = (
    "opening",
    "granted",
    "transferred_in",
    "transferred_out",
    "consumed",
    "expired",
    "overdraft",
    "available",
    "overdraft_total",
    "purchased_total",
    "used_total",
    "expired_total",
    "available_pct",
    "band",
    "expiring_90d",
    "in_overdraft",
)


def test_balances_every_column(tmp_path, flexbatch):
    # flex_credit grants on day 1 (2026-03-01; +90 days = 05-30):
    #   G-1 100 never expires; G-2 50 expires 05-30 (= day 1 + 90: in day 1's window);
    #   G-3 40 expires 05-31 (= day 1 + 91: not in day 1's window, in day 2's).
    # day 1: 30 charged from G-2 (earliest expiry) -> G-2 20. available 160 of 190:
    #        160/190 = 84.2105..% -> 84.21, green; expiring_90d = G-2 20.
    # day 2: no usage, a row all the same: opening 160; expiring_90d = 20 + G-3 40 = 60.
    # day 3: 45 charged: G-2 20 -> 0, G-3 25 -> 15. available 160 - 45 = 115 of 190:
    #        60.5263..% -> 60.53, green; used 75; expiring_90d = G-3 15.
    z = D(0)
    out = job(
        tmp_path,
        flexbatch,
        last=day(3),
        usage=[charge(day(1), 30.0), charge(day(3), 45.0)],
        grants=[
            grant("G-1", "100"),
            grant("G-2", "50", expires_on="2026-05-30"),
            grant("G-3", "40", expires_on="2026-05-31"),
        ],
    )
    frame = table(out, "balances")
    assert frame.schema["available_pct"] == pl.Decimal(9, 2)
    assert frame.schema["available"] == pl.Decimal(38, 6)
    got = {r["date"]: tuple(r[c] for c in BALANCE_COLS) for r in frame.iter_rows(named=True)}
    assert set(frame["account_id"]) == {"acme"}
    assert set(frame["currency"]) == {"flex_credit"}
    assert got == {
        # opening granted in out consumed expired overdraft available
        # overdraft_total purchased used expired_total pct band expiring_90d in_overdraft
        day(1): (z, D(190), z, z, D(30), z, z, D(160))
        + (z, D(190), D(30), z, D("84.21"), "green", D(20), False),
        day(2): (D(160), z, z, z, z, z, z, D(160))
        + (z, D(190), D(30), z, D("84.21"), "green", D(60), False),
        day(3): (D(160), z, z, z, D(45), z, z, D(115))
        + (z, D(190), D(75), z, D("60.53"), "green", D(15), False),
    }


def test_band_turns_red_at_exactly_20_percent(tmp_path, flexbatch):
    # G 100. day 1: 79 -> 21 left: 21 > 20 green (21.00 %).
    # day 2: 1 -> 20 = exactly 20 % of 100: red (20.00 %), low_balance raised.
    # day 3: 1 -> 19: red (19.00 %), no second low_balance.
    out = job(
        tmp_path,
        flexbatch,
        last=day(3),
        usage=[charge(day(1), 79.0), charge(day(2), 1.0), charge(day(3), 1.0)],
        grants=[grant("G", "100")],
    )
    bal = balances(out)
    got = [
        tuple(
            bal[(day(n), "acme", "flex_credit")][c] for c in ("available", "available_pct", "band")
        )
        for n in (1, 2, 3)
    ]
    assert got == [
        (D(21), D("21.00"), "green"),
        (D(20), D("20.00"), "red"),
        (D(19), D("19.00"), "red"),
    ]
    assert alerts(out, "low_balance") == [(day(2), "acme", "low_balance", "flex_credit", D(20))]


# 6. forecast (SPEC §5) -------------------------------------------------------------------


def _projection(out: Path, as_of: str) -> tuple[list[tuple], set]:
    """(date, projected_available) rows and the set of (burn_rate, depletion_date)."""
    frame = forecast(out, as_of)
    assert set(frame["account_id"]) == {"acme"}
    assert set(frame["currency"]) == {"flex_credit"}
    rows = [(d.isoformat(), p) for d, p in frame.select("date", "projected_available").iter_rows()]
    # the published 30/60/90-day columns are the curve's points on those days
    for days in (30, 60, 90):
        assert set(frame[f"projected_available_{days}d"]) == {rows[days - 1][1]}
    summary = {
        (r, None if d is None else d.isoformat())
        for r, d in frame.select("burn_rate", "depletion_date").iter_rows()
    }
    return rows, summary


@pytest.mark.slow
def test_forecast_constant_burn(tmp_path, flexbatch):
    # G 201; 4 charged every day 1..5. As of day 5 (03-05): available 201 - 20 = 181,
    # burn_rate 20 / 5 days = 4. projected(03-05 + k) = 181 - 4k for k = 1..90;
    # 181 / 4 = 45.25: k = 45 leaves 1, k = 46 is -3 -> depletion 03-05 + 46 = 04-20.
    out = job(
        tmp_path,
        flexbatch,
        last=day(5),
        usage=[charge(day(n), 4.0) for n in range(1, 6)],
        grants=[grant("G", "201")],
    )
    rows, summary = _projection(out, day(5))
    assert rows == [(plus(day(5), k), D(181) - 4 * k) for k in range(1, 91)]
    assert summary == {(D(4), "2026-04-20")}
    # as of day 1: 197 at 4 a day -> 49.25 -> k = 50 -> 04-20 as well
    assert _projection(out, day(1))[1] == {(D(4), "2026-04-20")}
    assert sorted(p.name for p in (out / "forecast").iterdir()) == [
        f"as_of={day(n)}" for n in range(1, 6)
    ]
    assert alerts(out, "depletion_forecast") == []  # 46 days > 30


@pytest.mark.slow
def test_forecast_writes_off_an_expiry_behind_in_burn_order(tmp_path, flexbatch):
    # G-LONG 100 (priority 5, never expires) burns before G-EXP 30 (priority 10, expires
    # 03-15). 4 charged a day on days 1..5 from G-LONG -> 80. As of 03-05: available 110,
    # burn 4. Before 03-15 the burn only reaches G-LONG, so G-EXP's 30 are written off on
    # 03-15: projected = 110 - 4k before 03-15 (k < 10), 80 - 4k from 03-15 on.
    # 80 - 4k <= 0 first at k = 20 -> 03-25. The ledger, run on through 03-15 at the same
    # burn, agrees.
    out = job(
        tmp_path,
        flexbatch,
        last=day(15),
        usage=[charge(day(n), 4.0) for n in range(1, 16)],
        grants=[
            grant("G-LONG", "100", priority="5"),
            grant("G-EXP", "30", expires_on="2026-03-15"),
        ],
    )
    # what the ledger did: 110 - 4k on days 6..14, then 30 expired and 4 burnt on 03-15
    assert ledger(out, "expire") == [
        ("2026-03-15", "acme", "expire", "G-EXP", "flex_credit", D(-30), None, D(0))
    ]
    bal = balances(out)
    assert [bal[(day(5 + k), "acme", "flex_credit")]["available"] for k in range(1, 11)] == [
        D(110) - 4 * k for k in range(1, 10)
    ] + [D(40)]
    rows, summary = _projection(out, day(5))
    assert rows == [
        (plus(day(5), k), D(110) - 4 * k if k < 10 else D(80) - 4 * k) for k in range(1, 91)
    ]
    assert summary == {(D(4), "2026-03-25")}


@pytest.mark.slow
def test_forecast_expiry_first_in_burn_order_is_partly_burnt(tmp_path, flexbatch):
    # G-EXP 58 (expires 03-15, so first in burn order) and G-LONG 100 (never expires).
    # 4 charged a day on days 1..5 from G-EXP -> 38. As of 03-05: available 138, burn 4.
    # G-EXP pays the burn of 03-06..03-14 (9 days, 36: expires_on is exclusive and the
    # expiry runs before the day's burn), so 2 are written off on 03-15:
    # projected = 138 - 4k for k < 10, 136 - 4k from 03-15 on; 136 - 4k <= 0 first at
    # k = 34 -> 04-08. The ledger, run on through 03-15 at the same burn, agrees.
    out = job(
        tmp_path,
        flexbatch,
        last=day(15),
        usage=[charge(day(n), 4.0) for n in range(1, 16)],
        grants=[grant("G-EXP", "58", expires_on="2026-03-15"), grant("G-LONG", "100")],
    )
    assert ledger(out, "expire") == [
        ("2026-03-15", "acme", "expire", "G-EXP", "flex_credit", D(-2), None, D(0))
    ]
    bal = balances(out)
    assert bal[("2026-03-15", "acme", "flex_credit")]["available"] == D(96)  # 158 - 60 - 2
    rows, summary = _projection(out, day(5))
    assert rows == [
        (plus(day(5), k), D(138) - 4 * k if k < 10 else D(136) - 4 * k) for k in range(1, 91)
    ]
    assert summary == {(D(4), "2026-04-08")}


@pytest.mark.slow
def test_burn_rate_is_the_mean_over_days_observed(tmp_path, flexbatch):
    # acme (first activity day 1): 6 on day 1, 4 on day 3 -> as of day 3 10 / 3 days
    # = 3.333333 (6 places). beta (first activity day 2, its grant): 2 on day 2, 5 on
    # day 3 -> 7 / 2 days = 3.5.
    out = job(
        tmp_path,
        flexbatch,
        last=day(3),
        usage=[
            charge(day(1), 6.0),
            charge(day(3), 4.0),
            charge(day(2), 2.0, account="beta"),
            charge(day(3), 5.0, account="beta"),
        ],
        grants=[grant("GA", "1000"), grant("GB", "1000", account_id="beta", effective_on=day(2))],
    )
    frame = forecast(out, day(3))
    rates = {(a, r) for a, r in frame.select("account_id", "burn_rate").iter_rows()}
    assert rates == {("acme", D("3.333333")), ("beta", D("3.5"))}
    assert frame.height == 2 * 90


@pytest.mark.slow
def test_forecast_without_burn_only_expiries_deplete(tmp_path, flexbatch):
    # no usage: burn 0. acme G-1 30 expires 03-20 and G-2 20 expires 2026-09-01 (within
    # 365 days, beyond the 90-day horizon); beta G-3 5 never expires.
    # As of day 3 (03-03): acme projected 50 until 03-19, 20 from 03-20 to 06-01 (k = 90);
    # depletion on 09-01 when the last 20 expire. beta: 5 every day, no depletion.
    out = job(
        tmp_path,
        flexbatch,
        last=day(3),
        grants=[
            grant("G-1", "30", expires_on="2026-03-20"),
            grant("G-2", "20", expires_on="2026-09-01"),
            grant("G-3", "5", account_id="beta"),
        ],
    )
    frame = forecast(out, day(3))
    cols = ("date", "projected_available", "burn_rate", "depletion_date")
    got = {
        account: [
            (d.isoformat(), p, r, None if x is None else x.isoformat())
            for d, p, r, x in frame.filter(pl.col("account_id") == account).select(cols).rows()
        ]
        for account in ("acme", "beta")
    }
    assert got["acme"] == [
        (plus(day(3), k), D(50) if plus(day(3), k) < "2026-03-20" else D(20), D(0), "2026-09-01")
        for k in range(1, 91)
    ]
    assert got["beta"] == [(plus(day(3), k), D(5), D(0), None) for k in range(1, 91)]


@pytest.mark.slow
def test_burn_rate_window_is_the_trailing_30_days(tmp_path, flexbatch):
    # 100 on day 1, then 1 a day on days 2..31. As of day 30 the window is days 1..30:
    # 129 / 30 = 4.3. As of day 31 it is days 2..31 (today included): 30 / 30 = 1.
    out = job(
        tmp_path,
        flexbatch,
        last=day(31),
        usage=[charge(day(1), 100.0)] + [charge(day(n), 1.0) for n in range(2, 32)],
        grants=[grant("G", "10000")],
    )
    assert set(forecast(out, day(30))["burn_rate"]) == {D("4.3")}
    assert set(forecast(out, day(31))["burn_rate"]) == {D(1)}


# 7. alerts (SPEC §5): each raised once, on the day its condition starts ------------------
# low_balance: test_band_turns_red_at_exactly_20_percent and test_overdraft_without_any_grant
# overdraft: test_overdraft_without_any_grant; transfer_rejected: the transfer tests


@pytest.mark.slow
def test_expiring_soon_alert_when_a_slice_enters_the_90_day_window(tmp_path, flexbatch):
    # windows: day 1 (03-01) .. 05-30, day 2 .. 05-31, day 3 .. 06-01, day 4 .. 06-02.
    # G-MAR 5 expires 03-20: in the window from day 1 -> alert day 1.
    # G-LATE 3 effective day 2, expires 03-10: enters with its grant -> alert day 2.
    # G-JUN 10 expires 06-01: enters on day 3 -> alert day 3.
    # G-USED 4 (priority 1) expires 05-31 but is spent on day 1 by a charge of 4: it
    # enters the window on day 2 with nothing left -> no alert.
    # Nothing new on day 4.
    out = job(
        tmp_path,
        flexbatch,
        last=day(4),
        usage=[charge(day(1), 4.0)],
        grants=[
            grant("G-MAR", "5", expires_on="2026-03-20"),
            grant("G-LATE", "3", effective_on=day(2), expires_on="2026-03-10"),
            grant("G-JUN", "10", expires_on="2026-06-01"),
            grant("G-USED", "4", expires_on="2026-05-31", priority="1"),
        ],
    )
    assert ledger(out, "consume", cols=("grant_id", "amount", "grant_remaining")) == [
        (day(1), "G-USED", D(-4), D(0))
    ]
    assert alerts(out, "expiring_soon") == srt(
        [
            (day(1), "acme", "expiring_soon", "G-MAR", D(5)),
            (day(2), "acme", "expiring_soon", "G-LATE", D(3)),
            (day(3), "acme", "expiring_soon", "G-JUN", D(10)),
        ]
    )


@pytest.mark.slow
def test_depletion_forecast_alert_when_depletion_comes_within_30_days(tmp_path, flexbatch):
    # G 100; charged 1, 5, 8, 1, 0, 0, 20 on days 1..7 (available 99, 94, 86, 85, 85,
    # 85, 65). burn_rate = consumed so far / days observed:
    # day 1: 1/1 = 1    99 / 1 -> 03-01 + 99: not within 30 days
    # day 2: 6/2 = 3    94 / 3 = 31.3 -> +32 > +30: no
    # day 3: 14/3 = 4.666667   86 / 4.666667 = 18.4 -> +19 = 03-22 <= +30: ALERT
    # day 4: 15/4 = 3.75   85 / 3.75 = 22.7 -> +23: still, no new alert
    # day 5: 15/5 = 3      85 / 3 = 28.3 -> +29: still, no new alert
    # day 6: 15/6 = 2.5    85 / 2.5 = 34 -> +34 > +30: the condition ends
    # day 7: 35/7 = 5      65 / 5 = 13 -> +13: ALERT again
    credits = [1.0, 5.0, 8.0, 1.0, 0.0, 0.0, 20.0]
    out = job(
        tmp_path,
        flexbatch,
        last=day(7),
        usage=[charge(day(n), q) for n, q in enumerate(credits, start=1) if q],
        grants=[grant("G", "100")],
    )
    depletion = {
        n: forecast(out, day(n)).select("burn_rate", "depletion_date").unique().rows()
        for n in range(1, 8)
    }
    assert depletion == {
        1: [(D(1), date(2026, 6, 8))],  # 03-01 + 99
        2: [(D(3), date(2026, 4, 3))],  # 03-02 + 32
        3: [(D("4.666667"), date(2026, 3, 22))],
        4: [(D("3.75"), date(2026, 3, 27))],  # 03-04 + 23
        5: [(D(3), date(2026, 4, 3))],  # 03-05 + 29
        6: [(D("2.5"), date(2026, 4, 9))],  # 03-06 + 34
        7: [(D(5), date(2026, 3, 20))],  # 03-07 + 13
    }
    assert alerts(out, "depletion_forecast") == [
        (day(3), "acme", "depletion_forecast", "flex_credit", D("4.666667")),
        (day(7), "acme", "depletion_forecast", "flex_credit", D(5)),
    ]


@pytest.mark.slow
def test_user_limit_exceeded_alerts(tmp_path, flexbatch):
    # SEATS: unique_users per month, user_limit 2: day 1 {u1, u2} = 2; day 2 adds u3 -> 3
    #   users in the period > 2: ALERT day 2 (amount 3); day 3 adds u4 -> 4: no new alert.
    # LOGINS: daily_unique_users per month, user_limit 2: day 1 {u1, u2} = 2, day 2 {u1},
    #   day 3 {u1, u2, u3} = 3 > 2 and no earlier day passed 2: ALERT day 3 (amount 3);
    #   day 4 {u1..u4} = 4: an earlier day of the month already passed: no alert.
    price0 = "[ { above = 0, price = 0 } ]"
    plans = plan_toml(
        "SEATS",
        algorithm="unique_users",
        chargeable="user",
        billing_period="month",
        meter="seat",
        tiers=price0,
        extra="user_limit = 2",
    ) + plan_toml(
        "LOGINS",
        algorithm="daily_unique_users",
        chargeable="user",
        billing_period="month",
        meter="login",
        product="CONNECT",
        tiers=price0,
        extra="user_limit = 2",
    )
    seats = {1: ["u1", "u2"], 2: ["u1", "u3"], 3: ["u4"], 4: ["u1"]}
    logins = {1: ["u1", "u2"], 2: ["u1"], 3: ["u1", "u2", "u3"], 4: ["u1", "u2", "u3", "u4"]}
    usage = [
        event(f"{day(n)}T02:00:00", meter="seat", user=u) for n, us in seats.items() for u in us
    ] + [
        event(f"{day(n)}T03:00:00", product="CONNECT", meter="login", user=u)
        for n, us in logins.items()
        for u in us
    ]
    out = job(tmp_path, flexbatch, last=day(4), usage=usage, plans=plans, cli=True)
    assert ledger(out) == []  # price-0 charges burn nothing
    assert alerts(out) == [
        (day(2), "acme", "user_limit_exceeded", "SEATS", D(3)),
        (day(3), "acme", "user_limit_exceeded", "LOGINS", D(3)),
    ]


@pytest.mark.slow  # the user_limit alert comes from charging: the whole job (CLI)
def test_user_limit_on_hour_and_scope_plans_alerts_once_per_account_plan_and_day(
    tmp_path, flexbatch
):
    # HOURLY: unique_users per hour, user_limit 1: day 1 02h {u1, u2} = 2 and 05h
    #   {u1, u2, u3} = 3 both pass the limit: ONE alert on day 1, the most users (3);
    #   day 2 02h {u1} = 1: none.
    # SCOPED: unique_users per month and scope, user_limit 1: day 1 ns-1 {u1, u2} = 2 and
    #   ns-2 {u3, u4, u5, u6} = 4: ONE alert on day 1 (4); day 2 ns-1 adds u7 (already
    #   past), ns-3 {u8, u9} = 2 passes: one alert on day 2 (2).
    # Before: one alert per period or scope, duplicates of (date, account, kind, ref).
    price0 = "[ { above = 0, price = 0 } ]"
    plans = plan_toml(
        "HOURLY",
        algorithm="unique_users",
        chargeable="user",
        billing_period="hour",
        meter="seat",
        tiers=price0,
        extra="user_limit = 1",
    ) + plan_toml(
        "SCOPED",
        algorithm="unique_users",
        chargeable="user",
        billing_period="month",
        meter="login",
        product="CONNECT",
        tiers=price0,
        extra='user_limit = 1\nthreshold_scope = "scope"',
    )
    hourly = [(1, "02", "u1"), (1, "02", "u2"), (1, "05", "u1"), (1, "05", "u2")]
    hourly += [(1, "05", "u3"), (2, "02", "u1")]
    scoped = [(1, "ns-1", u) for u in ("u1", "u2")] + [(1, "ns-2", f"u{i}") for i in range(3, 7)]
    scoped += [(2, "ns-1", "u7"), (2, "ns-3", "u8"), (2, "ns-3", "u9")]
    usage = [event(f"{day(n)}T{h}:10:00", meter="seat", user=u) for n, h, u in hourly] + [
        event(f"{day(n)}T03:00:00", scope=s, product="CONNECT", meter="login", user=u)
        for n, s, u in scoped
    ]
    out = job(tmp_path, flexbatch, last=day(2), usage=usage, plans=plans, cli=True)
    assert alerts(out) == [
        (day(1), "acme", "user_limit_exceeded", "HOURLY", D(3)),
        (day(1), "acme", "user_limit_exceeded", "SCOPED", D(4)),
        (day(2), "acme", "user_limit_exceeded", "SCOPED", D(2)),
    ]


# 8. conservation (SPEC §4), as a property ------------------------------------------------

ACCOUNTS = ("a", "b")
MILLIS = st.integers(1, 20_000).map(lambda n: str(D(n) / 1000))  # 0.001 .. 20.000

grant_rows = st.lists(
    st.fixed_dictionaries(
        {
            "account_id": st.sampled_from(ACCOUNTS),
            "currency": st.sampled_from(["flex_credit", "cloud_credit"]),
            "amount": MILLIS,
            "effective": st.integers(1, 3),
            "lasts": st.one_of(st.none(), st.integers(1, 4)),  # expires_on = effective + lasts
            "priority": st.sampled_from([None, "0", "5"]),
            "products": st.sampled_from([None, "ADH", "CONNECT", "ADH;CONNECT"]),
            "unit_cost": st.sampled_from([None, "0", "0.75"]),
        }
    ),
    max_size=6,
)
charge_rows = st.lists(
    st.tuples(
        st.integers(1, 4),  # day
        st.sampled_from(ACCOUNTS),
        st.sampled_from(["ADH", "CONNECT"]),
        st.sampled_from(["ns-1", "ns-2"]),
        st.integers(1, 64).map(lambda n: n / 8),  # binary-exact credits
    ),
    max_size=10,
)
transfer_rows = st.lists(
    st.tuples(
        st.integers(1, 4),
        st.booleans(),  # a -> b or b -> a
        MILLIS,
        st.sampled_from([None, "flex_credit", "cloud_credit"]),
    ),
    max_size=3,
)


@pytest.mark.slow
@settings(
    max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(grants=grant_rows, charges=charge_rows, transfers=transfer_rows)
def test_conservation(tmp_path_factory, flexbatch, grants, charges, transfers):
    grants_csv = [
        grant(
            f"G{i}",
            g["amount"],
            day(g["effective"]),
            account_id=g["account_id"],
            currency=g["currency"],
            expires_on=None if g["lasts"] is None else day(g["effective"] + g["lasts"]),
            priority=g["priority"],
            products=g["products"],
            unit_cost=g["unit_cost"],
        )
        for i, g in enumerate(grants)
    ]
    transfers_csv = [
        {
            "transfer_id": f"T{i}",
            "date": day(n),
            "from_account": "a" if forward else "b",
            "to_account": "b" if forward else "a",
            "amount": amount,
            "currency": currency,
        }
        for i, (n, forward, amount, currency) in enumerate(transfers)
    ]
    usage = [charge(day(n), q, account=a, product=p, scope=s) for n, a, p, s, q in charges]
    out = job(
        tmp_path_factory.mktemp("case"),
        flexbatch,
        last=day(4),
        usage=usage,
        grants=grants_csv,
        transfers=transfers_csv,
    )
    entries = table(out, "credit_ledger")
    bal = table(out, "balances")
    last = bal.filter(pl.col("date") == day(4))

    # per account, currency and day: purchased - used - expired = available >= 0
    for r in bal.iter_rows(named=True):
        assert r["purchased_total"] - r["used_total"] - r["expired_total"] == r["available"], r
        assert r["available"] >= 0, r
    # per account and currency: the ledger's signed entries but overdraft add up to the
    # last day's available
    held: dict[tuple[str, str], D] = {}
    for r in entries.filter(pl.col("entry_type") != "overdraft").iter_rows(named=True):
        key = (r["account_id"], r["currency"])
        held[key] = held.get(key, D(0)) + r["amount"]
    for r in last.iter_rows(named=True):
        assert held.get((r["account_id"], r["currency"]), D(0)) == r["available"], r
    assert set(held) <= {(r["account_id"], r["currency"]) for r in last.iter_rows(named=True)}

    # per account and day: consume + overdraft = charged
    burnt: dict[tuple[str, str], D] = {}
    for r in entries.filter(pl.col("entry_type").is_in(["consume", "overdraft"])).iter_rows(
        named=True
    ):
        key = (r["date"], r["account_id"])
        burnt[key] = burnt.get(key, D(0)) - r["amount"]
    charged: dict[tuple[str, str], D] = {}
    for r in table(out, "charges").iter_rows(named=True):
        key = (r["date"], r["account_id"])
        charged[key] = charged.get(key, D(0)) + r["credits"]
    assert burnt == {k: v for k, v in charged.items() if v}

    # no slice ever goes negative; every transfer moves as much in as out
    remaining = entries["grant_remaining"].drop_nulls()
    assert remaining.is_empty() or remaining.min() >= 0
    moved = entries.filter(pl.col("entry_type").is_in(["transfer_in", "transfer_out"]))
    for ref in set(moved["ref"]):
        assert moved.filter(pl.col("ref") == ref)["amount"].sum() == 0, ref


@pytest.mark.slow
def test_forecast_with_a_tiny_burn_has_no_depletion_date(tmp_path, flexbatch):
    # G 1,000,000,000; 0.000001 charged on day 1: burn 0.000001 a day, so running out
    # would take 10^15 days -- far past 365 (and past any integer day count): no date.
    out = job(
        tmp_path,
        flexbatch,
        last=day(1),
        usage=[charge(day(1), 0.000001)],
        grants=[grant("G", "1000000000")],
    )
    rows, summary = _projection(out, day(1))
    assert summary == {(D("0.000001"), None)}
    assert rows[-1] == (plus(day(1), 90), D("999999999.999999") - D("0.000090"))
