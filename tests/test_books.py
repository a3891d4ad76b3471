"""The books (SPEC §8) as pure functions over frames: golden statements and corrections
computed by hand, and a Hypothesis property over random histories, late data, changed
configurations and closes that the two invariants of §8 hold exactly."""

from __future__ import annotations

import hashlib
from datetime import date, datetime, timedelta
from decimal import Decimal

import polars as pl
from hypothesis import given, settings
from hypothesis import strategies as st

from flexbatch.books import months as m
from flexbatch.books.corrections import compute_corrections, empty
from flexbatch.books.statements import closed, compute_statements
from flexbatch.schemas import OUTPUT_MODELS

D = Decimal
FLOWS = ("granted", "transferred_in", "transferred_out", "consumed", "expired", "voided")
DEBITS = ("transferred_out", "consumed", "expired", "voided")
MEASURES = (*FLOWS, "overdraft")
CLOSED_AT = datetime(2026, 11, 1, 12, 0)


def validate_statements(frame: pl.DataFrame) -> None:
    """The published model, one month (a partition) at a time."""
    for _, month in frame.group_by("month"):
        OUTPUT_MODELS["statements"].validate(month.drop("month"))


def balances(rows: list[dict]) -> pl.DataFrame:
    """Balances rows from (account, currency, date, flows...): opening chained from the
    previous day's available per account and currency, available by conservation."""
    out, last = [], {}
    for row in sorted(rows, key=lambda r: (r["account_id"], r["currency"], r["date"])):
        key = (row["account_id"], row["currency"])
        flows = {f: D(str(row.get(f, 0))) for f in MEASURES}
        opening = last.get(key, D(0))
        available = (
            opening
            + sum(flows[f] for f in FLOWS if f not in DEBITS)
            - sum(flows[f] for f in DEBITS)
        )
        last[key] = available
        out.append({**row, **flows, "opening": opening, "available": available})
    money = pl.Decimal(38, 6)
    return pl.DataFrame(
        out,
        schema={
            "account_id": pl.String,
            "currency": pl.String,
            "date": pl.Date,
            **{c: money for c in (*MEASURES, "opening", "available")},
        },
    )


def test_statement_golden_rows_from_two_months_of_balances():
    frame = balances(
        [
            {"account_id": "a", "currency": "fc", "date": date(2026, 9, 29), "granted": "10"},
            {"account_id": "a", "currency": "fc", "date": date(2026, 9, 30), "consumed": "3",
             "voided": "1"},
            {"account_id": "a", "currency": "fc", "date": date(2026, 10, 1), "consumed": "1",
             "overdraft": "2"},
        ]
    )  # fmt: skip
    got = compute_statements(frame, None, "r1")
    validate_statements(got)
    sep, oct_ = got.to_dicts()
    assert sep["statement_id"] == "a:2026-09:fc"
    assert (sep["first_day"], sep["last_day"]) == (date(2026, 9, 29), date(2026, 9, 30))
    assert (sep["opening"], sep["granted"], sep["consumed"], sep["voided"]) == (0, 10, 3, 1)
    assert sep["closing"] == D("6") and sep["status"] == "open" and sep["closed_at"] is None
    assert (oct_["opening"], oct_["closing"], oct_["overdraft"]) == (6, 5, 2)
    assert oct_["charged"] == D("3")  # consumed 1 + overdraft 2
    assert oct_["corrections_available"] == 0


def test_a_late_change_is_booked_once_in_the_first_open_month():
    rows = [
        {"account_id": "a", "currency": "fc", "date": date(2026, 9, 30), "granted": "10",
         "consumed": "2"},
        {"account_id": "a", "currency": "fc", "date": date(2026, 10, 1), "consumed": "1"},
    ]  # fmt: skip
    issued = closed(
        compute_statements(balances(rows), None, "r1").filter(pl.col("month") == date(2026, 9, 1)),
        CLOSED_AT,
        "r1",
    )
    rows[0]["consumed"], rows[0]["overdraft"] = "5", "1"  # late usage on 30 September
    restated = pl.DataFrame(
        {
            "date": [date(2026, 9, 30)],
            "run_id": ["r2"],
            "account_id": ["a"],
            "currency": ["fc"],
            "reason": ["inputs_changed"],
        }
    )
    now = balances(rows)
    got = compute_corrections(now, issued, None, restated, date(2026, 10, 1), "r2")
    OUTPUT_MODELS["corrections"].validate(got)
    (row,) = got.to_dicts()
    assert (row["consumed_delta"], row["overdraft_delta"], row["available_delta"]) == (3, 1, -3)
    assert row["reason"] == "inputs_changed" and row["booked_month"] == date(2026, 10, 1)
    # booked: the same comparison books nothing more, and the id is stable
    again = compute_corrections(now, issued, got, restated, date(2026, 10, 1), "r3")
    assert again.height == 0
    assert compute_corrections(now, issued, None, restated, date(2026, 10, 1), "r9")[
        "correction_id"
    ].to_list() == [row["correction_id"]]
    october = compute_statements(now.filter(pl.col("date") >= date(2026, 10, 1)), got, "r2")
    assert october["opening"].item() == issued["closing"].item() + row["available_delta"]
    assert october["corrections_consumed"].item() == 3


def test_correction_ids_tell_apart_ids_that_differ_only_in_where_a_bar_sits():
    # account "a|b" in currency "c" and account "a" in currency "b|c": joined with '|'
    # both ids would hash "a|b|c|2026-09|2026-10|1"
    pairs = (("a|b", "c"), ("a", "b|c"))
    rows = [
        {"account_id": a, "currency": c, "date": date(2026, 9, 30), "granted": "10"}
        for a, c in pairs
    ]
    september = compute_statements(balances(rows), None, "r1")
    issued = closed(september, CLOSED_AT, "r1")
    for row in rows:
        row["consumed"] = "1"  # late usage on 30 September
    got = compute_corrections(balances(rows), issued, None, None, date(2026, 10, 1), "r2")
    ids = dict(zip(got["account_id"], got["correction_id"], strict=True))
    # by hand: md5 of each part as <length>:<text>, the n-th correction (1) last
    assert ids == {
        "a|b": hashlib.md5(b"3:a|b1:c7:2026-097:2026-101:1").hexdigest(),
        "a": hashlib.md5(b"1:a3:b|c7:2026-097:2026-101:1").hexdigest(),
    }


# --- the property ------------------------------------------------------------------------

FIRST = date(2026, 8, 30)
SPAN = 40  # days: 30 Aug .. 8 Oct, four months
ACCOUNTS = (("a", "fc"), ("a", "ct"), ("b", "fc"))
amount = st.integers(0, 5).map(lambda n: D(n) / 4)
flows = st.fixed_dictionaries({f: amount for f in MEASURES})
day_index = st.integers(0, SPAN - 1)
account = st.sampled_from(ACCOUNTS)
late = st.tuples(account, day_index, flows, st.sampled_from(["inputs_changed", "config_changed"]))
step = st.one_of(st.just(("close", None)), late.map(lambda x: ("late", x)))


@settings(max_examples=20, deadline=None)
@given(history=st.lists(st.tuples(account, day_index, flows), max_size=30),
       steps=st.lists(step, max_size=6))  # fmt: skip
def test_statements_plus_corrections_are_the_ledger_now(history, steps):
    days = [FIRST + timedelta(days=i) for i in range(SPAN)]
    ledger = {(acc, cur, d): dict.fromkeys(MEASURES, D(0)) for acc, cur in ACCOUNTS for d in days}
    for (acc, cur), i, f in history:
        ledger[(acc, cur, days[i])] = f

    def now() -> pl.DataFrame:
        return balances([{"account_id": a, "currency": c, "date": d, **f}
                         for (a, c, d), f in ledger.items()])  # fmt: skip

    month_list = m.months_of(days)
    issued: list[pl.DataFrame] = []
    booked = None
    restated = []
    for n, (kind, arg) in enumerate(steps):
        run_id = f"r{n:02d}"
        if kind == "close" and len(issued) < len(month_list) - 1:
            month = month_list[len(issued)]
            frame = compute_statements(now(), booked, run_id)
            issued.append(closed(frame.filter(pl.col("month") == month), CLOSED_AT, run_id))
        elif kind == "late":
            (acc, cur), i, f, why = arg
            ledger[(acc, cur, days[i])] = f
            restated += [{"date": d, "run_id": run_id, "account_id": acc, "currency": cur,
                          "reason": why if d == days[i] else "cascade"}
                         for d in days[i:]]  # fmt: skip
        if issued and kind == "late":  # the run ends by booking what closed months need
            first_open = m.next_month(month_list[len(issued) - 1])
            reasons = pl.DataFrame(restated)
            new = compute_corrections(now(), pl.concat(issued), booked, reasons, first_open, run_id)
            OUTPUT_MODELS["corrections"].validate(new)
            assert (new["booked_month"] == first_open).all()
            assert set(new["reason"]) <= {"inputs_changed", "config_changed", "cascade"}
            booked = new if booked is None else pl.concat([booked, new])

    if issued:  # booked once: a second pass books nothing
        first_open = m.next_month(month_list[len(issued) - 1])
        assert compute_corrections(
            now(), pl.concat(issued), booked, None, first_open, "x"
        ).is_empty()
    statements_now = compute_statements(now(), booked, "now")
    validate_statements(statements_now)
    key = ["account_id", "currency"]
    for statement in issued:
        month = statement["month"][0]
        corrections = (
            (booked if booked is not None else empty())
            .filter(pl.col("closed_month") == month)
            .group_by(key)
            .agg(pl.col(f"{f}_delta").sum().alias(f) for f in MEASURES)
        )
        ledger_now = statements_now.filter(pl.col("month") == month)
        both = statement.join(corrections, on=key, how="left", suffix="_c").join(
            ledger_now, on=key, how="full", suffix="_now", coalesce=True
        )
        for f in MEASURES:
            issued_plus = pl.col(f).fill_null(0) + pl.col(f"{f}_c").fill_null(0)
            bad = both.filter(issued_plus != pl.col(f"{f}_now").fill_null(0))
            assert bad.height == 0, (f, bad)
    if issued and len(issued) < len(month_list):
        last = issued[-1]
        first_open = m.next_month(last["month"][0])
        opening = statements_now.filter(pl.col("month") == first_open)
        on_it = opening.join(last, on=key, how="left", suffix="_last")
        expected = pl.col("closing_last").fill_null(0) + pl.col("corrections_available")
        assert on_it.filter(pl.col("opening") != expected).height == 0


def test_the_report_shows_each_statement_with_its_correction_lines():
    from flexbatch.serving.report.data import AccountData
    from flexbatch.serving.report.statements import statements

    now = balances(
        [{"account_id": "a", "currency": "fc", "date": date(2026, 10, 1), "consumed": "1"}]
    )
    correction = {
        "booked_month": date(2026, 10, 1), "closed_month": date(2026, 9, 1), "currency": "fc",
        "account_id": "a",
        "reason": "inputs_changed", "available_delta": D("-2.5"),
        **{f"{f}_delta": D(0) for f in MEASURES}, "consumed_delta": D("2.5"),
    }  # fmt: skip
    october = compute_statements(now, pl.DataFrame([correction]), "r").to_dicts()
    september = {**october[0], "month": date(2026, 9, 1), "status": "closed",
                 "closed_at": CLOSED_AT}  # fmt: skip
    data = AccountData("a", date(2026, 10, 1), date(2026, 9, 1), {})
    data.statements, data.corrections = [*october, september], [correction]
    html = statements(data)
    assert html.count('<tr class="open"') == 1 and html.count('<tr class="closed"') == 1
    assert "closed</span> 2026-11-01" in html
    assert "correction of 2026-09 (late or changed usage): consumed +2.50" in html
    assert html.count('class="correction"') == 1  # on October's statement only
