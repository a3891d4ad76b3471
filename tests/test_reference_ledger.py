"""The credit ledger equals an independent model of its rules (``reference_ledger``: SPEC
§4, §5's balances, §10's void, rollover and top-ups in plain decimals), entry for entry,
balance for balance and slice for slice, over many random cases of several days: grants
of every term (priorities, expiries, unit costs, products, currencies, voids, rollovers),
transfers accepted and rejected, with and without a currency, top-up rules and charges.

The ledger is vectorised over accounts, so the Hypothesis cases run through it together:
Hypothesis draws the cases (each one checked against the model's own invariants), each
case's accounts, grants, transfers and rules are named apart (``c007-a``), and one
``ledger_days`` run of the days serves all cases at once (a case by itself would cost a
full ledger day per day, about 0.3 s here). A difference names the smallest differing
case, with the first rows that differ.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal as D
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from ledger_days import Ledger
from reference_ledger import Entry, Grant, ReferenceLedger, Slice, TopUp, Transfer

EXAMPLES = 300
START = date(2026, 3, 28)  # the days cross a month end (top-ups' max_per_month)
DAYS = [START + timedelta(days=i) for i in range(6)]
ACCOUNTS = ["a", "b", "c"]
CURRENCIES = ["flex_credit", "cloud_credit", "flex_token"]
PRODUCTS = ["P1", "P2", "P3"]
BALANCE_COLUMNS = (
    "opening", "granted", "transferred_in", "transferred_out", "consumed", "expired",
    "voided", "overdraft", "available", "overdraft_total", "purchased_total", "used_total",
    "expired_total", "voided_total", "band", "expiring_90d", "entitled",
)  # fmt: skip

# amounts: a few round values (ties, exact cover) and any 6-place decimal
amounts = st.one_of(
    st.sampled_from([D(1), D(2), D("2.5"), D(5), D(10), D("0.000001"), D("3.333333")]),
    st.decimals(min_value=D("0.000001"), max_value=D(30), places=6),
)
day_index = st.integers(0, len(DAYS) - 1)


@st.composite
def grants(draw: st.DrawFn, n: int) -> dict:
    effective = draw(day_index)
    expires = draw(st.one_of(st.none(), st.integers(effective + 1, len(DAYS) + 1)))
    caps = st.sampled_from([D(0), D(1), D("2.5"), D(100)])
    # a rollover needs an expiry (the grants file's rule)
    rollover = None if expires is None else draw(st.one_of(st.none(), caps))
    voided = draw(st.one_of(st.none(), st.none(), day_index))
    return {
        "grant_id": f"G{n}",
        "account_id": draw(st.sampled_from(ACCOUNTS)),
        "currency": draw(st.sampled_from(CURRENCIES)),
        "amount": draw(amounts),
        "effective_on": DAYS[effective],
        "expires_on": None if expires is None else START + timedelta(days=expires),
        "priority": draw(st.sampled_from([None, None, 0, 5, 10])),
        "products": draw(st.sampled_from([(), (), ("P1",), ("P2",), ("P1", "P3")])),
        "unit_cost": draw(st.sampled_from([D(0), D(0), D("0.5"), D("1.1")])),
        "voided_on": None if voided is None else DAYS[voided],
        "rollover_max": rollover,
        "rollover_days": None if rollover is None else draw(st.integers(1, 3)),
    }


@st.composite
def transfers(draw: st.DrawFn, n: int) -> dict:
    sender, receiver = draw(st.permutations(ACCOUNTS))[:2]
    return {
        "transfer_id": f"T{n}",
        "date": DAYS[draw(day_index)],
        "from_account": sender,
        "to_account": receiver,
        "amount": draw(amounts),
        "currency": draw(st.sampled_from([None, None, *CURRENCIES])),
    }


@st.composite
def topups(draw: st.DrawFn, n: int, grant_rows: list[dict]) -> dict:
    """A rule in a currency and account of one of the case's grants (the rules file's
    typo guard wants a grant of its currency)."""
    grant = draw(st.sampled_from(grant_rows))
    threshold = draw(st.sampled_from([D(0), D(1), D(5)]))
    target = draw(st.booleans())
    size = draw(st.sampled_from([D(3), D("7.5")]))
    return {
        "rule_id": f"R{n}",
        "account_id": grant["account_id"],
        "currency": grant["currency"],
        "threshold": threshold,
        "amount": None if target else size,
        "target": threshold + size if target else None,
        "unit_cost": draw(st.sampled_from([D(0), D("0.9")])),
        "priority": draw(st.sampled_from([None, 1])),
        "products": draw(st.sampled_from([(), ("P2",)])),
        "expires_after_days": draw(st.sampled_from([None, 2])),
        "max_per_month": draw(st.sampled_from([None, 1, 2])),
    }


@st.composite
def cases(draw: st.DrawFn) -> dict:
    grant_rows = [draw(grants(i)) for i in range(draw(st.integers(0, 5)))]
    transfer_rows = [draw(transfers(i)) for i in range(draw(st.integers(0, 3)))]
    rules = draw(st.integers(0, 1 if grant_rows else 0))
    topup_rows = [draw(topups(i, grant_rows)) for i in range(rules)]
    charge_days = {
        day: draw(
            st.dictionaries(
                st.tuples(st.sampled_from(ACCOUNTS), st.sampled_from(PRODUCTS)),
                st.one_of(amounts, st.just(D(0))),
                max_size=3,
            )
        )
        for day in DAYS
    }
    return {
        "grants": grant_rows,
        "transfers": transfer_rows,
        "topups": topup_rows,
        "charges": charge_days,
    }


def named(case: dict, n: int) -> dict:
    """``case`` with its accounts, grants, transfers and rules prefixed ``cNNN-`` (the
    width keeps every id order of the case), so that cases never meet in one ledger."""
    p = f"c{n:03d}-"
    keys = ("grant_id", "account_id", "transfer_id", "from_account", "to_account", "rule_id")

    def rename(row: dict) -> dict:
        return {k: p + v if k in keys else v for k, v in row.items()}

    return {
        "prefix": p,
        "grants": [rename(g) for g in case["grants"]],
        "transfers": [rename(t) for t in case["transfers"]],
        "topups": [rename(r) for r in case["topups"]],
        "charges": {
            day: [(p + a, product, c) for (a, product), c in charges.items()]
            for day, charges in case["charges"].items()
        },
    }


# --- the model's side -------------------------------------------------------------------


def model_of(case: dict) -> ReferenceLedger:
    grants = [
        Grant(
            g["grant_id"], g["account_id"], g["currency"], g["amount"], g["effective_on"],
            g["expires_on"], g["priority"], frozenset(g["products"]), g["unit_cost"],
            g["voided_on"], g["rollover_max"], g["rollover_days"],
        )
        for g in case["grants"]
    ]  # fmt: skip
    transfers = [
        Transfer(t["transfer_id"], t["date"], t["from_account"], t["to_account"], t["amount"],
                 t["currency"])
        for t in case["transfers"]
    ]  # fmt: skip
    rules = [
        TopUp(r["rule_id"], r["account_id"], r["currency"], r["threshold"], r["amount"],
              r["target"], r["unit_cost"], r["priority"], frozenset(r["products"]),
              r["expires_after_days"], r["max_per_month"])
        for r in case["topups"]
    ]  # fmt: skip
    model = ReferenceLedger(grants, transfers, rules)
    for day in DAYS:
        model.run(day, case["charges"][day])
    return model


def assert_model_invariants(case: dict, model: ReferenceLedger) -> None:
    """SPEC §4's conservation, on the model alone: it must hold before a comparison
    with the ledger means anything."""
    for day, out in model.days.items():
        charged = sum((c for _, _, c in case["charges"][day]), D(0))
        drawn = sum(e.amount for e in out.entries if e.entry_type in ("consume", "overdraft"))
        assert -drawn == charged, day
        for row in out.balances.values():
            assert (
                row["opening"] + row["granted"] + row["transferred_in"] - row["transferred_out"]
                - row["consumed"] - row["expired"] - row["voided"] == row["available"]
            )  # fmt: skip
            assert (
                row["purchased_total"] - row["used_total"] - row["expired_total"]
                - row["voided_total"] == row["available"]
            )  # fmt: skip
        assert all(s.remaining >= 0 for s in out.slices)


# --- the comparison ---------------------------------------------------------------------


def _text(value: object) -> str:
    return "" if value is None else str(value)


def _sorted(rows: list[tuple]) -> list[tuple]:
    return sorted(rows, key=lambda row: tuple(_text(v) for v in row))


def entry_row(day: date, e: Entry | dict) -> tuple:
    if isinstance(e, dict):
        e = Entry(e["account_id"], e["grant_id"], e["currency"], e["entry_type"], e["amount"],
                  e["product_code"], e["ref"], e["grant_remaining"])  # fmt: skip
    return (day, e.account_id, e.grant_id, e.currency, e.entry_type, e.amount,
            e.product_code, e.ref, e.grant_remaining)  # fmt: skip


def slice_row(day: date, s: Slice | dict) -> tuple:
    if isinstance(s, dict):
        products = frozenset(p for p in (s["products"] or "").split(";") if p)
        return (day, s["account_id"], s["grant_id"], s["currency"], s["priority"],
                s["expires_on"], s["unit_cost"], s["effective_on"], products, s["origin_id"],
                s["rolled_over"], s["remaining"])  # fmt: skip
    g = s.origin
    return (day, s.account_id, s.grant_id, g.currency, g.rank_priority, s.expires_on,
            g.unit_cost, s.effective_on, g.products, g.grant_id, s.rolled_over,
            s.remaining)  # fmt: skip


@dataclass
class Tables:
    """The compared rows of one case by table, each list sorted."""

    rows: dict[str, list[tuple]] = field(default_factory=dict)

    def add(self, table: str, row: tuple) -> None:
        self.rows.setdefault(table, []).append(row)

    def done(self) -> dict[str, list[tuple]]:
        return {table: _sorted(rows) for table, rows in self.rows.items()}


def model_tables(model: ReferenceLedger) -> dict[str, list[tuple]]:
    t = Tables({name: [] for name in ("credit_ledger", "balances", "slices", "rejected",
                                      "topups")})  # fmt: skip
    for day, out in model.days.items():
        for e in out.entries:
            t.add("credit_ledger", entry_row(day, e))
        for (account, currency), row in out.balances.items():
            t.add("balances", (day, account, currency, *(row[c] for c in BALANCE_COLUMNS)))
        for s in out.slices:
            t.add("slices", slice_row(day, s))
        for transfer_id in out.rejected:
            t.add("rejected", (day, transfer_id))
        for g in out.topups:
            t.add("topups", (day, g.grant_id, g.account_id, g.currency, g.effective_on,
                             g.amount, g.expires_on))  # fmt: skip
    return t.done()


def ledger_tables(ledger: Ledger, prefixes: list[str]) -> dict[str, dict[str, list[tuple]]]:
    """The ledger's rows of every case, by prefix and table."""
    by_case = {p: Tables({name: [] for name in ("credit_ledger", "balances", "slices",
                                                "rejected", "topups")})
               for p in prefixes}  # fmt: skip

    def case_of(account: str) -> Tables:
        return by_case[account[:5]]

    for day, frames in ledger.days.items():
        for e in frames["credit_ledger"].iter_rows(named=True):
            case_of(e["account_id"]).add("credit_ledger", entry_row(day, e))
        for b in frames["balances"].iter_rows(named=True):
            row = (day, b["account_id"], b["currency"], *(b[c] for c in BALANCE_COLUMNS))
            case_of(b["account_id"]).add("balances", row)
        for s in frames["_state/grants"].iter_rows(named=True):
            case_of(s["account_id"]).add("slices", slice_row(day, s))
        for a in frames["alerts"].iter_rows(named=True):
            if a["kind"] == "transfer_rejected":
                case_of(a["account_id"]).add("rejected", (day, a["ref"]))
        for r in frames["topups"].iter_rows(named=True):
            case_of(r["account_id"]).add("topups", (day, r["grant_id"], r["account_id"],
                                                    r["currency"], r["effective_on"],
                                                    r["amount"], r["expires_on"]))  # fmt: skip
    return {p: t.done() for p, t in by_case.items()}


def run_ledger(root: Path, named_cases: list[dict]) -> Ledger:
    def cell(value: object) -> object:
        if isinstance(value, D):
            return format(value, "f")  # plain text: the files take no exponent
        return ";".join(value) if isinstance(value, tuple) else value

    def rows(kind: str) -> list[dict]:
        return [{k: cell(v) for k, v in row.items()} for case in named_cases for row in case[kind]]

    ledger = Ledger(root, grants=rows("grants"), transfers=rows("transfers"),
                    topups=rows("topups"))  # fmt: skip
    for day in DAYS:
        charges = [(a, p, cell(c)) for case in named_cases for a, p, c in case["charges"][day]]
        ledger.run(day, charges)
    return ledger


def differences(expected: dict, actual: dict) -> dict[str, tuple[list, list]]:
    """Per table, the rows only the model has and the rows only the ledger has."""
    out = {}
    for table in expected:
        e, a = expected[table], actual[table]
        if e != a:
            only_e = [r for r in e if r not in a]
            only_a = [r for r in a if r not in e]
            out[table] = (only_e[:6], only_a[:6])
    return out


def _free_and_paid(unit_cost: str) -> dict:
    return {
        "grant_id": f"G-{unit_cost}", "account_id": "a", "currency": "flex_credit",
        "amount": D(5), "effective_on": DAYS[0], "expires_on": None, "priority": None,
        "products": (), "unit_cost": D(unit_cost), "voided_on": None,
        "rollover_max": None, "rollover_days": None,
    }  # fmt: skip


# one case written by hand, first in every batch: a free and a paid grant of one account
# and a charge that takes part of them, so the burn order is always exercised (the drawn
# cases reach it only most of the time; test_a_wrong_burn_order_is_caught relies on it)
FREE_AND_PAID = {
    "grants": [_free_and_paid("0"), _free_and_paid("0.5")],
    "transfers": [],
    "topups": [],
    "charges": {day: ({("a", "P1"): D(3)} if day == DAYS[1] else {}) for day in DAYS},
}


def collect_cases() -> list[dict]:
    drawn: list[dict] = [named(FREE_AND_PAID, 0)]

    @settings(max_examples=EXAMPLES, deadline=None, database=None,
              suppress_health_check=[HealthCheck.too_slow])  # fmt: skip
    @given(case=cases())
    def draw(case: dict) -> None:
        named_case = named(case, len(drawn))
        assert_model_invariants(named_case, model_of(named_case))
        drawn.append(named_case)

    draw()
    return drawn


@pytest.fixture(scope="module")
def batch(tmp_path_factory) -> tuple[list[dict], dict[str, dict[str, list[tuple]]]]:
    """The drawn cases and the ledger's rows of each, from one run of the days."""
    named_cases = collect_cases()
    ledger = run_ledger(tmp_path_factory.mktemp("reference"), named_cases)
    return named_cases, ledger_tables(ledger, [c["prefix"] for c in named_cases])


def compare(
    named_cases: list[dict], actual: dict, model: Callable[[dict], ReferenceLedger] = model_of
) -> list[tuple[int, dict, dict]]:
    """(size, case, differences) of every case where model and ledger differ."""
    failed = []
    for case in named_cases:
        diff = differences(model_tables(model(case)), actual[case["prefix"]])
        if diff:
            size = (
                len(case["grants"])
                + len(case["transfers"])
                + len(case["topups"])
                + sum(len(c) for c in case["charges"].values())
            )
            failed.append((size, case, diff))
    return sorted(failed, key=lambda f: (f[0], f[1]["prefix"]))


def test_ledger_equals_the_reference_model(batch):
    named_cases, actual = batch
    assert len(named_cases) >= 200
    failed = compare(named_cases, actual)
    assert not failed, (
        f"{len(failed)} of {len(named_cases)} cases differ; the smallest: {failed[0][1]}\n"
        f"(model rows, ledger rows) per table: {failed[0][2]}"
    )


def test_the_cases_reach_every_rule(batch):
    """The random cases exercise what they claim to: every entry type, accepted and
    rejected transfers with and without a currency, product restrictions, overdrafts."""
    named_cases, actual = batch
    kinds = {r[4] for rows in actual.values() for r in rows["credit_ledger"]}
    assert kinds >= {"grant", "transfer_in", "transfer_out", "consume", "expire", "void",
                     "overdraft", "rollover_in", "rollover_out"}  # fmt: skip
    rejected = {r[1] for rows in actual.values() for r in rows["rejected"]}
    transfers = {t["transfer_id"]: t for c in named_cases for t in c["transfers"]}
    accepted = {r[7] for rows in actual.values() for r in rows["credit_ledger"]
                if r[4] == "transfer_out"}  # fmt: skip
    for ids in (rejected, accepted):
        assert {transfers[i]["currency"] is None for i in ids} == {True, False}
    assert sum(len(rows["topups"]) for rows in actual.values()) > 0
    overdraft_currencies = {r[3] for rows in actual.values() for r in rows["credit_ledger"]
                            if r[4] == "overdraft"}  # fmt: skip
    assert len(overdraft_currencies) > 1


def test_a_wrong_burn_order_is_caught(batch, monkeypatch):
    """The comparison has teeth: a model that burns paid credits before free ones (unit
    cost descending) differs from the ledger on some drawn case."""
    named_cases, actual = batch
    burn_key = Slice.burn_key

    def paid_first(s: Slice) -> tuple:
        key = list(burn_key(s))
        key[3] = -key[3]
        return tuple(key)

    monkeypatch.setattr(Slice, "burn_key", paid_first)
    assert compare(named_cases, actual)
