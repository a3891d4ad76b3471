"""The life of a grant (SPEC §10): void, rollover, top-ups and entitlement. Golden rows
computed by hand in the comments, from a few grants, transfers, top-up rules and charges
run through the ledger's SQL steps day by day (``ledger_days``: in memory, fast)."""

from __future__ import annotations

import hashlib
import shutil
import tempfile
from datetime import date, timedelta
from decimal import Decimal as D
from pathlib import Path

import duckdb
import polars as pl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from ledger_days import Ledger

from flexbatch.audit.explain import Replay
from flexbatch.audit.simulate import simulate
from flexbatch.config import Paths
from flexbatch.errors import ConfigError
from flexbatch.ingest.credit_inputs import load_grants
from flexbatch.ingest.job_config import JobConfig
from flexbatch.ingest.topup_rules import load_topup_rules
from flexbatch.job import pipeline
from flexbatch.ledger.credit_ledger import BALANCE_COLUMNS, SLICE_COLUMNS
from flexbatch.ledger.legacy_state import state_columns
from flexbatch.storage.stores import LocalStore

from helpers import (
    SAMPLE,
    event,
    plan_toml,
    write_grants,
    write_plans,
    write_topups,
    write_usage,
)

FC = "flex_credit"
DAY1 = date(2026, 3, 1)


def day(n: int) -> date:
    """Day n of the calendar: day(1) = 2026-03-01."""
    return DAY1 + timedelta(days=n - 1)


def grant(grant_id: str, amount: str, effective_on: date = DAY1, **kw: object) -> dict:
    return {
        "grant_id": grant_id,
        "account_id": "acme",
        "currency": FC,
        "amount": amount,
        "effective_on": effective_on.isoformat(),
        **{k: v.isoformat() if isinstance(v, date) else v for k, v in kw.items()},
    }


def transfer(transfer_id: str, d: date, amount: str) -> dict:
    return {
        "transfer_id": transfer_id,
        "date": d.isoformat(),
        "from_account": "acme",
        "to_account": "beta",
        "amount": amount,
        "currency": FC,
    }


def run_days(ledger: Ledger, last: int, charges: dict[int, list[tuple]] | None = None) -> None:
    for n in range(1, last + 1):
        ledger.run(day(n), (charges or {}).get(n, []))


# --- void -----------------------------------------------------------------------------------


def test_void_takes_what_is_left_in_the_grants_own_account_only(tmp_path):
    # G 100 and H 50 (burn order G, H: same terms, grant_id decides); G voided on day 3.
    # day 1: 10 charged from G -> 90.  day 2: T1 moves 30 of G to beta (G@T1), G -> 60.
    # day 3: void G -60 in acme; beta's G@T1 keeps its 30; 5 charged from H -> 45.
    # V-SAME is voided on its effective day, V-BEFORE before it: neither is ever added.
    ledger = Ledger(
        tmp_path,
        grants=[
            grant("G", "100", voided_on=day(3)),
            grant("H", "50"),
            grant("V-SAME", "40", day(2), voided_on=day(2)),
            grant("V-BEFORE", "40", day(3), voided_on=day(2)),
        ],
        transfers=[transfer("T1", day(2), "30")],
    )
    run_days(ledger, 3, {1: [("acme", "ADH", "10")], 3: [("acme", "ADH", "5")]})
    assert ledger.entries("void", "grant", "transfer_in") == [
        (day(1), "acme", "grant", "G", D(100), D(100), None),
        (day(1), "acme", "grant", "H", D(50), D(50), None),
        (day(2), "beta", "transfer_in", "G@T1", D(30), D(30), "T1"),
        (day(3), "acme", "void", "G", D(-60), D(0), None),
    ]
    b3 = ledger.balance(day(3))
    # opening 60 + 50 = 110; voided 60, consumed 5: 45. purchased 150 - 30 = 120;
    # 120 - used 15 - expired 0 - voided 60 = 45
    assert (b3["opening"], b3["voided"], b3["consumed"], b3["available"]) == (
        D(110),
        D(60),
        D(5),
        D(45),
    )
    assert (b3["purchased_total"], b3["used_total"], b3["voided_total"]) == (D(120), D(15), D(60))
    assert ledger.balance(day(2))["voided"] == D(0)
    assert ledger.balance(day(3), "beta")["available"] == D(30)
    slices = ledger.slices(day(3))
    assert slices[("acme", "G")]["remaining"] == D(0)
    assert slices[("beta", "G@T1")]["remaining"] == D(30)
    assert slices[("beta", "G@T1")]["origin_id"] == "G"


def test_void_reaches_the_rollover_slice_and_a_same_day_expiry_rolls_first(tmp_path):
    # V 50 expires day 2, rolls up to 100 for 10 days, voided day 4:
    #   day 2: all 50 roll to V~rollover (no expire entry); day 4: V~rollover voided -50.
    # W 40 expires and is voided on day 3, rolls up to 10 for 3 days: the day's order is
    #   expire (with rollover) then void: rollover 10 to W~rollover, expire 30, then the
    #   void of W~rollover -10 (W itself is already gone).
    ledger = Ledger(
        tmp_path,
        grants=[
            grant(
                "V",
                "50",
                expires_on=day(2),
                rollover_max="100",
                rollover_days="10",
                voided_on=day(4),
            ),
            grant(
                "W", "40", expires_on=day(3), rollover_max="10", rollover_days="3", voided_on=day(3)
            ),
        ],  # fmt: skip
    )
    run_days(ledger, 4)
    assert ledger.entries("rollover_out", "rollover_in", "expire", "void") == [
        (day(2), "acme", "rollover_in", "V~rollover", D(50), D(50), "V~rollover"),
        (day(2), "acme", "rollover_out", "V", D(-50), D(0), "V~rollover"),
        (day(3), "acme", "expire", "W", D(-30), D(0), None),
        (day(3), "acme", "rollover_in", "W~rollover", D(10), D(10), "W~rollover"),
        (day(3), "acme", "rollover_out", "W", D(-10), D(30), "W~rollover"),
        (day(3), "acme", "void", "W~rollover", D(-10), D(0), None),
        (day(4), "acme", "void", "V~rollover", D(-50), D(0), None),
    ]
    b2, b3, b4 = (ledger.balance(day(n)) for n in (2, 3, 4))
    assert (b2["expired"], b2["voided"], b2["available"]) == (D(0), D(0), D(90))
    assert (b3["expired"], b3["voided"], b3["available"]) == (D(30), D(10), D(50))
    assert (b4["voided"], b4["available"], b4["voided_total"]) == (D(50), D(0), D(60))
    # entry_order: rollover with expire (1), void with grant (2)
    orders = {
        (r["entry_type"], r["grant_id"]): r["entry_order"]
        for r in ledger.days[day(3)]["credit_ledger"].iter_rows(named=True)
    }
    assert orders == {
        ("rollover_out", "W"): 1,
        ("rollover_in", "W~rollover"): 1,
        ("expire", "W"): 1,
        ("void", "W~rollover"): 2,
    }


# --- rollover -------------------------------------------------------------------------------


def test_rollover_caps_keeps_terms_rolls_transferred_slices_and_never_twice(tmp_path):
    # R 100 (expires day 3, rolls up to 30 for 5 days), S 20 (expires day 3, rolls up to 50
    # for 2 days, priority 5, ADH only, unit_cost 2). Burn order S (priority 5), R.
    # day 1: CONNECT 20, which S may not pay: R -> 80.
    # day 2: T1 moves 10 to beta in burn order (a transfer takes any product's slices):
    #        S -> 10, beta S@T1 10.
    # day 3: R 80: 30 rolls (R~rollover, expires day 8), 50 expire;
    #        S 10 <= 50: all roll (S~rollover, expires day 5, priority 5, ADH, cost 2);
    #        beta's S@T1 10 rolls in beta (S@T1~rollover, expires day 5).
    #        ADH 4 from S~rollover (priority 5) -> 6.
    # day 5: S~rollover and S@T1~rollover expire (rolled slices never roll again): -6, -10.
    ledger = Ledger(
        tmp_path,
        grants=[
            grant("R", "100", expires_on=day(3), rollover_max="30", rollover_days="5"),
            grant(
                "S",
                "20",
                expires_on=day(3),
                rollover_max="50",
                rollover_days="2",
                priority="5",
                products="ADH",
                unit_cost="2",
            ),
        ],  # fmt: skip
        transfers=[transfer("T1", day(2), "10")],
    )
    run_days(ledger, 5, {1: [("acme", "CONNECT", "20")], 3: [("acme", "ADH", "4")]})
    assert ledger.entries("rollover_out", "rollover_in", "expire", "transfer_out") == [
        (day(2), "acme", "transfer_out", "S", D(-10), D(10), "T1"),
        (day(3), "acme", "expire", "R", D(-50), D(0), None),
        (day(3), "acme", "rollover_in", "R~rollover", D(30), D(30), "R~rollover"),
        (day(3), "acme", "rollover_in", "S~rollover", D(10), D(10), "S~rollover"),
        (day(3), "acme", "rollover_out", "R", D(-30), D(50), "R~rollover"),
        (day(3), "acme", "rollover_out", "S", D(-10), D(0), "S~rollover"),
        (day(3), "beta", "rollover_in", "S@T1~rollover", D(10), D(10), "S@T1~rollover"),
        (day(3), "beta", "rollover_out", "S@T1", D(-10), D(0), "S@T1~rollover"),
        (day(5), "acme", "expire", "S~rollover", D(-6), D(0), None),
        (day(5), "beta", "expire", "S@T1~rollover", D(-10), D(0), None),
    ]
    s3 = ledger.slices(day(3))
    rolled = s3[("acme", "S~rollover")]
    assert (
        rolled["effective_on"],
        rolled["expires_on"],
        rolled["priority"],
        rolled["products"],
        rolled["unit_cost"],
        rolled["origin_id"],
        rolled["rolled_over"],
        rolled["remaining"],
    ) == (day(3), day(5), 5, ";ADH;", D(2), "S", True, D(6))
    assert s3[("acme", "R~rollover")]["expires_on"] == day(8)
    assert s3[("beta", "S@T1~rollover")]["expires_on"] == day(5)
    # rollover entries cancel out in balances: opening 80 + 10 = 90, expired 50, ADH 4
    b3 = ledger.balance(day(3))
    assert (b3["opening"], b3["expired"], b3["consumed"], b3["available"]) == (
        D(90),
        D(50),
        D(4),
        D(36),
    )
    assert ledger.balance(day(5))["available"] == D(30)  # R~rollover until day 8


# --- top-ups --------------------------------------------------------------------------------

MAR29 = date(2026, 3, 29)


def test_topups_fire_below_threshold_cap_per_month_and_take_effect_next_day(tmp_path):
    # acme: G 30. R1: below 20 add 50 (EUR 1.5, priority 5, ADH;CONNECT, 30 days), at most
    #   one top-up effective per month. beta holds nothing: R2 fills it up to 40 below 10.
    # 03-29: G 30, ADH 15 -> 15 < 20: R1:2026-03-30 (50, at 15); beta 0 < 10: R2 40.
    # 03-30: R1's 50 arrive, ADH 50 takes them (priority 5 first) -> 15 < 20, but R1 has
    #        issued one effective in March: none. beta 40.
    # 03-31: acme 15 < 20: R1:2026-04-01 (April: none yet). beta ADH 35 -> 5: R2 35.
    # 04-01: acme 65, beta 40.  04-02: acme ADH 60: R1's 50 then G 10 -> 5 < 20, but R1
    #        has issued one effective in April: none.
    rules = [
        {"rule_id": "R1", "account_id": "acme", "currency": FC, "threshold": "20",
         "amount": "50", "unit_cost": "1.5", "cost_currency": "EUR", "priority": "5",
         "products": "CONNECT; ADH", "expires_after_days": "30", "max_per_month": "1"},
        {"rule_id": "R2", "account_id": "beta", "currency": FC, "threshold": "10",
         "target": "40"},
    ]  # fmt: skip
    ledger = Ledger(tmp_path, grants=[grant("G", "30", MAR29)], topups=rules)
    charges = {
        MAR29: [("acme", "ADH", "15")],
        date(2026, 3, 30): [("acme", "ADH", "50")],
        date(2026, 3, 31): [("beta", "ADH", "35")],
        date(2026, 4, 2): [("acme", "ADH", "60")],
    }
    for n in range(5):
        d = MAR29 + timedelta(days=n)
        ledger.run(d, charges.get(d, []))
    mar30, mar31, apr1 = date(2026, 3, 30), date(2026, 3, 31), date(2026, 4, 1)
    assert ledger.topups_issued() == [
        (MAR29, "R1", "R1:2026-03-30", mar30, D(50), D(15)),
        (MAR29, "R2", "R2:2026-03-30", mar30, D(40), D(0)),
        (mar31, "R1", "R1:2026-04-01", apr1, D(50), D(15)),
        (mar31, "R2", "R2:2026-04-01", apr1, D(35), D(5)),
    ]
    assert [e for e in ledger.entries("grant") if e[3] != "G"] == [
        (mar30, "acme", "grant", "R1:2026-03-30", D(50), D(50), None),
        (mar30, "beta", "grant", "R2:2026-03-30", D(40), D(40), None),
        (apr1, "acme", "grant", "R1:2026-04-01", D(50), D(50), None),
        (apr1, "beta", "grant", "R2:2026-04-01", D(35), D(35), None),
    ]
    topup = ledger.slices(mar30)[("acme", "R1:2026-03-30")]
    assert (
        topup["priority"],
        topup["products"],
        topup["unit_cost"],
        topup["cost_currency"],
        topup["expires_on"],
        topup["origin_id"],
    ) == (5, ";ADH;CONNECT;", D("1.5"), "EUR", date(2026, 4, 29), "R1:2026-03-30")
    assert ledger.slices(mar30)[("beta", "R2:2026-03-30")]["expires_on"] is None
    row = ledger.days[MAR29]["topups"].filter(pl.col("rule_id") == "R1").row(0, named=True)
    assert (row["products"], row["priority"], row["cost_currency"]) == ("ADH;CONNECT", 5, "EUR")
    apr2 = date(2026, 4, 2)
    assert ledger.balance(apr2)["available"] == D(5)
    assert ledger.balance(apr2, "beta")["available"] == D(40)
    assert ledger.days[apr2]["topups"].is_empty()


# --- entitlement ----------------------------------------------------------------------------


def test_entitlement_lost_below_one_and_balance_recovered_in_green_out_of_overdraft(tmp_path):
    # G 10. day 1: 5 -> 5 (entitled). day 2: 4.5 -> 0.5: entitlement_lost (amount 0.5).
    # day 3: 2 -> 0.5 consumed, 1.5 overdraft (not lost again). day 4: H 100 arrives:
    # 100 > 20 % of 110 and out of overdraft: balance_recovered (amount 100).
    ledger = Ledger(tmp_path, grants=[grant("G", "10"), grant("H", "100", day(4))])
    run_days(
        ledger,
        4,
        {1: [("acme", "ADH", "5")], 2: [("acme", "ADH", "4.5")], 3: [("acme", "ADH", "2")]},
    )
    assert [ledger.balance(day(n))["entitled"] for n in (1, 2, 3, 4)] == [
        True,
        False,
        False,
        True,
    ]
    assert ledger.alerts("entitlement_lost", "balance_recovered") == [
        (day(2), "acme", "entitlement_lost", FC, D("0.5")),
        (day(4), "acme", "balance_recovered", FC, D(100)),
    ]


# --- bad input ------------------------------------------------------------------------------

GOOD_RULE = {"rule_id": "R1", "account_id": "acme", "currency": FC, "threshold": "10",
             "amount": "50"}  # fmt: skip


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        ({"currency": "flex_credits"}, "row 1 (rule_id 'R1') field 'currency': 'flex_credits' "
         "is the currency of no grant in the grants file (known: flex_credit)"),
        ({"target": "60"}, "field 'amount': amount and target are both given or both empty"),
        ({"amount": ""}, "field 'amount': amount and target are both given or both empty"),
        ({"amount": "", "target": "10"}, "field 'target': '10' is not above threshold '10'"),
        ({"threshold": "-1"}, "field 'threshold': '-1' must be a decimal >= 0"),
        ({"amount": "0"}, "field 'amount': '0' must be a decimal > 0"),
        ({"max_per_month": "0"}, "field 'max_per_month': '0' is not a whole number of top-ups"),
        ({"max_per_month": "2.5"}, "field 'max_per_month'"),
        ({"expires_after_days": "0"}, "field 'expires_after_days': '0' is not a whole number"),
        ({"priority": "high"}, "field 'priority': 'high' is not a 32-bit integer"),
        ({"cost_currency": "eur"}, "field 'cost_currency': 'eur' is not an ISO 4217 code"),
        ({"unit_cost": "1e3"}, "field 'unit_cost': '1e3' is not a plain decimal number"),
        ({"rule_id": ""}, "field 'rule_id': is empty (required)"),
    ],
)  # fmt: skip
def test_bad_topup_rules_name_file_row_and_field(tmp_path, changes, expected):
    with pytest.raises(ConfigError) as info:
        Ledger(tmp_path, grants=[grant("G", "1")], topups=[{**GOOD_RULE, **changes}])
    message = str(info.value)
    assert message.startswith(f"{tmp_path / 'in' / 'topups.csv'}: ")
    assert expected in message and "; fix: " in message


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        ({"voided_on": "2026-02-30"}, "field 'voided_on': '2026-02-30' is not a valid date"),
        ({"rollover_max": "5"}, "field 'rollover_days': is empty but rollover_max is set"),
        ({"rollover_days": "5"}, "field 'rollover_max': is empty but rollover_days is set"),
        ({"rollover_max": "-5", "rollover_days": "5"}, "'-5' must be a decimal >= 0"),
        ({"rollover_max": "5", "rollover_days": "0"}, "field 'rollover_days': '0' is not a "
         "whole number of days > 0"),
        ({"rollover_max": "5", "rollover_days": "99999999999"}, "field 'rollover_days'"),
        ({"rollover_max": "5", "rollover_days": "3", "expires_on": ""},
         "field 'rollover_max': '5' is set but the grant never expires"),
    ],
)  # fmt: skip
def test_bad_lifecycle_grant_columns_name_file_row_and_field(tmp_path, changes, expected):
    row = {**grant("G", "1", expires_on=day(9)), **changes}
    with pytest.raises(ConfigError) as info:
        Ledger(tmp_path, grants=[row])
    message = str(info.value)
    assert message.startswith(f"{tmp_path / 'in' / 'grants.csv'}: row 1 (grant_id 'G') ")
    assert expected in message and "; fix: " in message


# --- configuration hash: topups.csv is configuration like grants.csv -------------------------


def test_topups_file_joins_the_configuration_hash_only_when_present(tmp_path):
    for name in ("rate_plans.toml", "grants.csv"):
        shutil.copy(SAMPLE / name, tmp_path / name)
    grants_hex = hashlib.sha256((tmp_path / "grants.csv").read_bytes()).hexdigest()
    digest = hashlib.sha256((tmp_path / "rate_plans.toml").read_bytes())
    digest.update(f"grants:{grants_hex}".encode() + b"transfers:")
    before = JobConfig.load(LocalStore(tmp_path))
    assert before.config_sha256 == digest.hexdigest()  # as before SPEC §10: no topups file
    assert before.topup_rules.is_empty()

    (tmp_path / "topups.csv").write_text(
        "rule_id,account_id,currency,threshold,amount\nR,acme,flex_credit,10,50\n"
    )
    with_rule = JobConfig.load(LocalStore(tmp_path))
    assert with_rule.config_sha256 != before.config_sha256
    assert with_rule.topup_rules["rule_id"].to_list() == ["R"]
    (tmp_path / "topups.csv").write_text(
        "rule_id,account_id,currency,threshold,amount\nR,acme,flex_credit,10,60\n"
    )
    changed = JobConfig.load(LocalStore(tmp_path))
    assert changed.config_sha256 not in (before.config_sha256, with_rule.config_sha256)


# --- explain: the void and rollover entries of the slices a charge drew from ------------------


def test_explain_lists_the_lifecycle_of_the_slices_a_charge_drew_from():
    con = duckdb.connect()
    con.execute(
        "create table credit_ledger (date date, account_id varchar, grant_id varchar, "
        "currency varchar, entry_type varchar, amount decimal(38, 6), product_code varchar, "
        "ref varchar, grant_remaining decimal(38, 6), entry_order integer)"
    )
    rows = [
        # R rolled 30 into R~rollover on day 3; the charge C on day 4 drew from R~rollover
        # and from H; H was voided on day 6 (after the charge: still its lifecycle);
        # beta's own rollover and acme's unrelated void of X are not listed
        (day(3), "acme", "R", FC, "rollover_out", D(-30), None, "R~rollover", D(5), 1),
        (day(3), "acme", "R~rollover", FC, "rollover_in", D(30), None, "R~rollover", D(30), 1),
        (day(3), "acme", "R", FC, "expire", D(-5), None, None, D(0), 1),
        (day(4), "acme", "R~rollover", FC, "consume", D(-30), "ADH", "C", D(0), 4),
        (day(4), "acme", "H", FC, "consume", D(-2), "ADH", "C", D(8), 4),
        (day(6), "acme", "H", FC, "void", D(-8), None, None, D(0), 2),
        (day(6), "acme", "X", FC, "void", D(-1), None, None, D(0), 2),
        (day(3), "beta", "R~rollover", FC, "rollover_in", D(9), None, "R~rollover", D(9), 1),
    ]
    con.executemany(f"insert into credit_ledger values ({', '.join('?' * 10)})", rows)
    replay = Replay(con, day(4))
    ledger = replay._rows(
        "select grant_id from credit_ledger where ref = 'C' order by grant_id", []
    )
    got = [
        (r["date"], r["entry_type"], r["grant_id"], r["amount"], r["ref"])
        for r in replay._lifecycle("acme", ledger)
    ]
    assert got == [  # by date, entry_order, grant_id: the rollover's out before its in
        (day(3), "rollover_out", "R", D(-30), "R~rollover"),
        (day(3), "rollover_in", "R~rollover", D(30), "R~rollover"),
        (day(6), "void", "H", D(-8), None),
    ]


# --- simulate: re-priced charges re-derive the top-ups ------------------------------------------


@pytest.mark.slow
def test_simulate_with_a_higher_price_triggers_the_top_ups_it_would(tmp_path):

    # acme: G 10, 3 units a day; R tops up 5 below 2.
    # price 1 (actual): 7, 4, 1 -> below 2 on day 3 only: R:day 4 (5).
    # price 2 (draft): day 1 burns 6 -> 4; day 2 burns 6: 4, 2 overdraft -> 0: R:day 3 (5);
    # day 3: +5, burns 6: 5, 1 overdraft -> 0: R:day 4 (5). Top-ups: actual 5, draft 10.
    inp, out = tmp_path / "in", tmp_path / "out"
    plan = plan_toml("P", algorithm="sum", meter="m", billing_period="day",
                     tiers="[ { above = 0, price = 1 } ]")  # fmt: skip
    write_plans(inp, plan)
    for n in (1, 2, 3):
        d = day(n).isoformat()
        write_usage(inp, d, [event(f"{d}T01:00:00", meter="m", resource="r", quantity=3.0)])
    write_grants(inp, [grant("G", "10")])
    write_topups(inp, [{"rule_id": "R", "account_id": "acme", "currency": FC,
                        "threshold": "2", "amount": "5"}])  # fmt: skip
    pipeline.backfill(Paths(inp, out), day(1), day(3))
    draft = tmp_path / "draft.toml"
    draft.write_text(plan.replace("price = 1", "price = 2"), encoding="utf-8")
    result = simulate(inp, out, draft, day(1), day(3))
    (row,) = result.summary.iter_rows(named=True)
    assert (row["charged_actual"], row["charged_simulated"]) == (D(9), D(18))
    assert (row["topups_actual"], row["topups_simulated"]) == (D(5), D(10))
    assert (row["available_actual"], row["available_simulated"]) == (D(1), D(0))


def test_parquet_topups_and_lifecycle_grants_load_as_their_csv(tmp_path):
    grants_csv = load_grants(SAMPLE)
    rules = pl.read_csv(SAMPLE / "topups.csv", infer_schema=False).with_columns(
        pl.col("threshold").cast(pl.Decimal(38, 2)),
        pl.col("amount").cast(pl.Int64),
        pl.col("expires_after_days", "max_per_month").cast(pl.Int16),
    )
    rules.write_parquet(tmp_path / "topups.parquet")
    assert load_topup_rules(tmp_path, grants_csv).equals(load_topup_rules(SAMPLE, grants_csv))
    grants = pl.read_csv(SAMPLE / "grants.csv", infer_schema=False).with_columns(
        pl.col("voided_on").str.to_date("%Y-%m-%d"),
        pl.col("rollover_max").cast(pl.Int32),
        pl.col("rollover_days").cast(pl.Int64),
    )
    grants.write_parquet(tmp_path / "grants.parquet")
    assert load_grants(tmp_path).equals(grants_csv)
    rule = load_topup_rules(SAMPLE, grants_csv).row(0, named=True)
    assert (rule["rule_id"], rule["threshold"], rule["amount"], rule["target"]) == (
        "R-GLOBEX-AUTO",
        D(100),
        D(250),
        None,
    )
    assert (rule["priority"], rule["products"], rule["max_per_month"]) == (10, [], 2)


# --- an OUT written before SPEC §10 is continued ------------------------------------------------


def test_state_of_an_out_before_the_lifecycle_reads_with_defaults(tmp_path):
    old_slices = tmp_path / "slices.parquet"
    pl.DataFrame({"account_id": ["beta"], "grant_id": ["G@T1@T2"], "remaining": [1]}).write_parquet(
        old_slices
    )
    con = duckdb.connect()
    columns = "account_id, grant_id, origin_id, rolled_over, remaining"
    read = state_columns(con, [old_slices], columns)
    assert con.sql(f"select {read} from read_parquet('{old_slices}')").fetchall() == [
        ("beta", "G@T1@T2", "G", False, 1)
    ]
    assert "voided_total" in BALANCE_COLUMNS and "origin_id" in SLICE_COLUMNS
    # files with the columns, or no files: the columns as given
    assert state_columns(con, [], columns) == columns
    new_slices = tmp_path / "new.parquet"
    con.execute(f"copy (select {read} from read_parquet('{old_slices}')) to '{new_slices}'")
    assert state_columns(con, [new_slices], columns) == columns


# --- invariants over random lifecycles (Hypothesis, in memory) ---------------------------------

lifecycle_grants = st.lists(
    st.tuples(
        st.sampled_from(["acme", "beta"]),
        st.sampled_from(["1", "2.5", "4", "10"]),  # amount
        st.integers(1, 3),  # effective day
        st.one_of(st.none(), st.integers(2, 5)),  # expires day (exclusive)
        st.one_of(st.none(), st.integers(1, 5)),  # voided day
        st.one_of(st.none(), st.sampled_from(["0", "0.5", "3"])),  # rollover_max
    ),
    min_size=1,
    max_size=5,
)
lifecycle_charges = st.lists(
    st.tuples(st.integers(1, 5), st.sampled_from(["acme", "beta"]), st.sampled_from(["1", "2"])),
    max_size=8,
)


@pytest.mark.slow  # ~50 ledger days: seconds idle, minutes on a loaded machine
@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    grants=lifecycle_grants,
    charges=lifecycle_charges,
    threshold=st.sampled_from(["0", "1", "3"]),
    transfer_amount=st.sampled_from([None, "0.5", "2"]),
)
def test_random_lifecycles_conserve_and_follow_their_rules(
    grants, charges, threshold, transfer_amount
):
    rows = []
    for i, (account, amount, eff, exp, void, rollover) in enumerate(grants):
        row = grant(f"G{i}", amount, day(eff), account_id=account)
        if exp is not None and exp > eff:
            row["expires_on"] = day(exp).isoformat()
            if rollover is not None:
                row |= {"rollover_max": rollover, "rollover_days": "2"}
        if void is not None:
            row["voided_on"] = day(void).isoformat()
        rows.append(row)
    rules = [{"rule_id": "RA", "account_id": "acme", "currency": FC, "threshold": threshold,
              "target": "5", "max_per_month": "2"}]  # fmt: skip
    moves = [transfer("T1", day(2), amount)] if (amount := transfer_amount) else []
    with tempfile.TemporaryDirectory() as root:
        ledger = Ledger(Path(root), grants=rows, transfers=moves, topups=rules)
        by_day: dict[int, list] = {}
        for n, account, credits in charges:
            by_day.setdefault(n, []).append((account, "ADH", credits))
        # each day's audits (conservation with voids, no negative slice) run inside it
        run_days(ledger, 5, by_day)
    for d, frames in ledger.days.items():
        entries, balances = frames["credit_ledger"], frames["balances"]
        for b in balances.iter_rows(named=True):
            mine = entries.filter(
                (pl.col("account_id") == b["account_id"]) & (pl.col("currency") == b["currency"])
            )
            kinds = {k: mine.filter(pl.col("entry_type") == k)["amount"].sum() for k in
                     ("void", "rollover_out", "rollover_in")}  # fmt: skip
            assert -kinds["void"] == b["voided"]
            assert kinds["rollover_out"] + kinds["rollover_in"] == 0  # a move within it
            assert b["entitled"] == (b["available"] >= 1)
        # a rolled-over slice never rolls again; what rolls is capped by its grant
        if d > day(1):
            before = ledger.slices(d - timedelta(days=1))
            for r in entries.filter(pl.col("entry_type") == "rollover_out").iter_rows(named=True):
                assert not before[(r["account_id"], r["grant_id"])]["rolled_over"]
        for t in frames["topups"].iter_rows(named=True):
            assert t["available_at_trigger"] < D(threshold)
            assert t["amount"] == D(5) - t["available_at_trigger"]
            assert t["effective_on"] == d + timedelta(days=1)
    issued = [t for t in ledger.topups_issued() if t[3].month == 3]
    assert len(issued) <= 2  # max_per_month


def test_skipped_days_apply_expiry_rollover_void_and_grant_on_the_next_processed_day(tmp_path):
    # days 2..4 are not processed. On day 5:
    # K 10 expired on day 2; its rollover slice would have expired on day 4: not made, all
    #   10 expire. L 10 expired on day 2 too; its rollover slice (day 2 + 5 = day 7) is
    #   alive: 5 roll (effective day 2), 5 expire. M 10 took effect on day 3 and was voided
    #   on day 4: added, then voided, the same processed day.
    ledger = Ledger(
        tmp_path,
        grants=[
            grant("K", "10", expires_on=day(2), rollover_max="5", rollover_days="2"),
            grant("L", "10", expires_on=day(2), rollover_max="5", rollover_days="5"),
            grant("M", "10", day(3), voided_on=day(4)),
        ],
    )
    ledger.run(day(1))
    ledger.run(day(5))
    assert [e for e in ledger.entries() if e[0] == day(5)] == [
        (day(5), "acme", "expire", "K", D(-10), D(0), None),
        (day(5), "acme", "expire", "L", D(-5), D(0), None),
        (day(5), "acme", "grant", "M", D(10), D(10), None),
        (day(5), "acme", "rollover_in", "L~rollover", D(5), D(5), "L~rollover"),
        (day(5), "acme", "rollover_out", "L", D(-5), D(5), "L~rollover"),
        (day(5), "acme", "void", "M", D(-10), D(0), None),
    ]
    rolled = ledger.slices(day(5))[("acme", "L~rollover")]
    assert (rolled["effective_on"], rolled["expires_on"]) == (day(2), day(7))
    assert ledger.balance(day(5))["available"] == D(5)
