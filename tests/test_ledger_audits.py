"""Every audit of the ledger can fail: for each, a state that violates it, planted in the
previous day's published state (or in the day's charges), stops the day with an
AuditError naming that audit, and the same days without the plant run clean. The days
run through ``ledger_days`` (the ledger's SQL steps on an in-memory DuckDB).

A day recomputes, and so audits, the accounts it can change; an idle account is carried
forward as yesterday left it (``test_carry_forward``). So a plant in the state comes with
a charge on day 2 that makes its account's day recompute.

Each plant keeps the audits that run before it satisfied, so the error names the audit
the plant is aimed at (the ledger runs them in ``AUDITS`` order: conservation, charged,
grants non-negative, then revenue values and revenue conservation).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from decimal import Decimal as D
from pathlib import Path

import polars as pl
import pytest
from ledger_days import Ledger

from flexbatch.errors import AuditError
from flexbatch.tables import table

DAY1, DAY2 = date(2026, 3, 1), date(2026, 3, 2)
GRANT = {
    "grant_id": "G",
    "account_id": "acme",
    "currency": "flex_credit",
    "amount": "10",
    "effective_on": DAY1.isoformat(),
    "unit_cost": "0.5",
}
Plant = Callable[[pl.DataFrame], pl.DataFrame]


def tamper(ledger: Ledger, path: str, day: date, plant: Plant) -> None:
    """Rewrite ``day``'s published partition of ``path`` through ``plant``."""
    file = ledger.out / table(path).partition(day) / "part-0.parquet"
    plant(pl.read_parquet(file)).write_parquet(file)


def two_days(
    root: Path, plants: dict[str, Plant], charges: tuple[tuple[str, str, str], ...] = ()
) -> Ledger:
    """Day 1: G (10 credits) granted, 4 consumed; ``plants`` applied to day 1's tables;
    day 2 with ``charges``."""
    ledger = Ledger(root, grants=[GRANT])
    ledger.run(DAY1, [("acme", "ADH", "4")])
    for path, plant in plants.items():
        tamper(ledger, path, DAY1, plant)
    ledger.run(DAY2, charges)
    return ledger


def add(column: str, delta: str) -> Plant:
    return lambda frame: frame.with_columns(pl.col(column) + pl.lit(D(delta)))


def set_to(column: str, value: object) -> Plant:
    return lambda frame: frame.with_columns(pl.lit(value, frame.schema[column]).alias(column))


CASES = {
    # a slice gains a credit no entry put there: the day's movements no longer explain
    # available (opening comes from yesterday's balances)
    "audit_conservation": ({"_state/grants": add("remaining", "1")}, (("acme", "ADH", "1"),)),
    # a charge the burn never takes (it burns credits > 0 only): consumed + overdraft
    # falls short of what was charged
    "audit_charged": ({}, (("acme", "ADH", "-1"),)),
    # a slice below zero, with balances that agree with it (available and purchased_total
    # -1), so the conservation audit before it holds
    "audit_grants_non_negative": (
        {
            "_state/grants": set_to("remaining", D(-1)),
            "balances": lambda f: f.with_columns(
                available=pl.lit(D(-1), f.schema["available"]),
                purchased_total=pl.col("purchased_total") - pl.col("available") - 1,
            ),
        },
        (),
    ),
    # a slice that lost its value: the revenue of the day would silently miss it
    "audit_revenue_values": ({"_state/grants": set_to("value", None)}, (("acme", "ADH", "1"),)),
    # yesterday's deferred closing one micro-unit higher than the slices' value
    "audit_revenue_conservation": (
        {"revenue": add("deferred_closing", "0.000001")},
        (("acme", "ADH", "1"),),
    ),
}


@pytest.mark.parametrize("audit", CASES)
def test_a_planted_violation_fails_its_audit(tmp_path, audit):
    plants, charges = CASES[audit]
    with pytest.raises(AuditError, match=f"audit {audit} failed"):
        two_days(tmp_path / "planted", plants, charges)


def test_the_same_days_without_a_plant_pass(tmp_path):
    ledger = two_days(tmp_path, {})
    b = ledger.balance(DAY2)
    # 10 granted, 4 consumed on day 1; value 10 x 0.5 = 5, 2 recognised, 3 deferred
    assert (b["opening"], b["available"], b["used_total"]) == (D(6), D(6), D(4))
    revenue = ledger.days[DAY2]["revenue"].row(0, named=True)
    assert (revenue["deferred_opening"], revenue["deferred_closing"]) == (D(3), D(3))
