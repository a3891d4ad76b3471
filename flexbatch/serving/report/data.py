"""What one account's report shows, read from OUT's views as exact values (no rendering).

Every figure comes from a table of SPEC §5 through DuckDB; the only arithmetic here is the
usage rate, an exact decimal mean of the trailing ``BURN_WINDOW_DAYS`` (30) days of
``balances``, the forecast's window."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from decimal import ROUND_HALF_EVEN, Decimal

import duckdb

from flexbatch.ledger.rules import BURN_WINDOW_DAYS

# SPEC §10 adds voids and rollovers; a grant that a top-up rule issued reads as 'topup'
EVENT_TYPES = (
    "grant", "transfer_in", "transfer_out", "expire", "void", "rollover_out", "rollover_in",
)  # fmt: skip


@dataclass
class CurrencyPanel:
    """One credit currency of the account on the as-of day."""

    currency: str
    balance: dict
    history: list[dict]  # date, available, overdraft_total, purchased_total: every day
    forecast: list[tuple[date, Decimal]]
    depletion_date: date | None
    usage_rate: Decimal  # (consumed + overdraft) per day, trailing 30 days
    covered_rate: Decimal  # consumed per day: the part credits paid for
    empty_since: date | None = None  # first day of the current stretch at available <= 0
    emptied_by_expiry: Decimal = Decimal(0)  # what expired that day
    overdraft_since: date | None = None


@dataclass
class AccountData:
    account: str
    as_of: date
    first_day: date
    names: dict[str, str]  # product code -> product name (rate plans)
    currencies: list[CurrencyPanel] = field(default_factory=list)
    products: list[dict] = field(default_factory=list)  # usage_by_product_90d
    users: list[dict] = field(default_factory=list)  # usage_by_user_90d
    has_user_data: bool = False
    grants: list[dict] = field(default_factory=list)  # grant slices holding credits
    events: list[dict] = field(default_factory=list)  # ledger grants/transfers/expiries
    alerts: list[dict] = field(default_factory=list)
    daily_usage: list[dict] = field(default_factory=list)  # date, product_code, credits
    monthly_usage: list[dict] = field(default_factory=list)  # month, product_code, credits
    items: list[dict] = field(default_factory=list)  # itemised usage, newest first
    restated: list[dict] = field(default_factory=list)  # restatements, newest first
    statements: list[dict] = field(default_factory=list)  # monthly, newest first (SPEC §8)
    corrections: list[dict] = field(default_factory=list)  # booked, newest first

    def name(self, product_code: str | None) -> str:
        if not product_code:
            return ""
        return self.names.get(product_code, product_code)


def rows(con: duckdb.DuckDBPyConnection, query: str, params: dict) -> list[dict]:
    """``query`` with the ``$name`` parameters it uses (DuckDB refuses extra ones)."""
    used = {name: value for name, value in params.items() if f"${name}" in query}
    cursor = con.execute(query, used)
    names = [d[0] for d in cursor.description]
    return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]


def load_account(
    con: duckdb.DuckDBPyConnection, account: str, as_of: date, names: dict[str, str]
) -> AccountData:
    """Everything the report of ``account`` shows as of ``as_of``, for every range."""
    p = {"account": account, "as_of": as_of}
    first = rows(
        con,
        "select least(min(b.date), (select min(date) from usage_daily "
        "where account_id = $account)) as d from balances as b where account_id = $account",
        p,
    )[0]["d"]
    data = AccountData(account, as_of, first or as_of, names)
    for balance in rows(
        con,
        "select * from balances where account_id = $account and date = $as_of "
        "order by available <= 0 and overdraft_total = 0, currency",
        p,
    ):
        data.currencies.append(_panel(con, {**p, "currency": balance["currency"]}, balance))
    data.products = rows(
        con,
        "select * from usage_by_product_90d where account_id = $account "
        "order by credits desc, events desc, product_code",
        p,
    )
    data.has_user_data = bool(
        con.execute("select exists(select 1 from usage_by_user_daily)").fetchone()[0]
    )
    data.users = rows(
        con,
        "select * from usage_by_user_90d where account_id = $account order by events desc, user_id",
        p,
    )
    data.grants = rows(
        con,
        "select grant_id, currency, remaining, expires_on, products, effective_on, priority, "
        "expires_on - $as_of as days_left from grant_state "
        "where account_id = $account and date = $as_of and remaining > 0 "
        "order by currency, expires_on nulls last, grant_id",
        p,
    )
    types = ", ".join(f"'{t}'" for t in EVENT_TYPES)
    data.events = rows(
        con,
        "select l.date, case when l.entry_type = 'grant' and exists(select 1 from topups as t "
        "  where t.account_id = l.account_id and t.grant_id = l.grant_id) then 'topup' "
        "  else l.entry_type end as entry_type, l.grant_id, l.currency, l.amount, l.ref, "
        "l.grant_remaining, (select string_agg(distinct o.account_id, ', ') "
        "  from credit_ledger as o where o.ref = l.ref and o.date = l.date "
        "  and o.account_id <> l.account_id and o.entry_type in ('transfer_in', 'transfer_out')"
        ") as counterparty "
        f"from credit_ledger as l where l.account_id = $account and l.entry_type in ({types}) "
        "and l.date <= $as_of order by l.date desc, l.entry_order, l.grant_id, l.ref",
        p,
    )
    data.alerts = rows(
        con,
        "select date, severity, kind, message, amount, ref from alerts "
        "where account_id = $account and date <= $as_of order by date desc, kind, ref",
        p,
    )
    data.daily_usage = rows(
        con,
        "select date, product_code, sum(credits) as credits from charges "
        "where account_id = $account and date <= $as_of "
        "group by date, product_code order by date, product_code",
        p,
    )
    data.monthly_usage = rows(
        con,
        "select cast(date_trunc('month', date) as date) as date, product_code, "
        "sum(credits) as credits from charges where account_id = $account and date <= $as_of "
        "group by all order by date, product_code",
        p,
    )
    data.items = rows(con, ITEMS_SQL, p)
    data.restated = rows(
        con,
        "select r.date, r.currency, r.reason, r.consumed_before, r.consumed_after, "
        "r.overdraft_before, r.overdraft_after, r.available_before, r.available_after, "
        "runs.finished_at as restated_at from restatements as r "
        "left join runs on runs.run_id = r.run_id and runs.date = r.date "
        "where r.account_id = $account and r.date <= $as_of "
        "order by restated_at desc, r.date desc, r.currency",
        p,
    )
    data.statements = rows(
        con,
        "select * from statements where account_id = $account and month <= $as_of "
        "order by month desc, currency",
        p,
    )
    data.corrections = rows(
        con,
        "select * from corrections where account_id = $account and booked_month <= $as_of "
        "order by booked_month desc, currency, closed_month desc, correction_id",
        p,
    )
    return data


# One row per day, product, scope and plan (its tiers added up), with what credits paid
# for and what went uncovered (the ledger's consume and overdraft entries of its charges).
ITEMS_SQL = """
with charged as (
    select date, product_code, scope_id, plan_id, meter, transaction_id, units, credits
    from charges
    where account_id = $account and date <= $as_of
),

burned as (
    select
        ref,
        sum(case when entry_type = 'consume' then -amount else 0 end) as covered,
        sum(case when entry_type = 'overdraft' then -amount else 0 end) as uncovered,
        string_agg(distinct currency, ', ' order by currency) as currency
    from credit_ledger
    where account_id = $account and entry_type in ('consume', 'overdraft') and date <= $as_of
    group by ref
)

select
    charged.date,
    charged.product_code,
    charged.scope_id,
    charged.plan_id,
    charged.meter,
    sum(charged.units) as units,
    sum(charged.credits) as credits,
    cast(coalesce(sum(burned.covered), 0) as decimal(38, 6)) as covered,
    cast(coalesce(sum(burned.uncovered), 0) as decimal(38, 6)) as overdraft,
    coalesce(string_agg(distinct burned.currency, ', '), '') as currency
from charged
left join burned on burned.ref = charged.transaction_id
group by charged.date, charged.product_code, charged.scope_id, charged.plan_id, charged.meter
order by charged.date desc, charged.product_code, charged.scope_id, charged.plan_id
"""


def _panel(con: duckdb.DuckDBPyConnection, p: dict, balance: dict) -> CurrencyPanel:
    where = "account_id = $account and currency = $currency"
    history = rows(
        con,
        "select date, available, overdraft_total, purchased_total from balances "
        f"where {where} and date <= $as_of order by date",
        p,
    )
    forecast = con.execute(
        "select d.date, d.projected_available, f.depletion_date from forecast_daily as d "
        "inner join forecast as f using (as_of, account_id, currency) "
        "where d.account_id = $account and d.currency = $currency and d.as_of = $as_of "
        "order by d.date",
        p,
    ).fetchall()
    [rate] = rows(
        con,
        "select sum(consumed + overdraft) as used, sum(consumed) as covered, count(*) as days "
        f"from balances where {where} and date between $as_of - {BURN_WINDOW_DAYS - 1} and $as_of",
        p,
    )
    panel = CurrencyPanel(
        currency=p["currency"],
        balance=balance,
        history=history,
        forecast=[(d, v) for d, v, _ in forecast],
        depletion_date=forecast[0][2] if forecast else None,
        usage_rate=_mean(rate["used"], rate["days"]),
        covered_rate=_mean(rate["covered"], rate["days"]),
    )
    if balance["available"] <= 0:
        # the current stretch without credits: after the last day that had some
        [empty] = rows(
            con,
            "with last_positive as (select coalesce(max(date), date '0001-01-01') as day "
            f"from balances where {where} and date <= $as_of and available > 0) "
            "select min(b.date) as since, arg_min(b.expired, b.date) as expired, "
            "min(b.date) filter (where b.overdraft > 0) as overdraft_since "
            "from balances as b, last_positive "
            "where b.account_id = $account and b.currency = $currency "
            "and b.date > last_positive.day and b.date <= $as_of",
            p,
        )
        panel.empty_since = empty["since"]
        panel.emptied_by_expiry = empty["expired"] or Decimal(0)
        panel.overdraft_since = empty["overdraft_since"]
    return panel


def _mean(total: Decimal | None, days: int) -> Decimal:
    if not days or total is None:
        return Decimal(0)
    return (Decimal(total) / days).quantize(Decimal("0.000001"), rounding=ROUND_HALF_EVEN)
