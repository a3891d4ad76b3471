"""An account the day cannot change is carried forward, not recomputed (issue 27): the
ledger with the carry gives every published table of every day exactly as the ledger
that recomputes every account (``carry_forward=False``), over random histories built to
reach the carry's edges: most accounts idle most days, processed days with gaps across a
month end, grants expiring, voided and rolled over between processed days, slices whose
expiry enters the 90-day window on an idle day, transfers and top-ups.

As in ``test_reference_ledger``, the drawn cases are named apart and run together: one
pair of ledger runs serves them all. A difference names the first differing rows.
"""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal as D
from pathlib import Path

import polars as pl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from ledger_days import Ledger

from flexbatch.resources import sql_text

EXAMPLES = 120
START = date(2026, 3, 20)
# processed days: consecutive ones, gaps, a month end, and days 90 days apart, so that
# expiries enter the expiring window on days nothing happens
OFFSETS = (0, 1, 2, 5, 11, 12, 30, 42, 43, 91, 92, 130)
DAYS = [START + timedelta(days=n) for n in OFFSETS]
ACCOUNTS = ["a", "b", "c", "d"]
CURRENCIES = ["flex_credit", "cloud_credit"]
PRODUCTS = ["P1", "P2"]
TABLES = ("credit_ledger", "balances", "forecast", "alerts", "topups", "revenue",
          "revenue_entries", "_state/grants")  # fmt: skip

amounts = st.one_of(
    st.sampled_from([D(1), D("2.5"), D(10), D("0.000001")]),
    st.decimals(min_value=D("0.000001"), max_value=D(40), places=6),
)


@st.composite
def grants(draw: st.DrawFn, n: int) -> dict:
    effective = draw(st.integers(0, 60))
    # expiries from the next day to past the last processed day, often ~90 days after a
    # processed day (the expiring window) or between two processed days
    expires = draw(
        st.one_of(
            st.none(),
            st.integers(effective + 1, 140),
            st.sampled_from([o + 90 + d for o in OFFSETS[:8] for d in (0, 1, 2)]).filter(
                lambda e: e > effective
            ),
        )
    )
    rollover = None if expires is None else draw(st.one_of(st.none(), st.sampled_from([D(1)])))
    voided = draw(st.one_of(st.none(), st.none(), st.integers(effective, 135)))
    return {
        "grant_id": f"G{n}",
        "account_id": draw(st.sampled_from(ACCOUNTS)),
        "currency": draw(st.sampled_from(CURRENCIES)),
        "amount": draw(amounts),
        "effective_on": START + timedelta(days=effective),
        "expires_on": None if expires is None else START + timedelta(days=expires),
        "priority": draw(st.sampled_from([None, 0, 5])),
        "products": draw(st.sampled_from([(), (), ("P1",)])),
        "unit_cost": draw(st.sampled_from([D(0), D("0.5"), D("1.1")])),
        "voided_on": None if voided is None else START + timedelta(days=voided),
        "rollover_max": rollover,
        "rollover_days": None if rollover is None else draw(st.integers(1, 10)),
    }


@st.composite
def transfers(draw: st.DrawFn, n: int) -> dict:
    sender, receiver = draw(st.permutations(ACCOUNTS))[:2]
    return {
        "transfer_id": f"T{n}",
        "date": START + timedelta(days=draw(st.integers(0, 130))),
        "from_account": sender,
        "to_account": receiver,
        "amount": draw(amounts),
        "currency": draw(st.one_of(st.none(), st.sampled_from(CURRENCIES))),
    }


@st.composite
def cases(draw: st.DrawFn) -> dict:
    grant_rows = [draw(grants(i)) for i in range(draw(st.integers(1, 6)))]
    transfer_rows = [draw(transfers(i)) for i in range(draw(st.integers(0, 2)))]
    topup_rows = []
    if draw(st.integers(0, 4)) == 0:  # a rule now and then: its account is never idle
        grant = grant_rows[0]
        topup_rows.append({
            "rule_id": "R0", "account_id": grant["account_id"], "currency": grant["currency"],
            "threshold": D(2), "amount": D(5), "target": None, "unit_cost": D("0.9"),
            "priority": None, "products": (), "expires_after_days": 20, "max_per_month": 1,
        })  # fmt: skip
    idle = st.just({})
    busy = st.dictionaries(
        st.tuples(st.sampled_from(ACCOUNTS), st.sampled_from(PRODUCTS)), amounts, max_size=2
    )
    charges = {day: draw(st.one_of(idle, idle, busy)) for day in DAYS}
    return {"grants": grant_rows, "transfers": transfer_rows, "topups": topup_rows,
            "charges": charges}  # fmt: skip


def named(case: dict, n: int) -> dict:
    p = f"c{n:03d}-"
    keys = ("grant_id", "account_id", "transfer_id", "from_account", "to_account", "rule_id")

    def rename(row: dict) -> dict:
        return {k: p + v if k in keys else v for k, v in row.items()}

    return {
        "grants": [rename(g) for g in case["grants"]],
        "transfers": [rename(t) for t in case["transfers"]],
        "topups": [rename(r) for r in case["topups"]],
        "charges": {
            day: [(p + a, product, c) for (a, product), c in charges.items()]
            for day, charges in case["charges"].items()
        },
    }


def collect_cases() -> list[dict]:
    drawn: list[dict] = []

    @settings(max_examples=EXAMPLES, deadline=None, database=None,
              suppress_health_check=[HealthCheck.too_slow])  # fmt: skip
    @given(case=cases())
    def draw(case: dict) -> None:
        drawn.append(named(case, len(drawn)))

    draw()
    return drawn


def run(root: Path, named_cases: list[dict], *, carry_forward: bool) -> Ledger:
    def cell(value: object) -> object:
        if isinstance(value, D):
            return format(value, "f")
        return ";".join(value) if isinstance(value, tuple) else value

    def rows(kind: str) -> list[dict]:
        return [{k: cell(v) for k, v in row.items()} for case in named_cases for row in case[kind]]

    ledger = Ledger(root, grants=rows("grants"), transfers=rows("transfers"),
                    topups=rows("topups"), carry_forward=carry_forward)  # fmt: skip
    for day in DAYS:
        ledger.run(
            day, [(a, p, cell(c)) for case in named_cases for a, p, c in case["charges"][day]]
        )
    return ledger


def differences(carried: Ledger, recomputed: Ledger) -> list[str]:
    """Per day and table: the first rows only one side has."""
    out = []
    for day in DAYS:
        for path in TABLES:
            a, b = carried.days[day][path], recomputed.days[day][path]
            if not a.equals(b):
                only_a = a.join(b, on=a.columns, how="anti", nulls_equal=True).head(3)
                only_b = b.join(a, on=a.columns, how="anti", nulls_equal=True).head(3)
                out.append(f"{day} {path}:\n carried {only_a.rows()}\n recomputed {only_b.rows()}")
    return out


@pytest.fixture(scope="module")
def histories(tmp_path_factory) -> tuple[list[dict], Ledger, Ledger]:
    named_cases = collect_cases()
    root = tmp_path_factory.mktemp("carry")
    carried = run(root / "carried", named_cases, carry_forward=True)
    recomputed = run(root / "recomputed", named_cases, carry_forward=False)
    return named_cases, carried, recomputed


def test_carried_accounts_publish_what_recomputing_them_publishes(histories):
    _, carried, recomputed = histories
    assert differences(carried, recomputed) == []


def test_the_histories_reach_the_carry(histories):
    # the comparison means something only if accounts were carried, recomputed, and
    # entered the expiring window on a day they were idle
    named_cases, carried, recomputed = histories
    accounts = sum(len({g["account_id"] for g in c["grants"]}) for c in named_cases)
    later = DAYS[1:]
    assert all(recomputed.counts[d].balances_carried == 0 for d in DAYS)
    assert sum(carried.counts[d].balances_carried for d in later) > accounts
    # the reference recomputes every account it holds each day; the carry a subset of
    # them, and strictly fewer over the days (a fixed count of accounts would not do: a
    # charge or a transfer may name an account with no grant)
    fewer = [(carried.counts[d].accounts_recomputed, recomputed.counts[d].accounts_recomputed)
             for d in later]  # fmt: skip
    assert all(mine <= reference for mine, reference in fewer)
    assert sum(mine for mine, _ in fewer) < sum(reference for _, reference in fewer)
    alerts = pl.concat([carried.days[d]["alerts"] for d in later])
    charged = {a for c in named_cases for day in later for a, _, _ in c["charges"][day]}
    soon = alerts.filter(pl.col("kind") == "expiring_soon")
    assert soon.filter(~pl.col("account_id").is_in(sorted(charged))).height > 0


def test_a_carry_that_misses_the_expiring_window_is_caught(histories, tmp_path, monkeypatch):
    # the same histories with ledger_accounts blind to slices entering the window: the
    # carried accounts keep yesterday's expiring_90d (the alerts read every account's
    # slices, so expiring_soon is raised either way)
    import flexbatch.transform.sql_steps as sql_steps

    named_cases, _, recomputed = histories
    text = sql_text("ledger_accounts")
    window = "   or (\n       s.remaining > 0"
    assert window in text

    def blind(step: str) -> str:
        return (
            text.replace(window, "   or (false and s.remaining > 0")
            if step == "ledger_accounts"
            else sql_text(step)
        )

    monkeypatch.setattr(sql_steps, "sql_text", blind)
    wrong = run(tmp_path, named_cases, carry_forward=True)
    found = differences(wrong, recomputed)
    assert found and all(" balances:" in d for d in found)
