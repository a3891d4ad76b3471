"""``flexbatch explain`` (SPEC §7): golden rows for the seed example and for the order of
subjects, and properties over every charge row of a sample backfill (all algorithms and
periods), checked against the tier bounds, the ledger and the raw events."""

from __future__ import annotations

import json
from collections import defaultdict
from datetime import date, timedelta
from decimal import Decimal as D
from pathlib import Path

import polars as pl
import pytest

from flexbatch.audit import render
from flexbatch.audit.explain import replay_day
from flexbatch.config import Paths
from flexbatch.ingest.rate_plans import load_rate_plans
from flexbatch.job import pipeline

from helpers import copy_sample, event, plan_toml, read_table, write_plans, write_usage

DAY = "2026-01-05"
SOURCE = f"usage/date={DAY}/part-0.parquet"


def explain_json(flexbatch, inp: Path, out: Path, transaction_id: str, *extra: str) -> dict:
    result = flexbatch(
        "explain", transaction_id, "--input", str(inp), "--output", str(out),
        "--format", "json", *extra,
    )  # fmt: skip
    assert result.exit_code == 0, result.stderr
    return json.loads(result.stdout)


def transaction(out: Path, scope: str, tier: int) -> str:
    charges = read_table(out, "charges")
    row = charges.filter((pl.col("scope_id") == scope) & (pl.col("tier") == tier))
    assert row.height == 1
    return row["transaction_id"][0]


# --- the seed example of SPEC §1 and §7 -----------------------------------------------


@pytest.fixture(scope="module")
def seed(tmp_path_factory) -> tuple[Path, Path, dict[str, str]]:
    """550 streams in ns-1 and 99 in ns-2 on one day, 500 included; the event id of each
    stream's first event."""
    root = tmp_path_factory.mktemp("seed")
    inp, out = root / "in", root / "out"
    write_plans(inp, plan_toml("ADH-STREAMS-ACCESSED"))
    rows = [event(f"{DAY}T01:00:00", scope="ns-1", resource=f"s{i}") for i in range(550)]
    rows += [
        event(f"{DAY}T02:{i % 60:02d}:00", scope="ns-1", resource="s0", user=f"u{i % 5}")
        for i in range(1000)
    ]
    rows += [event(f"{DAY}T03:00:00", scope="ns-2", resource=f"t{i}") for i in range(99)]
    write_usage(inp, DAY, rows)
    pipeline.run(Paths(inp, out), date.fromisoformat(DAY))
    first = {}
    for row in rows:
        first.setdefault(row["resource_id"], row["event_id"])
    return inp, out, first


def expected_subjects(names: list[str], start: int, first: dict[str, str], scope: str, at: str):
    """Every subject has the same first-event time: positions follow subject_id."""
    return [
        {
            "subject_id": name,
            "scope_id": scope,
            "position": start + i,
            "event_id": first[name],
            "ts": f"{DAY}T{at}Z",
            "source_file": SOURCE,
            "period_start": f"{DAY}T00:00:00Z",
        }
        for i, name in enumerate(sorted(names))
    ]


def test_seed_priced_ns1_row_lists_50_streams_at_501_to_550(flexbatch, seed):
    inp, out, first = seed
    got = explain_json(flexbatch, inp, out, transaction(out, "ns-1", 2))
    assert got["charge"]["units"] == "50.000000" and got["charge"]["credits"] == "0.100000"
    assert (got["positions"]["position_from"], got["positions"]["position_to"]) == (501, 550)
    streams = sorted(f"s{i}" for i in range(550))
    assert got["subjects"] == expected_subjects(streams[500:], 501, first, "ns-1", "01:00:00")
    assert got["events"] is None
    # no grants: the whole charge is overdraft in flex_credit
    assert [(e["entry_type"], e["currency"], e["amount"]) for e in got["ledger"]] == [
        ("overdraft", "flex_credit", "-0.100000")
    ]


def test_seed_ns2_row_lists_99_streams_at_551_to_649(flexbatch, seed):
    inp, out, first = seed
    got = explain_json(flexbatch, inp, out, transaction(out, "ns-2", 2))
    assert (got["positions"]["position_from"], got["positions"]["position_to"]) == (551, 649)
    streams = [f"t{i}" for i in range(99)]
    assert got["subjects"] == expected_subjects(streams, 551, first, "ns-2", "03:00:00")
    assert sum(-D(e["amount"]) for e in got["ledger"]) == D("0.198")


def test_seed_included_row_holds_positions_1_to_500(flexbatch, seed):
    inp, out, first = seed
    got = explain_json(flexbatch, inp, out, transaction(out, "ns-1", 1))
    assert (got["positions"]["position_from"], got["positions"]["position_to"]) == (1, 500)
    streams = sorted(f"s{i}" for i in range(550))
    assert got["subjects"] == expected_subjects(streams[:500], 1, first, "ns-1", "01:00:00")
    assert got["ledger"] == []  # a price-0 row burns nothing


def test_unknown_transaction_is_exit_2(flexbatch, seed):
    inp, out, _ = seed
    result = flexbatch("explain", "no-such-id", "--input", str(inp), "--output", str(out))
    assert result.exit_code == 2
    assert "no-such-id" in result.stderr and "fix:" in result.stderr


# --- order of subjects, the lowest scope, duplicates and quarantine ----------------------


def test_subjects_take_positions_by_first_event_then_id(flexbatch, tmp_path):
    inp, out = tmp_path / "in", tmp_path / "out"
    write_plans(
        inp,
        plan_toml(
            "U", algorithm="unique_users", chargeable="user", billing_period="month",
            meter="logins", tiers="[ { above = 0, price = 1 } ]",
        ),
    )  # fmt: skip
    rows = [
        event(f"{DAY}T01:00:00", event_id="z2", scope="ns-2", meter="logins", user="zed"),
        event(f"{DAY}T05:00:00", event_id="z1", scope="ns-1", meter="logins", user="zed"),
        event(f"{DAY}T03:00:00", event_id="a1", meter="logins", user="amy"),
        event(f"{DAY}T03:00:00", event_id="n1", meter="logins", user="ann"),
        # bob's 02:00 row repeats an id another account used earlier: a duplicate
        event(f"{DAY}T00:30:00", event_id="dup", account="other", meter="logins", user="olga"),
        event(f"{DAY}T02:00:00", event_id="dup", meter="logins", user="bob"),
        event(f"{DAY}T04:00:00", event_id="b1", meter="logins", user="bob"),
        # cat's first row lies outside the partition's day: quarantined
        event("2026-01-04T23:00:00", event_id="c0", meter="logins", user="cat"),
        event(f"{DAY}T06:00:00", event_id="c1", meter="logins", user="cat"),
    ]
    write_usage(inp, DAY, rows)
    pipeline.run(Paths(inp, out), date.fromisoformat(DAY))
    charges = read_table(out, "charges").filter(pl.col("account_id") == "acme")
    # zed, seen first in ns-2, counts in the lowest scope: ns-2 has no charge row
    assert charges["scope_id"].to_list() == ["ns-1"]

    got = explain_json(flexbatch, inp, out, charges["transaction_id"][0])

    listed = [(s["position"], s["subject_id"], s["event_id"], s["ts"]) for s in got["subjects"]]
    assert listed == [
        (1, "amy", "a1", f"{DAY}T03:00:00Z"),
        (2, "ann", "n1", f"{DAY}T03:00:00Z"),
        (3, "bob", "b1", f"{DAY}T04:00:00Z"),
        (4, "zed", "z1", f"{DAY}T05:00:00Z"),
        (5, "cat", "c1", f"{DAY}T06:00:00Z"),
    ]
    assert {s["scope_id"] for s in got["subjects"]} == {"ns-1"}

    # a late file changes the day: explain refuses to explain a stale row
    write_usage(
        inp, DAY, [event(f"{DAY}T07:00:00", meter="logins", user="dan")], name="late.parquet"
    )
    result = flexbatch(
        "explain", charges["transaction_id"][0], "--input", str(inp), "--output", str(out)
    )
    assert result.exit_code == 1
    assert "IN changed since the day ran" in result.stderr


# --- every charge row of a sample backfill -------------------------------------------

SPAN = [date(2026, 9, 29) + timedelta(days=i) for i in range(4)]  # across a month end
ALL_KINDS = {
    ("daily_unique_resources", "month"), ("unique_resources", "month"), ("sum", "day"),
    ("daily_unique_users", "month"), ("unique_users", "month"), ("peak", "month"),
    ("sum", "hour"), ("fixed", "month"), ("fixed", "day"),
}  # fmt: skip


@pytest.fixture(scope="module")
def sample(tmp_path_factory) -> tuple[Path, Path]:
    root = tmp_path_factory.mktemp("sample")
    inp, out = copy_sample(root / "in", SPAN), root / "out"
    pipeline.backfill(Paths(inp, out), SPAN[0], SPAN[-1])
    return inp, out


@pytest.fixture(scope="module")
def explained(sample) -> dict[str, dict]:
    """Every charge row of the span, explained from a replay of its whole day."""
    inp, out = sample
    found = {}
    for day in SPAN:
        with replay_day(inp, out, day) as replay:
            for transaction_id in replay.transaction_ids():
                found[transaction_id] = replay.explanation(transaction_id, limit=None)
    return found


@pytest.fixture(scope="module")
def tier_upper(sample) -> dict[tuple, D | None]:
    """(plan_id, plan_version, tier) -> the next tier's above (None for the last tier)."""
    uppers = {}
    for plan in load_rate_plans(sample[0] / "rate_plans.toml"):
        aboves = [t.above for t in plan.tiers[1:]] + [None]
        for n, upper in enumerate(aboves, start=1):
            uppers[(plan.plan_id, plan.effective_from, n)] = upper
    return uppers


def within_tier(charge: dict, upper: D | None, low: D, high: D) -> bool:
    """(low, high] lies in the tier's positions (tier_above, next tier's above]."""
    return charge["tier_above"] <= low < high and (upper is None or high <= upper)


def test_every_charge_row_is_explained_and_all_kinds_are_covered(sample, explained):
    charges = read_table(sample[1], "charges")
    assert set(explained) == set(charges["transaction_id"])
    kinds = {(e["charge"]["algorithm"], e["charge"]["billing_period"]) for e in explained.values()}
    assert kinds == ALL_KINDS


def test_subjects_number_the_units_at_consecutive_positions_inside_the_tier(explained, tier_upper):
    checked = 0
    for e in explained.values():
        c = e["charge"]
        if e["subjects"] is None:
            continue
        upper = tier_upper[(c["plan_id"], c["plan_version"], c["tier"])]
        assert len(e["subjects"]) == c["units"]
        for period in e["positions"]["periods"]:
            subjects = [s for s in e["subjects"] if s["period_start"] == period["period_start"]]
            positions = [s["position"] for s in subjects]
            assert positions == list(range(period["position_from"], period["position_to"] + 1))
            assert all(c["tier_above"] < p and (upper is None or p <= upper) for p in positions)
            # within a day and scope: by first event time, then subject id
            order = [(s["ts"], s["subject_id"]) for s in subjects]
            assert order == sorted(order) and len(set(order)) == len(order)
        assert {s["scope_id"] for s in e["subjects"]} == {c["scope_id"]}
        checked += 1
    assert checked >= 50  # 73 rows in the span


def test_fixed_rows_list_the_first_event_of_each_period_charged(explained):
    fixed = [e for e in explained.values() if e["charge"]["algorithm"] == "fixed"]
    assert fixed
    for e in fixed:
        assert e["events"]["count"] == len(e["events"]["listed"]) == e["charge"]["units"]


def test_sum_and_peak_events_fill_exactly_the_rows_positions(explained, tier_upper):
    for e in explained.values():
        c = e["charge"]
        if c["algorithm"] not in ("sum", "peak"):
            continue
        upper = tier_upper[(c["plan_id"], c["plan_version"], c["tier"])]
        listed = e["events"]["listed"]
        assert sum(x["position_to"] - x["position_from"] for x in listed) == c["units"]
        assert sum(x["units"] for x in listed) == c["units"]
        assert e["events"].get("total", e["events"].get("new_maximum")) == c["units"]
        for x in listed:
            assert within_tier(c, upper, x["position_from"], x["position_to"])
        spans = sum(p["position_to"] - p["position_from"] for p in e["positions"]["periods"])
        assert spans == c["units"]


def test_sum_events_add_up_to_each_events_quantity_and_the_days_usage(sample, explained):
    """Over the tier rows of a scope, every event's quantity is laid out once, and the
    events add up to usage_daily's quantity_sum (computed by the job, not by explain)."""
    per_event: dict[tuple, D] = defaultdict(D)
    quantity: dict[tuple, D] = {}
    per_scope: dict[tuple, D] = defaultdict(D)
    for e in explained.values():
        c = e["charge"]
        if c["algorithm"] != "sum":
            continue
        for x in e["events"]["listed"]:
            key = (c["date"], c["plan_id"], x["event_id"])
            per_event[key] += x["units"]
            quantity[key] = x["quantity"]
            per_scope[(c["date"], c["account_id"], c["scope_id"], c["meter"])] += x["units"]
    assert per_event == quantity
    usage = read_table(sample[1], "usage_daily")
    for (day, account, scope, meter), total in per_scope.items():
        row = usage.filter(
            (pl.col("date") == day) & (pl.col("account_id") == account)
            & (pl.col("scope_id") == scope) & (pl.col("meter") == meter)
        )  # fmt: skip
        assert row["quantity_sum"][0] == total


def test_peak_event_is_the_scopes_maximum_of_the_day(sample, explained):
    usage = read_table(sample[1], "usage_daily")
    peaks = [e for e in explained.values() if e["charge"]["algorithm"] == "peak"]
    assert peaks
    for e in peaks:
        c = e["charge"]
        row = usage.filter(
            (pl.col("date") == c["date"]) & (pl.col("account_id") == c["account_id"])
            & (pl.col("scope_id") == c["scope_id"]) & (pl.col("meter") == c["meter"])
        )  # fmt: skip
        (event_,) = e["events"]["listed"]
        assert event_["quantity"] == row["quantity_max"][0]
        assert e["events"]["count"] == row["events"][0]


def test_daily_resources_are_the_days_distinct_resources_with_their_first_event(sample, explained):
    """Against the raw sample files read here with Polars: the subjects of a scope's tier
    rows are its distinct resources of the day, each listed with its earliest event."""
    inp, out = sample
    usage = read_table(out, "usage_daily")
    subjects: dict[tuple, list[dict]] = defaultdict(list)
    for e in explained.values():
        c = e["charge"]
        if c["algorithm"] == "daily_unique_resources":
            key = (c["date"], c["account_id"], c["scope_id"], c["meter"])
            subjects[key] += e["subjects"]
    assert subjects
    for day in SPAN:
        files = sorted((inp / "usage" / f"date={day}").glob("*.parquet"))
        raw = pl.concat(
            pl.read_parquet(f, columns=["account_id", "scope_id", "meter", "resource_id", "ts"])
            for f in files
        )
        earliest = raw.group_by("account_id", "scope_id", "meter", "resource_id").agg(
            pl.col("ts").min()
        )
        first = {
            (r["account_id"], r["scope_id"], r["meter"], r["resource_id"]): r["ts"]
            for r in earliest.iter_rows(named=True)
        }
        for (d, account, scope, meter), listed in subjects.items():
            if d != day:
                continue
            ids = [s["subject_id"] for s in listed]
            assert len(ids) == len(set(ids))
            row = usage.filter(
                (pl.col("date") == d) & (pl.col("account_id") == account)
                & (pl.col("scope_id") == scope) & (pl.col("meter") == meter)
            )  # fmt: skip
            assert len(ids) == row["unique_resources"][0]
            for s in listed:
                assert s["ts"] == first[(account, scope, meter, s["subject_id"])]


def test_ledger_entries_pay_exactly_the_credits(explained):
    for e in explained.values():
        paid = sum(-x["amount"] for x in e["ledger"] if x["entry_type"] in ("consume", "overdraft"))
        assert paid == e["charge"]["credits"]
        assert bool(e["ledger"]) == (e["charge"]["credits"] > 0)


def test_explain_of_one_row_equals_the_whole_day_replay(flexbatch, sample, explained):
    """The CLI replays only the row's account, product and meter; it must say exactly what
    the replay of the whole day says (one row per algorithm and period)."""
    inp, out = sample
    one_per_kind: dict[tuple, str] = {}
    # a priced row where there is one (it has ledger entries), else any
    for transaction_id, e in sorted(explained.items(), key=lambda i: i[1]["charge"]["credits"]):
        one_per_kind[(e["charge"]["algorithm"], e["charge"]["billing_period"])] = transaction_id
    assert len(one_per_kind) == len(ALL_KINDS)
    for transaction_id in one_per_kind.values():
        got = explain_json(flexbatch, inp, out, transaction_id, "--limit", "100000")
        assert got == json.loads(render.to_json(explained[transaction_id]))


def test_limit_caps_the_listed_events_not_their_count(flexbatch, sample, explained):
    inp, out = sample
    transaction_id, e = max(
        ((t, e) for t, e in explained.items() if e["charge"]["algorithm"] == "sum"),
        key=lambda item: len(item[1]["events"]["listed"]),
    )
    assert len(e["events"]["listed"]) > 2
    got = explain_json(flexbatch, inp, out, transaction_id, "--limit", "2")
    assert len(got["events"]["listed"]) == 2
    assert got["events"]["count"] == e["events"]["count"]
    assert D(got["events"]["total"]) == e["charge"]["units"]


def test_text_format_names_the_row_positions_and_ledger(flexbatch, sample, explained):
    inp, out = sample
    transaction_id = next(t for t, e in explained.items() if e["subjects"] and e["ledger"])
    result = flexbatch("explain", transaction_id, "--input", str(inp), "--output", str(out))
    assert result.exit_code == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].startswith(f"charge     {transaction_id}")
    assert any(line.startswith("positions  [") for line in lines)
    assert any(line.startswith("subjects   ") for line in lines)
    assert any(line.startswith("ledger     ") for line in lines)
