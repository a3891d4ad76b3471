"""Random multi-day inputs for property tests (backfill = nightly, the engines agree):
rate plans covering every algorithm and period, a Hypothesis strategy of usage rows
over three days that cross a month end, with duplicates and rows to quarantine, and one
of grants and transfers (priorities, expiries, costs, product restrictions, currencies;
transfers with and without a currency, some larger than the sender holds)."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from pathlib import Path

from hypothesis import strategies as st

from helpers import plan_toml, write_grants, write_plans, write_transfers, write_usage

DAYS = [date(2026, 1, 30), date(2026, 1, 31), date(2026, 2, 1)]  # crosses a month end

PLANS = "".join(
    [
        plan_toml(
            "UR",
            algorithm="unique_resources",
            meter="stored",
            billing_period="month",
            tiers="[ { above = 0, price = 0 }, { above = 2, price = 0.5 } ]",
        ),
        plan_toml(
            "DUR",
            algorithm="daily_unique_resources",
            meter="accessed",
            billing_period="month",
            tiers="[ { above = 0, price = 0 }, { above = 3, price = 0.25 } ]",
        ),
        plan_toml(
            "UU",
            algorithm="unique_users",
            chargeable="user",
            meter="seat",
            billing_period="month",
            extra='threshold_scope = "scope"',
            tiers="[ { above = 0, price = 1 }, { above = 2, price = 2 } ]",
        ),
        plan_toml(
            "DUU",
            algorithm="daily_unique_users",
            chargeable="user",
            meter="seat",
            billing_period="month",
            tiers="[ { above = 0, price = 0.1 } ]",
        ),
        plan_toml(
            "SUM",
            algorithm="sum",
            meter="gb",
            billing_period="hour",
            tiers="[ { above = 0, price = 0 }, { above = 1.5, price = 0.003 } ]",
        ),
        plan_toml(
            "PEAK",
            algorithm="peak",
            meter="cores",
            billing_period="month",
            tiers="[ { above = 0, price = 0 }, { above = 2, price = 1.5 } ]",
        ),
        plan_toml(
            "FIX",
            algorithm="fixed",
            chargeable="product",
            meter="login",
            billing_period="month",
            extra='service = "portal"',
            tiers="[ { above = 0, price = 7 } ]",
        ),
        plan_toml(
            "FIXD",
            algorithm="fixed",
            chargeable="product",
            meter="login",
            billing_period="day",
            tiers="[ { above = 0, price = 1 }, { above = 1, price = 3 } ]",
        ),
    ]
)

METERS = ["stored", "accessed", "seat", "gb", "cores", "login"]

event_rows = st.lists(
    st.tuples(
        st.integers(0, len(DAYS) - 1),  # day
        st.integers(0, 23),  # hour
        st.sampled_from(["a", "b"]),  # account
        st.sampled_from(["s1", "s2", "s3"]),  # scope
        st.sampled_from(METERS),
        st.sampled_from(["u1", "u2", "u3", None]),
        st.sampled_from(["r1", "r2", "r3", None]),
        st.one_of(st.none(), st.sampled_from([0.0, 0.5, 1.25, 2.0, 3.0, -1.0])),
        st.integers(0, 40),  # event id: collisions make duplicates
    ),
    max_size=40,
)


def write_event_rows(root: Path, rows: list[tuple]) -> None:
    """Rate plans PLANS and one usage file per day of DAYS from ``event_rows`` tuples."""
    write_plans(root, PLANS)
    per_day: dict[int, list[dict]] = {i: [] for i in range(len(DAYS))}
    for day_i, hour, account, scope, meter, user, resource, quantity, eid in rows:
        per_day[day_i].append(
            {
                "event_id": f"e{eid}",
                "ts": datetime.combine(DAYS[day_i], time(hour)),
                "account_id": account,
                "scope_id": scope,
                "product_code": "ADH",
                "meter": meter,
                "user_id": user,
                "resource_id": resource,
                "quantity": quantity,
            }
        )
    for day_i, day in enumerate(DAYS):
        write_usage(root, day, per_day[day_i])


CURRENCIES = ["flex_credit", "cloud_credit"]
amounts = st.sampled_from(["0.5", "1", "2.25", "4", "0.000001", "7.333333"])

grant_rows = st.lists(
    st.tuples(
        st.sampled_from(["a", "b"]),  # account
        st.sampled_from(CURRENCIES),
        amounts,
        st.integers(0, len(DAYS) - 1),  # effective day
        st.one_of(st.none(), st.integers(1, len(DAYS))),  # expires that many days later
        st.sampled_from([None, 0, 10]),  # priority
        st.sampled_from(["", "ADH", "OTHER"]),  # products: all, this one, another one
        st.sampled_from([None, "0.5", "1.1"]),  # unit_cost
    ),
    max_size=4,
)
transfer_rows = st.lists(
    st.tuples(
        st.integers(0, len(DAYS) - 1),  # day
        st.sampled_from([("a", "b"), ("b", "a")]),
        amounts,
        st.sampled_from([None, *CURRENCIES]),
    ),
    max_size=3,
)


def write_credit_rows(root: Path, grants: list[tuple], transfers: list[tuple]) -> None:
    """IN/grants.csv and IN/transfers.csv from ``grant_rows`` and ``transfer_rows`` tuples."""
    write_grants(
        root,
        [
            {
                "grant_id": f"G{i}", "account_id": account, "currency": currency,
                "amount": amount, "effective_on": DAYS[day].isoformat(),
                "expires_on": None if lasts is None
                else (DAYS[day] + timedelta(days=lasts)).isoformat(),
                "priority": priority, "products": products, "unit_cost": cost,
            }
            for i, (account, currency, amount, day, lasts, priority, products, cost)
            in enumerate(grants)
        ],
    )  # fmt: skip
    write_transfers(
        root,
        [
            {"transfer_id": f"T{i}", "date": DAYS[day].isoformat(), "from_account": sender,
             "to_account": receiver, "amount": amount, "currency": currency}
            for i, (day, (sender, receiver), amount, currency) in enumerate(transfers)
        ],
    )  # fmt: skip
