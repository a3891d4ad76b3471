"""Revenue (SPEC §9): golden rows computed by hand, a property against an independent
Python valuation of the ledger, and the conservation audit stopping publication.

Fast and in memory: each day runs the real credit ledger and value pass
(``compute_credit_day``) on DuckDB, with hand-written charges instead of the charging
steps; a day's state is handed to the next through the files the job would publish
(``_state/grants``, ``balances``, ``forecast``, ``revenue`` under a scratch OUT).
Grants use unit_cost 0.333333 so that almost every product needs rounding: the values
in the comments are round_half_even(unit_cost x drawn, 6), worked out by hand.
"""

from __future__ import annotations

import dataclasses
from collections import defaultdict
from datetime import date, timedelta
from decimal import ROUND_HALF_EVEN, Context
from decimal import Decimal as D
from pathlib import Path

import duckdb
import polars as pl
import pyarrow as pa
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from flexbatch.errors import AuditError
from flexbatch.ingest.credit_inputs import load_grants, load_transfers
from flexbatch.job.day import connect
from flexbatch.ledger.contract import CreditInputs, CreditState
from flexbatch.ledger.credit_ledger import ledger
from flexbatch.ledger.state import read_credit_state
from flexbatch.schemas import OUTPUT_MODELS
from flexbatch.tables import empty_select, table

from helpers import write_grants, write_transfers

D1 = date(2026, 3, 1)
UC = "0.333333"
MICRO = D("0.000001")
DEC_CONTEXT = Context(prec=60)  # a product of two DECIMAL(38, 6) has up to 64 digits
# the published tables the next day reads back (the rest stay in memory)
STATE_TABLES = ("_state/grants", "balances", "forecast", "revenue")


def day(n: int) -> date:
    return D1 + timedelta(days=n - 1)


def grant(grant_id: str, amount: str, *, account: str = "acme", **kw: str) -> dict:
    return {
        "grant_id": grant_id,
        "account_id": account,
        "currency": "flex_credit",
        "amount": amount,
        "effective_on": day(1).isoformat(),
        "unit_cost": UC,
        **kw,
    }


def transfer(transfer_id: str, n: int, amount: str, src: str, dst: str) -> dict:
    return {
        "transfer_id": transfer_id,
        "date": day(n).isoformat(),
        "from_account": src,
        "to_account": dst,
        "amount": amount,
    }


def _charges(con: duckdb.DuckDBPyConnection, n: int, rows: list[tuple[str, str]]) -> None:
    """Table ``charges`` of day n: one charge per (account, credits), product ADH, each in
    its own plan (so they burn in list order)."""
    con.execute(
        "create or replace temp table charges as select * exclude (date) "
        f"from ({empty_select('charges')})"
    )
    for i, (account, credits) in enumerate(rows):
        con.execute(
            "insert into charges (account_id, scope_id, product_code, plan_id, tier, "
            "units, credits, transaction_id, algorithm, billing_period, threshold_scope) "
            "values (?, 'ns-1', 'ADH', ?, 1, ?, ?, ?, 'sum', 'day', 'account')",
            [account, f"P{i:03d}", D(credits), D(credits), f"tx-{n}-{i}"],
        )


def _no_usage_alerts(con: duckdb.DuckDBPyConnection) -> pa.Table:
    """Charging's user_limit_exceeded alerts, none: no user-limited plan."""
    return con.sql(
        "select account_id, kind, severity, message, amount, ref "
        f"from ({empty_select('alerts')}) as empty"
    ).to_arrow_table()


def run_days(
    tmp: Path,
    grants: list[dict],
    charges: dict[int, list[tuple[str, str]]],
    last: int,
    transfers: list[dict] = (),  # type: ignore[assignment]
    tamper=None,
) -> dict[int, dict[str, pl.DataFrame]]:
    """Days 1..last of the credit ledger; returns each day's frames by table path.
    ``tamper(state, n)`` returns the state day n's ledger starts from (to plant a fault)."""
    inp, out = tmp / "in", tmp / "out"
    inp.mkdir(parents=True, exist_ok=True)
    write_grants(inp, grants)
    write_transfers(inp, list(transfers))
    grants_frame, transfers_frame = load_grants(inp), load_transfers(inp)
    days: dict[int, dict[str, pl.DataFrame]] = {}
    for n in range(1, last + 1):
        previous = day(n - 1) if n > 1 else None
        con = connect()
        try:
            _charges(con, n, charges.get(n, []))
            inputs = CreditInputs(
                charges=con.table("charges").to_arrow_table(),
                usage_alerts=_no_usage_alerts(con),
                grants=grants_frame,
                transfers=transfers_frame,
                topup_rules=None,
                day=day(n),
                previous_day=previous,
            )
            state = read_credit_state(out, day(n), previous, con)
            if tamper is not None:
                state = tamper(state, n)
            frames = ledger(con, inputs, state).tables()
        finally:
            con.close()
        days[n] = {path: frame.collect() for path, frame in frames.items()}
        for path in days[n]:
            OUTPUT_MODELS[path].validate(days[n][path])
        for path in STATE_TABLES:
            folder = out / table(path).partition(day(n))
            folder.mkdir(parents=True)
            days[n][path].write_parquet(folder / "part-0.parquet")
    return days


def values(frame: pl.DataFrame, *cols: str) -> list[tuple]:
    return sorted(frame.select(cols).rows(), key=repr)


def revenue_row(days, n: int, account: str = "acme") -> dict:
    rows = days[n]["revenue"].filter(pl.col("account_id") == account).to_dicts()
    assert len(rows) == 1, rows
    return {k: v for k, v in rows[0].items() if isinstance(v, D)}


def flows(opening, purchased, tin, tout, recognised, breakage, closing) -> dict:
    keys = (
        "deferred_opening", "purchased", "transferred_in_value", "transferred_out_value",
        "recognised", "breakage", "deferred_closing",
    )  # fmt: skip
    numbers = (opening, purchased, tin, tout, recognised, breakage, closing)
    row = dict(zip(keys, map(D, numbers), strict=True))
    row["voided_value"] = D(0)
    return row


# --- golden rows ---------------------------------------------------------------------


def test_a_grant_drawn_in_three_pieces_recognises_exactly_its_value(tmp_path):
    # 10 credits at 0.333333: value round(3.33333) = 3.333330.
    # day 1 draws 1.5: round(0.4999995) = 0.500000 (half-even: ...9|5 rounds up)
    # day 2 draws 1.5: round(0.999999) - 0.500000 = 0.499999
    # day 3 draws 7 and empties it: all the rest, 3.333330 - 0.999999 = 2.333331
    days = run_days(
        tmp_path,
        [grant("G", "10")],
        {1: [("acme", "1.5")], 2: [("acme", "1.5")], 3: [("acme", "4"), ("acme", "3")]},
        last=3,
    )
    draws = [
        values(days[n]["revenue_entries"], "entry_type", "credits", "value", "value_remaining")
        for n in (1, 2, 3)
    ]
    assert draws[0] == sorted(
        [
            ("consume", D("-1.5"), D("-0.500000"), D("2.833330")),
            ("grant", D("10"), D("3.333330"), D("3.333330")),
        ],
        key=repr,
    )
    assert draws[1] == [("consume", D("-1.5"), D("-0.499999"), D("2.333331"))]
    # day 3 in two pieces: 4 (drawn 3 -> 7: round(2.333331) - 0.999999 = 1.333332), then 3
    # empties the slice: 2.333331 - 1.333332 = 0.999999
    assert draws[2] == sorted(
        [
            ("consume", D("-4"), D("-1.333332"), D("0.999999")),
            ("consume", D("-3"), D("-0.999999"), D("0")),
        ],
        key=repr,
    )
    assert revenue_row(days, 1) == flows(0, "3.333330", 0, 0, "0.5", 0, "2.833330")
    assert revenue_row(days, 2) == flows("2.833330", 0, 0, 0, "0.499999", 0, "2.333331")
    assert revenue_row(days, 3) == flows("2.333331", 0, 0, 0, "2.333331", 0, 0)
    state = days[3]["_state/grants"].row(0, named=True)
    assert (state["remaining"], state["drawn"], state["value"]) == (0, D("10"), D("3.333330"))


def test_a_transferred_half_carries_its_value(tmp_path):
    # 10 credits at 0.333333 = 3.333330. Day 1: 4.5 to initech, worth
    # round(0.333333 x 4.5 = 1.4999985) = 1.499998 (half-even: ...8|5 stays even).
    # Day 2 initech draws 1.5 (0.500000), day 3 the other 3, emptying its slice: the value
    # moved less what was drawn, 1.499998 - 0.500000 = 0.999998 (not round(0.999999)).
    days = run_days(
        tmp_path,
        [grant("G", "10")],
        {2: [("initech", "1.5")], 3: [("initech", "3")]},
        last=3,
        transfers=[transfer("T1", 1, "4.5", "acme", "initech")],
    )
    assert revenue_row(days, 1, "acme") == flows(0, "3.333330", 0, "1.499998", 0, 0, "1.833332")
    assert revenue_row(days, 1, "initech") == flows(0, 0, "1.499998", 0, 0, 0, "1.499998")
    assert revenue_row(days, 2, "initech") == flows("1.499998", 0, 0, 0, "0.5", 0, "0.999998")
    assert revenue_row(days, 3, "initech") == flows("0.999998", 0, 0, 0, "0.999998", 0, 0)
    assert revenue_row(days, 3, "acme") == flows("1.833332", 0, 0, 0, 0, 0, "1.833332")
    assert values(days[1]["revenue_entries"], "account_id", "grant_id", "entry_type", "value") == (
        sorted(
            [
                ("acme", "G", "grant", D("3.333330")),
                ("acme", "G", "transfer_out", D("-1.499998")),
                ("initech", "G@T1", "transfer_in", D("1.499998")),
            ],
            key=repr,
        )
    )


def test_a_transfer_received_and_sent_on_the_same_day_moves_its_value(tmp_path):
    # acme -> initech 4.5 (1.499998), then initech sends the whole slice on to umbrella:
    # that draw empties G@T1, so it carries all of its value, 1.499998 (resolved through
    # the day's chain of moves)
    days = run_days(
        tmp_path,
        [grant("G", "10")],
        {1: [("umbrella", "4.5")]},
        last=1,
        transfers=[
            transfer("T1", 1, "4.5", "acme", "initech"),
            transfer("T2", 1, "4.5", "initech", "umbrella"),
        ],
    )
    assert revenue_row(days, 1, "initech") == flows(0, 0, "1.499998", "1.499998", 0, 0, 0)
    assert revenue_row(days, 1, "umbrella") == flows(0, 0, "1.499998", 0, "1.499998", 0, 0)


def test_an_expiry_books_the_rest_as_breakage(tmp_path):
    # 10 at 0.333333 (3.333330) expiring on day 3; day 1 draws 1.5 (0.500000); on day 3 the
    # 8.5 left expire and carry the rest of the value: 2.833330 of breakage. The row stays
    # (every day from the first slice), at 0, on day 4.
    days = run_days(
        tmp_path,
        [grant("G", "10", expires_on=day(3).isoformat())],
        {1: [("acme", "1.5")]},
        last=4,
    )
    assert revenue_row(days, 3) == flows("2.833330", 0, 0, 0, 0, "2.833330", 0)
    assert values(days[3]["revenue_entries"], "entry_type", "credits", "value") == [
        ("expire", D("-8.5"), D("-2.833330"))
    ]
    assert revenue_row(days, 4) == flows(0, 0, 0, 0, 0, 0, 0)


def test_overdraft_carries_no_value_and_free_credits_are_worth_zero(tmp_path):
    # 2 free credits, then 1 at 0.333333 (burn order: free first); a charge of 5 takes both
    # and overdraws 2: recognised = the paid credit only, 0.333333
    days = run_days(
        tmp_path,
        [grant("FREE", "2", unit_cost="0"), grant("PAID", "1")],
        {1: [("acme", "5")]},
        last=1,
    )
    assert revenue_row(days, 1) == flows(0, "0.333333", 0, 0, "0.333333", 0, 0)
    entries = days[1]["revenue_entries"]
    assert "overdraft" not in entries["entry_type"].to_list()


def test_one_row_per_cost_currency(tmp_path):
    days = run_days(
        tmp_path,
        [grant("U", "3"), grant("E", "3", cost_currency="EUR", unit_cost="2")],
        {},
        last=1,
    )
    assert values(days[1]["revenue"], "cost_currency", "purchased") == [
        ("EUR", D("6")),
        ("USD", D("0.999999")),
    ]


# --- the audit stops publication -------------------------------------------------------


def test_a_planted_violation_stops_the_day_before_anything_is_published(tmp_path):
    # yesterday's published deferred_closing raised by one micro-unit: today's opening no
    # longer matches what the slices hold, so the conservation audit fails and the day
    # returns no frame at all (the job publishes nothing: AuditError, exit 1). acme is
    # charged on day 2 too: an account without activity is carried forward, its opening
    # and closing both yesterday's, and is checked against its slices the next day it
    # changes (test_carry_forward)
    def plant(state: CreditState, n: int) -> CreditState:
        if n != 2:
            return state
        con = duckdb.connect()
        con.register("revenue_prev", state.revenue_prev)
        raised = con.sql(
            "select * replace (cast(deferred_closing + 0.000001 as decimal(38, 6)) "
            "as deferred_closing) from revenue_prev"
        ).to_arrow_table()
        return dataclasses.replace(state, revenue_prev=raised)

    with pytest.raises(AuditError, match="audit_revenue_conservation"):
        run_days(
            tmp_path,
            [grant("G", "10")],
            {1: [("acme", "1.5")], 2: [("acme", "0.5")]},
            last=2,
            tamper=plant,
        )
    assert not (tmp_path / "out" / table("revenue").partition(day(2))).exists()


def test_an_entry_type_without_a_value_rule_stops_the_day(tmp_path, monkeypatch):
    # consume loses its value rule: the audit names the entries rather than drop their value
    import flexbatch.ledger.revenue as revenue

    original = revenue.run_step

    def without_consume(con, step, **kw):
        rows = original(con, step, **kw)
        if step == "value_entry_types":
            con.execute("delete from value_entry_types where entry_type = 'consume'")
        return rows

    monkeypatch.setattr(revenue, "run_step", without_consume)
    with pytest.raises(AuditError, match="audit_revenue_values"):
        run_days(tmp_path, [grant("G", "10")], {1: [("acme", "1.5")]}, last=1)


# --- property: per slice Σ draws = value, per row the identity ----------------------------


def _round(x: D) -> D:
    return x.quantize(MICRO, rounding=ROUND_HALF_EVEN)


# --- the rounding macro: exact against Python's decimal ----------------------------------

# (unit_cost, credits) pairs whose product is a tie at the sixth place with an even digit
# below (half up would round away: 0.4999995, 157.8117485), an odd one (0.0000035), a
# near tie either side, a product with 26 integer digits (the bound of the macro's
# comment), ties with 19 integer digits and zero; each product is DECIMAL(38, 12) like
# the ledger's
ROUNDING_CASES = [
    ("0.333333", "1.5"),
    ("0.950000", "166.117630"),
    ("0.000005", "0.5"),
    ("0.000007", "0.5"),
    ("0.000001", "2.500001"),
    ("0.000001", "2.499999"),
    ("999999.999999", "99999999999999999999.999999"),
    ("0.5", "12345678901234567890.123457"),
    ("0.5", "12345678901234567890.123459"),
    ("0.333333", "0"),
]


def _rounded_in_duckdb(pairs: list[tuple[str, str]]) -> list[D]:
    from flexbatch.ledger import revenue

    con = duckdb.connect()
    revenue.register_money_rounding(con)
    rows = ", ".join(f"({i}, {uc}, {credits})" for i, (uc, credits) in enumerate(pairs))
    return [
        v
        for (v,) in con.execute(
            "select round_half_even_6(cast(u as decimal(38, 6)) * cast(c as decimal(38, 6))) "
            f"from (values {rows}) as t (i, u, c) order by i"
        ).fetchall()
    ]


def _exact_round(unit_cost: str, credits: str) -> D:
    product = D(unit_cost).quantize(MICRO) * D(credits).quantize(MICRO)  # exact: 26+12 digits
    return product.quantize(MICRO, rounding=ROUND_HALF_EVEN, context=DEC_CONTEXT)


def test_round_half_even_6_rounds_ties_to_even_exactly():
    assert _rounded_in_duckdb(ROUNDING_CASES) == [_exact_round(*p) for p in ROUNDING_CASES]
    # the hand-worked ones: 0.4999995 -> 0.500000 (9 odd), 157.8117485 -> 157.811748,
    # 0.0000035 -> 0.000004, 0.0000025 (0.000005 x 0.5) -> 0.000002
    assert _rounded_in_duckdb(ROUNDING_CASES[:4]) == [
        D("0.500000"),
        D("157.811748"),
        D("0.000002"),
        D("0.000004"),
    ]


@settings(max_examples=25, deadline=None)
@given(
    pairs=st.lists(
        st.tuples(
            st.integers(0, 10**12).map(lambda n: str(D(n).scaleb(-6))),
            st.one_of(st.integers(0, 10**8), st.integers(0, 10**26 - 1), st.just(500_000)).map(
                lambda n: str(D(n).scaleb(-6))
            ),
        ),
        min_size=1,
        max_size=200,
    )
)
def test_round_half_even_6_matches_python_decimal(pairs):
    assert _rounded_in_duckdb(pairs) == [_exact_round(*p) for p in pairs]


def python_values(days, last: int, unit_cost: dict[str, D]) -> dict[tuple, D]:
    """An independent valuation of every ledger entry from ``credit_ledger`` alone (SPEC §9,
    a loop in Python): each slice's draws in the order they happened (entry_order, then
    grant_remaining descending), a slice moved in valued by the draw that moved it;
    ``unit_cost`` by original grant id (a transferred slice keeps its grant's)."""
    slice_value: dict[tuple[str, str], D] = {}
    slice_size: dict[tuple[str, str], D] = {}
    drawn: dict[tuple[str, str], D] = defaultdict(D)
    entry_value: dict[tuple, D] = {}
    for n in range(1, last + 1):
        ledger = days[n]["credit_ledger"].filter(pl.col("grant_id").is_not_null())
        pending = ledger.sort(["entry_order", "grant_remaining"], descending=[False, True])
        pending = pending.to_dicts()
        while pending:  # a slice moved in waits for the draw that moved it
            later = []
            for e in pending:
                key = (e["account_id"], e["grant_id"])
                uc = unit_cost[e["grant_id"].split("@")[0]]
                if e["entry_type"] == "grant":
                    value = slice_value[key] = _round(e["amount"] * uc)
                    slice_size[key] = e["amount"]
                elif e["entry_type"] == "transfer_in":
                    source = e["grant_id"].rsplit("@", 1)[0]
                    out = [
                        v for k, v in entry_value.items()
                        if k[1:] == (source, "transfer_out", e["ref"], n)
                    ]  # fmt: skip
                    if not out:
                        later.append(e)
                        continue
                    value = slice_value[key] = -out[0]
                    slice_size[key] = e["amount"]
                elif key not in slice_value:
                    later.append(e)
                    continue
                else:
                    before = drawn[key]
                    drawn[key] = after = before - e["amount"]
                    if after == slice_size[key]:  # it empties the slice: all that is left
                        value = -(slice_value[key] - _round(uc * before))
                    else:
                        value = -(_round(uc * after) - _round(uc * before))
                entry_value[(e["account_id"], e["grant_id"], e["entry_type"], e["ref"], n)] = value
            assert len(later) < len(pending), later
            pending = later
    return entry_value


LAST = 5  # days per example
amounts = st.decimals(min_value=D("0.5"), max_value=D("40"), places=1)
unit_costs = st.decimals(min_value=D("0"), max_value=D("3"), places=6)
grant_rows = st.lists(
    st.tuples(
        st.sampled_from(["acme", "initech"]),
        amounts,
        unit_costs,
        st.sampled_from(["USD", "EUR"]),
        st.one_of(st.none(), st.integers(min_value=2, max_value=6)),
        st.integers(min_value=1, max_value=3),
    ),
    min_size=1,
    max_size=4,
)
charge_rows = st.lists(
    st.tuples(st.integers(1, LAST), st.sampled_from(["acme", "initech"]), amounts), max_size=8
)
transfer_rows = st.lists(
    st.tuples(st.integers(1, LAST), st.sampled_from(["acme", "initech"]), amounts), max_size=3
)


@settings(
    max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(grants=grant_rows, charges=charge_rows, transfers=transfer_rows)
def test_values_add_up_per_slice_and_revenue_conserves(
    tmp_path_factory, grants, charges, transfers
):
    tmp = tmp_path_factory.mktemp("revenue")
    grant_csv = [
        grant(
            f"G{i}",
            str(amount),
            account=account,
            unit_cost=str(uc),
            cost_currency=cost_currency,
            effective_on=day(start).isoformat(),
            **({"expires_on": day(start + expires).isoformat()} if expires else {}),
        )
        for i, (account, amount, uc, cost_currency, expires, start) in enumerate(grants)
    ]
    by_day: dict[int, list[tuple[str, str]]] = defaultdict(list)
    for n, account, credits in charges:
        by_day[n].append((account, str(credits)))
    moves = [
        transfer(f"T{i}", n, str(amount), src, "initech" if src == "acme" else "acme")
        for i, (n, src, amount) in enumerate(transfers)
    ]
    days = run_days(tmp, grant_csv, by_day, last=LAST, transfers=moves)

    # every entry's value equals the independent valuation
    costs = {g["grant_id"]: D(g["unit_cost"]) for g in grant_csv}
    expected = python_values(days, LAST, costs)
    got = {
        (r["account_id"], r["grant_id"], r["entry_type"], r["ref"], n): r["value"]
        for n in days
        for r in days[n]["revenue_entries"].to_dicts()
    }
    assert got == expected

    # per slice: its value = the value its draws took + what it still holds at the end
    opened: dict[tuple, D] = defaultdict(D)
    taken: dict[tuple, D] = defaultdict(D)
    for (account, grant_id, entry_type, _, _), v in got.items():
        (opened if entry_type in ("grant", "transfer_in") else taken)[(account, grant_id)] += v
    held = {
        (r["account_id"], r["grant_id"]): (r["value"], r["remaining"], r["drawn"], r["unit_cost"])
        for r in days[LAST]["_state/grants"].to_dicts()
    }
    for key, value in opened.items():
        if key in held:
            v, remaining, drawn_, uc = held[key]
            still = v - _round(uc * drawn_) if remaining > 0 else D(0)
        else:
            still = D(0)  # expired: its last draw took the rest
        assert value + taken[key] == still, key

    # the last day's deferred value is what the slices still hold
    closing: dict[str, D] = defaultdict(D)
    deferred = {
        (r["account_id"], r["cost_currency"]): r["deferred_closing"]
        for r in days[LAST]["revenue"].to_dicts()
    }
    for r in days[LAST]["_state/grants"].to_dicts():
        still = r["value"] - _round(r["unit_cost"] * r["drawn"]) if r["remaining"] > 0 else D(0)
        closing[(r["account_id"], r["cost_currency"])] += still
    assert {k: v for k, v in deferred.items() if v or k in closing} == dict(closing)

    # per account, credit currency and cost currency: the identity, every day, and each
    # day's opening is the day before's closing
    for n in days:
        for r in days[n]["revenue"].to_dicts():
            assert (
                r["deferred_opening"] + r["purchased"] + r["transferred_in_value"]
                - r["transferred_out_value"] - r["recognised"] - r["breakage"]
                - r["voided_value"]
            ) == r["deferred_closing"]  # fmt: skip
            if n > 1:
                before = days[n - 1]["revenue"].filter(
                    (pl.col("account_id") == r["account_id"])
                    & (pl.col("cost_currency") == r["cost_currency"])
                )
                opening = before["deferred_closing"].sum() if before.height else D(0)
                assert r["deferred_opening"] == opening


# --- entry types of SPEC §10 (void, rollover), on the value pass alone ---------------------


def _value_pass(
    entries: list[tuple], prev: list[tuple], end: list[tuple], opening: str
) -> duckdb.DuckDBPyConnection:
    """The value pass over hand-written entries: ``prev`` slices (grant_id, remaining,
    drawn, value), ``end`` slices (grant_id, remaining), ``entries`` (grant_id, entry_type,
    amount, grant_remaining), yesterday's deferred ``opening``; one account, flex_credit,
    unit_cost 0.333333, USD."""
    from flexbatch.ledger import revenue
    from flexbatch.ledger.credit_ledger import SLICE_COLUMNS

    con = duckdb.connect()
    slice_cols = (
        "'acme' as account_id, grant_id, 'flex_credit' as currency, 10 as priority, "
        "cast(null as date) as expires_on, 0.333333::decimal(38, 6) as unit_cost, "
        "'USD' as cost_currency, date '2026-03-01' as effective_on, '' as products, "
        "split_part(grant_id, '~', 1) as origin_id, grant_id like '%~rollover' as rolled_over"
    )
    con.execute(
        f"create table slices_prev as select {slice_cols}, remaining::decimal(38, 6) as "
        "remaining, drawn::decimal(38, 6) as drawn, value::decimal(38, 6) as value "
        "from (values " + ", ".join(map(str, prev)) + ") as t (grant_id, remaining, drawn, value)"
    )
    con.execute(
        f"create table slices as select {slice_cols}, remaining::decimal(38, 6) as remaining "
        "from (values " + ", ".join(map(str, end)) + ") as t (grant_id, remaining)"
    )
    con.execute(
        "create table ledger_entries as select 'acme' as account_id, grant_id, "
        "'flex_credit' as currency, entry_type, amount::decimal(38, 6) as amount, "
        "null::varchar as product_code, null::varchar as ref, "
        "grant_remaining::decimal(38, 6) as grant_remaining, 1 as entry_order from (values "
        + ", ".join(map(str, entries))
        + ") as t (grant_id, entry_type, amount, grant_remaining)"
    )
    con.execute(
        "create table revenue_prev as select 'acme' as account_id, 'flex_credit' as currency, "
        "'USD' as cost_currency, ?::decimal(38, 6) as deferred_closing",
        [opening],
    )
    revenue.compute_revenue(con, SLICE_COLUMNS)
    for audit in revenue.AUDITS:
        from flexbatch.resources import sql_text

        assert con.sql(sql_text(audit)).fetchall() == [], audit
    return con


def test_rollover_moves_its_value_and_the_rest_is_breakage():
    # G: 10 credits at 0.333333 (3.333330), 1.5 drawn (0.500000), expires with 8.5 left;
    # 5 roll over to G~rollover: drawn 1.5 -> 6.5, round(2.1666645) = 2.166664, so the
    # rollover carries 1.666664; the 3.5 expiring empty G: 3.333330 - 2.166664 = 1.166666.
    # Out and in cancel inside the row; the rolled-over slice holds 1.666664.
    con = _value_pass(
        entries=[
            ("G", "rollover_out", "-5", "3.5"),
            ("G", "expire", "-3.5", "0"),
            ("G~rollover", "rollover_in", "5", "5"),
        ],
        prev=[("G", "8.5", "1.5", "3.333330")],
        end=[("G~rollover", "5")],
        opening="2.833330",
    )
    assert con.sql(
        "select grant_id, entry_type, value from revenue_entries order by all"
    ).fetchall() == [
        ("G", "expire", D("-1.166666")),
        ("G", "rollover_out", D("-1.666664")),
        ("G~rollover", "rollover_in", D("1.666664")),
    ]
    assert con.sql(
        "select deferred_opening, breakage, deferred_closing from revenue"
    ).fetchall() == [(D("2.833330"), D("1.166666"), D("1.666664"))]
    assert con.sql("select drawn, value from slices_valued").fetchall() == [(D("0"), D("1.666664"))]


def test_a_void_books_the_value_left_as_voided():
    # V: 4 credits at 0.333333 = round(1.333332) = 1.333332, nothing drawn, voided whole
    con = _value_pass(
        entries=[("V", "void", "-4", "0")],
        prev=[("V", "4", "0", "1.333332")],
        end=[("V", "0")],
        opening="1.333332",
    )
    assert con.sql(
        "select deferred_opening, voided_value, recognised, breakage, deferred_closing from revenue"
    ).fetchall() == [(D("1.333332"), D("1.333332"), D(0), D(0), D(0))]
