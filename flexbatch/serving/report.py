"""``flexbatch report``: a self-contained HTML balance report per account.

One file per account, readable offline: the CSS is inline, the charts are inline SVG built
by :mod:`flexbatch.serving.charts` (the module docstring says why no plotting library), and the
page references no URL at all, so opening it makes no network request. It shows, as of one
processed day:

* per credit currency, the balance tiles (available, used, purchased, expiring within
  90 days, burn rate, projected depletion), a donut of available / used / expired credits
  of everything purchased with the 20 % band boundary, and the burndown of the chosen
  window (1, 3, 6, 12 months or custom) with the forecast line and the depletion date;
* usage by product and by user over the 90 days ending at the as-of day (the helper views
  of ``sql/``, read through a ``runs`` view cut at that day);
* the grant slices expiring in the next 90 days, the token events (grants, transfers,
  expiries) and the alerts.

Every value is HTML-escaped. ``--all`` writes one report per account into a folder plus an
``index.html``; file names are the account id reduced to ``[A-Za-z0-9_-]`` (so ``../x`` or
``a/b`` can never leave the folder) followed by 8 hex digits of its SHA-256, unique per id.
Numbers are exact decimals from the outputs, shown to 2 places; the exact value is in each
tile's ``data-value`` and ``title``.
"""

from __future__ import annotations

import hashlib
import logging
import os
import re
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import ROUND_HALF_EVEN, Decimal
from html import escape
from pathlib import Path

import duckdb

from flexbatch import __version__
from flexbatch.errors import ConfigError
from flexbatch.serving import charts
from flexbatch.serving.catalog import register_helper_views
from flexbatch.serving.focus import GRANT_STATE
from flexbatch.serving.query import register_views

logger = logging.getLogger(__name__)

WINDOW_MONTHS = {"1m": 1, "3m": 3, "6m": 6, "12m": 12}
WINDOWS = (*WINDOW_MONTHS, "custom")
EVENT_TYPES = ("grant", "transfer_in", "transfer_out", "expire")
EVENT_LABELS = {
    "grant": "Grant",
    "transfer_in": "Transfer in",
    "transfer_out": "Transfer out",
    "expire": "Expiry",
}
BAND_SHARE = Decimal("0.2")
EXPIRY_DAYS = 90
TOP_BARS = 12
INDEX_NAME = "index.html"


@dataclass
class CurrencyPanel:
    """One credit currency of the account on the as-of day."""

    currency: str
    balance: dict
    history: list[tuple[date, Decimal, Decimal]]  # day, available, purchased_total
    forecast: list[tuple[date, Decimal]]
    burn_rate: Decimal | None
    depletion_date: date | None


@dataclass
class AccountData:
    account: str
    as_of: date
    window: str
    window_start: date
    currencies: list[CurrencyPanel] = field(default_factory=list)
    products: list[dict] = field(default_factory=list)
    users: list[dict] = field(default_factory=list)
    has_user_data: bool = False
    expiring: list[dict] = field(default_factory=list)
    events: list[dict] = field(default_factory=list)
    alerts: list[dict] = field(default_factory=list)


def write_reports(
    out: Path,
    *,
    account: str | None,
    as_of: date | None,
    window: str,
    since: date | None,
    to_path: Path,
) -> list[Path]:
    """Write the report of ``account`` to ``to_path`` (a file, or a folder to put it in),
    or with ``account=None`` every account's report and ``index.html`` into the folder
    ``to_path``. Returns the paths written (the index last)."""
    out = Path(out)
    to_path = Path(to_path)
    if not out.is_dir():
        raise ConfigError(f"--output {out}: no such folder; fix: run flexbatch run first")
    if window not in WINDOWS:
        raise ConfigError(f"report: unknown --window {window!r}; fix: use {', '.join(WINDOWS)}")
    con = _connect(out)
    as_of = _resolve_as_of(con, as_of)
    start = window_start(as_of, window, since)
    _cut_runs(con, as_of)
    register_helper_views(con)
    _register_grant_state(con, out)
    accounts = _accounts(con, as_of)
    if account is not None:
        if account not in accounts:
            raise ConfigError(
                f"report: --account {account!r} has no usage or credits up to {as_of}; "
                f"fix: use one of {', '.join(accounts[:10]) or '(none)'}"
            )
        target = to_path / report_file_name(account) if to_path.is_dir() else to_path
        target.parent.mkdir(parents=True, exist_ok=True)
        data = load_account(con, account, as_of, window, start)
        _write(target, render_report(data))
        return [target]
    if to_path.exists() and not to_path.is_dir():
        raise ConfigError(f"report --all: --to {to_path} is a file; fix: give a folder")
    to_path.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    reports: list[tuple[AccountData, str]] = []
    for name in accounts:
        data = load_account(con, name, as_of, window, start)
        file_name = report_file_name(name)
        target = to_path / file_name
        _write(target, render_report(data))
        written.append(target)
        reports.append((data, file_name))
    index = to_path / INDEX_NAME
    _write(index, render_index(reports, as_of))
    written.append(index)
    logger.info("report: %d account reports and %s", len(accounts), index)
    return written


def report_file_name(account: str) -> str:
    """``<readable part>-<8 hex of sha256>.html``: never a path, unique per account id."""
    readable = re.sub(r"[^A-Za-z0-9_-]+", "-", account).strip("-_")[:48] or "account"
    digest = hashlib.sha256(account.encode("utf-8")).hexdigest()[:8]
    return f"{readable}-{digest}.html"


def window_start(as_of: date, window: str, since: date | None) -> date:
    """First day of the burndown window ending at ``as_of`` (inclusive)."""
    if window == "custom":
        if since is None:
            raise ConfigError("report: --window custom needs --since YYYY-MM-DD; fix: add it")
        if since > as_of:
            raise ConfigError(f"report: --since {since} is after the as-of day {as_of}")
        return since
    if since is not None:
        raise ConfigError("report: --since goes with --window custom; fix: add --window custom")
    return _months_before(as_of, WINDOW_MONTHS[window]) + timedelta(days=1)


def _months_before(day: date, months: int) -> date:
    index = day.year * 12 + day.month - 1 - months
    year, month = divmod(index, 12)
    month += 1
    next_month = date(year + (month == 12), month % 12 + 1, 1)
    return date(year, month, min(day.day, (next_month - timedelta(days=1)).day))


# -- loading -------------------------------------------------------------------------


def _connect(out: Path) -> duckdb.DuckDBPyConnection:
    con = duckdb.connect()
    con.execute("set TimeZone = 'UTC'")
    views = register_views(con, out)
    missing = {"balances", "runs", "credit_ledger"} - set(views)
    if missing:
        raise ConfigError(
            f"report: {out} has no {', '.join(sorted(missing))}; fix: run flexbatch run first"
        )
    for table, ddl in _EMPTY_VIEWS.items():
        if table not in views:
            con.execute(ddl)
    return con


# Optional tables that may have no partition yet (an output without alerts, say).
_EMPTY_VIEWS = {
    "alerts": "create view alerts as select cast(null as varchar) as account_id, "
    "cast(null as varchar) as kind, cast(null as varchar) as severity, "
    "cast(null as varchar) as message, cast(null as decimal(38, 6)) as amount, "
    "cast(null as varchar) as ref, cast(null as date) as date where false",
    "forecast": "create view forecast as select cast(null as varchar) as account_id, "
    "cast(null as varchar) as currency, cast(null as date) as date, "
    "cast(null as decimal(38, 6)) as projected_available, "
    "cast(null as decimal(38, 6)) as burn_rate, cast(null as date) as depletion_date, "
    "cast(null as date) as as_of where false",
    "charges": "create view charges as select cast(null as varchar) as account_id, "
    "cast(null as varchar) as product_code, cast(null as decimal(38, 6)) as credits, "
    "cast(null as decimal(38, 6)) as units, cast(null as date) as date where false",
    "usage_daily": "create view usage_daily as select cast(null as varchar) as account_id, "
    "cast(null as varchar) as product_code, cast(null as bigint) as events, "
    "cast(null as date) as date where false",
}


def _resolve_as_of(con: duckdb.DuckDBPyConnection, as_of: date | None) -> date:
    days = {
        day
        for (day,) in con.execute(
            "select distinct date from runs where status = 'succeeded'"
        ).fetchall()
    }
    if not days:
        raise ConfigError("report: no processed day in the output; fix: run flexbatch run first")
    if as_of is None:
        return max(days)
    if as_of not in days:
        raise ConfigError(
            f"report: --as-of {as_of} is not a processed day (processed: {min(days)} to "
            f"{max(days)}); fix: pick a processed day"
        )
    return as_of


def _cut_runs(con: duckdb.DuckDBPyConnection, as_of: date) -> None:
    """Make ``runs`` end at ``as_of`` so the 90-day helper views end there too."""
    con.execute("alter view runs rename to runs_published")
    con.execute(f"create view runs as select * from runs_published where date <= date '{as_of}'")


def _register_grant_state(con: duckdb.DuckDBPyConnection, out: Path) -> None:
    folder = out / GRANT_STATE
    if any(folder.glob("date=*/*.parquet")):
        glob = str(folder / "date=*" / "*.parquet").replace("'", "''")
        source = (
            f"read_parquet('{glob}', hive_partitioning = true, "
            "hive_types = {'date': 'date'}, union_by_name = true)"
        )
    else:
        source = (
            "(select cast(null as varchar) as account_id, cast(null as varchar) as grant_id, "
            "cast(null as varchar) as currency, cast(null as date) as expires_on, "
            "cast(null as decimal(38, 6)) as remaining, cast(null as date) as date where false)"
        )
    con.execute(f"create or replace temp view grant_state as select * from {source}")


def _accounts(con: duckdb.DuckDBPyConnection, as_of: date) -> list[str]:
    rows = con.execute(
        "select account_id from balances where date <= $as_of "
        "union select account_id from usage_daily where date <= $as_of",
        {"as_of": as_of},
    ).fetchall()
    return sorted(name for (name,) in rows if name)


def _execute(con: duckdb.DuckDBPyConnection, query: str, params: dict):
    """Run ``query`` with the ``$name`` parameters it uses (DuckDB refuses extra ones)."""
    used = {name: value for name, value in params.items() if f"${name}" in query}
    return con.execute(query, used)


def _rows(con: duckdb.DuckDBPyConnection, query: str, params: dict) -> list[dict]:
    cursor = _execute(con, query, params)
    names = [d[0] for d in cursor.description]
    return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]


def load_account(
    con: duckdb.DuckDBPyConnection, account: str, as_of: date, window: str, start: date
) -> AccountData:
    """Everything the report of ``account`` shows, as exact values."""
    params = {"account": account, "as_of": as_of, "start": start}
    data = AccountData(account, as_of, window, start)
    balances = _rows(
        con,
        "select * from balances where account_id = $account and date = $as_of "
        "order by available <= 0, currency",
        params,
    )
    for balance in balances:
        currency = balance["currency"]
        cparams = {**params, "currency": currency}
        history = _execute(
            con,
            "select date, available, purchased_total from balances "
            "where account_id = $account and currency = $currency "
            "and date between $start and $as_of order by date",
            cparams,
        ).fetchall()
        forecast = _execute(
            con,
            "select date, projected_available, burn_rate, depletion_date from forecast "
            "where account_id = $account and currency = $currency and as_of = $as_of "
            "order by date",
            cparams,
        ).fetchall()
        data.currencies.append(
            CurrencyPanel(
                currency=currency,
                balance=balance,
                history=[(d, a, p) for d, a, p in history],
                forecast=[(d, p) for d, p, _, _ in forecast],
                burn_rate=forecast[0][2] if forecast else None,
                depletion_date=forecast[0][3] if forecast else None,
            )
        )
    data.products = _rows(
        con,
        "select * from usage_by_product_90d where account_id = $account "
        "order by credits desc, events desc, product_code",
        params,
    )
    data.has_user_data = bool(
        con.execute("select exists(select 1 from usage_by_user_daily)").fetchone()[0]
    )
    data.users = _rows(
        con,
        "select * from usage_by_user_90d where account_id = $account order by events desc, user_id",
        params,
    )
    data.expiring = _rows(
        con,
        "select grant_id, currency, remaining, expires_on, expires_on - $as_of as days_left "
        "from grant_state where account_id = $account and date = $as_of and remaining > 0 "
        f"and expires_on > $as_of and expires_on <= $as_of + {EXPIRY_DAYS} "
        "order by expires_on, grant_id",
        params,
    )
    types = ", ".join(f"'{t}'" for t in EVENT_TYPES)
    data.events = _rows(
        con,
        "select date, entry_type, grant_id, currency, amount, ref, grant_remaining "
        f"from credit_ledger where account_id = $account and entry_type in ({types}) "
        "and date <= $as_of order by date desc, entry_order, grant_id, ref",
        params,
    )
    data.alerts = _rows(
        con,
        "select date, severity, kind, message, amount, ref from alerts "
        "where account_id = $account and date <= $as_of "
        "order by date desc, kind, ref",
        params,
    )
    return data


# -- rendering -------------------------------------------------------------------------


def e(value: object) -> str:
    """HTML-escape any value (None is an empty string)."""
    return "" if value is None else escape(str(value), quote=True)


def money(value: Decimal | None) -> str:
    """Credits to 2 places (half-even) with thousands separators; '–' when unknown."""
    if value is None:
        return "–"
    return f"{Decimal(value).quantize(Decimal('0.01'), rounding=ROUND_HALF_EVEN):,.2f}"


def signed(value: Decimal) -> str:
    text = money(value)
    return text if value < 0 else f"+{text}"


def day_text(day: date | None) -> str:
    return "–" if day is None else day.isoformat()


def render_report(data: AccountData) -> str:
    sections = [_header(data)]
    if not data.currencies:
        sections.append(
            '<section class="card"><p class="empty">No credit balance on this day: the '
            "account has usage but no grants or charges yet.</p></section>"
        )
    sections.extend(_currency_section(data, panel) for panel in data.currencies)
    sections.append(
        '<div class="grid2">' + _products_section(data) + _users_section(data) + "</div>"
    )
    sections.append(_expiring_section(data))
    sections.append(_events_section(data))
    sections.append(_alerts_section(data))
    body = "\n".join(sections)
    title = f"Credit balance · {data.account} · {data.as_of}"
    return _page(title, body, data.as_of)


def _page(title: str, body: str, as_of: date) -> str:
    return (
        "<!DOCTYPE html>\n"
        '<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{e(title)}</title><style>{CSS}</style></head>"
        f'<body><main class="page">{body}'
        f"<footer>flexbatch {e(__version__)} · all days are UTC · as of {e(as_of)} · "
        "credits shown to 2 decimals, exact values in each tile's tooltip</footer>"
        "</main></body></html>\n"
    )


def _header(data: AccountData) -> str:
    return (
        '<header class="top"><div><p class="eyebrow">Credit balance report</p>'
        f'<h1 data-account="{e(data.account)}">{e(data.account)}</h1></div>'
        '<dl class="meta">'
        f"<div><dt>As of</dt><dd>{e(data.as_of)}</dd></div>"
        f"<div><dt>Burndown window</dt><dd>{e(data.window_start)} → {e(data.as_of)} "
        f"({e(data.window)})</dd></div>"
        f"<div><dt>Usage window</dt><dd>{e(data.as_of - timedelta(days=89))} → "
        f"{e(data.as_of)} (90 days)</dd></div>"
        "</dl></header>"
    )


def _tile(label: str, value: Decimal | None, metric: str, currency: str, sub: str = "") -> str:
    exact = "" if value is None else str(value)
    return (
        f'<div class="tile" data-metric="{e(metric)}" data-currency="{e(currency)}" '
        f'data-value="{e(exact)}" title="{e(exact)}"><div class="label">{e(label)}</div>'
        f'<div class="value">{e(money(value))}</div><div class="sub">{e(sub)}</div></div>'
    )


def _currency_section(data: AccountData, panel: CurrencyPanel) -> str:
    b = panel.balance
    currency = panel.currency
    purchased, available = b["purchased_total"], b["available"]
    threshold = purchased * BAND_SHARE
    band = b["band"]
    pct = b["available_pct"]
    band_text = (
        f"{band}: available {'>' if band == 'green' else '≤'} 20 % of purchased "
        f"({money(threshold)})"
    )
    tiles = [
        _tile("Available", available, "available", currency, f"{pct} % of purchased"),
        _tile("Used", b["used_total"], "used", currency, "consumed in total"),
        _tile("Purchased", purchased, "purchased", currency, "granted + net transfers"),
        _tile(
            "Expiring in 90 days",
            b["expiring_90d"],
            "expiring_90d",
            currency,
            f"by {data.as_of + timedelta(days=EXPIRY_DAYS)}",
        ),
        _tile("Burn rate / day", panel.burn_rate, "burn_rate", currency, "trailing 30 days"),
    ]
    depletion = _depletion(panel)
    if available <= 0:
        shown, sub = "depleted", "no credits left"
    elif depletion is None:
        shown, sub = "not within 365 days", "at the current burn rate"
    else:
        shown = depletion.isoformat()
        sub = f"in {(depletion - data.as_of).days} days at the current burn rate"
    tiles.append(
        '<div class="tile" data-metric="depletion_date" '
        f'data-currency="{e(currency)}" data-value="{e(day_text(depletion))}">'
        f'<div class="label">Projected depletion</div><div class="value">{e(shown)}</div>'
        f'<div class="sub">{e(sub)}</div></div>'
    )
    if b["expired_total"]:
        tiles.append(_tile("Expired", b["expired_total"], "expired", currency, "forfeited"))
    if b["overdraft_total"]:
        tiles.append(
            _tile(
                "Overdraft",
                b["overdraft_total"],
                "overdraft",
                currency,
                "uncovered usage, billed as overage",
            ).replace('class="tile"', 'class="tile alert"', 1)
        )
    donut = charts.donut(
        [
            charts.Segment(
                f"available {money(available)}",
                float(available),
                charts.GREEN if band == "green" else charts.RED,
            ),
            charts.Segment(f"used {money(b['used_total'])}", float(b["used_total"]), charts.BLUE),
            charts.Segment(
                f"expired {money(b['expired_total'])}", float(b["expired_total"]), charts.SLATE
            ),
        ],
        center_title=f"{pct} %" if purchased > 0 else "–",
        center_subtitle="available" if purchased > 0 else "nothing purchased",
        threshold_fraction=float(BAND_SHARE),
        title=f"{currency}: available, used and expired of purchased",
    )
    legend = (
        '<ul class="legend">'
        f'<li><i style="background:{charts.GREEN if band == "green" else charts.RED}"></i>'
        f"Available {e(money(available))}</li>"
        f'<li><i style="background:{charts.BLUE}"></i>Used {e(money(b["used_total"]))}</li>'
        f'<li><i style="background:{charts.SLATE}"></i>Expired '
        f"{e(money(b['expired_total']))}</li>"
        f'<li><i class="tick"></i>20 % of purchased</li></ul>'
    )
    return (
        f'<section class="card currency" data-currency="{e(currency)}">'
        f'<div class="card-head"><h2>{e(currency)}</h2>'
        f'<span class="band {e(band)}" data-band="{e(band)}">{e(band_text)}</span></div>'
        f'<div class="balance-row"><div class="tiles">{"".join(tiles)}</div>'
        f'<figure class="donut-box">{donut}{legend}</figure></div>'
        f"<h3>Burndown</h3>{_burndown(data, panel)}</section>"
    )


def _depletion(panel: CurrencyPanel) -> date | None:
    """The forecast's depletion date, unless the currency is already used up."""
    if panel.balance["available"] <= 0:
        return None
    return panel.depletion_date


def _depletion_text(panel: CurrencyPanel) -> str:
    if panel.balance["available"] <= 0:
        return "depleted"
    return day_text(_depletion(panel)) if panel.depletion_date else "not within 365 days"


def _burndown(data: AccountData, panel: CurrencyPanel) -> str:
    history = panel.history
    if not history:
        return '<p class="empty">No balance history in the window.</p>'
    x_start = max(data.window_start, history[0][0])
    window_days = (data.as_of - x_start).days
    horizon = min(90, max(14, window_days // 2))
    depletion = _depletion(panel)
    if depletion is not None and (depletion - data.as_of).days <= 90:
        horizon = max(horizon, (depletion - data.as_of).days + 3)
    x_end = data.as_of + timedelta(days=horizon)
    forecast = [(data.as_of, float(history[-1][1]))]
    for day, value in panel.forecast:
        if day > x_end or forecast[-1][1] <= 0:
            break
        forecast.append((day, max(0.0, float(value))))  # stops where credits run out
    threshold = [(d, float(p * BAND_SHARE)) for d, _, p in history]
    threshold.append((x_end, threshold[-1][1]))
    markers = [(data.as_of, f"as of {data.as_of:%d %b}", charts.MUTED)]
    if depletion is not None:
        markers.append((depletion, f"depletes {depletion:%d %b %Y}", charts.RED))
    chart = charts.line_chart(
        [
            charts.Series("Available", [(d, float(a)) for d, a, _ in history], charts.BLUE),
            charts.Series("Forecast", forecast, charts.AMBER, dashed=True),
        ],
        x_start=x_start,
        x_end=x_end,
        threshold=threshold,
        threshold_label="20 % of purchased",
        markers=markers,
        title=f"{panel.currency} burndown",
    )
    return f'<figure class="chart-box">{chart}</figure>'


def _products_section(data: AccountData) -> str:
    bars = [
        charts.Bar(
            row["product_code"],
            float(row["credits"]),
            f"{money(row['credits'])} credits",
            f"{row['events']:,} events · {row['active_days']} active days",
        )
        for row in data.products[:TOP_BARS]
    ]
    if not bars:
        content = '<p class="empty">No usage in the last 90 days.</p>'
    else:
        content = charts.bar_chart(bars, color=charts.BLUE, title="credits by product")
    rows = "".join(
        f"<tr><td>{e(r['product_code'])}</td><td class=num>{e(r['credits'])}</td>"
        f"<td class=num>{e(r['units'])}</td><td class=num>{e(r['events'])}</td>"
        f"<td class=num>{e(r['active_days'])}</td><td class=num>{e(r['users_active'])}</td></tr>"
        for r in data.products
    )
    table = (
        '<details><summary>Exact values</summary><table class="data"><thead><tr>'
        "<th>Product</th><th class=num>Credits</th><th class=num>Units</th>"
        "<th class=num>Events</th><th class=num>Active days</th>"
        f"<th class=num>Users</th></tr></thead><tbody>{rows}</tbody></table></details>"
        if data.products
        else ""
    )
    return (
        '<section class="card"><h2>Usage by product</h2>'
        '<p class="hint">Credits charged over the last 90 days</p>'
        f'<figure class="chart-box">{content}</figure>{table}</section>'
    )


def _users_section(data: AccountData) -> str:
    bars = [
        charts.Bar(
            row["user_id"],
            float(row["events"]),
            f"{row['events']:,} events",
            f"{row['active_days']} active days · {row['products_used']} products",
        )
        for row in data.users[:TOP_BARS]
    ]
    if bars:
        content = charts.bar_chart(bars, color="#7c3aed", title="events by user")
    elif not data.has_user_data:
        content = (
            '<p class="empty">Per-user usage is not recorded in this output: it needs the '
            "<code>usage_by_user_daily</code> table, which this flexbatch version does not "
            "write yet. Daily distinct users per product are in <code>usage_daily</code>.</p>"
        )
    else:
        content = '<p class="empty">No user activity in the last 90 days.</p>'
    more = (
        f'<p class="hint">Top {TOP_BARS} of {len(data.users)} users.</p>'
        if len(data.users) > TOP_BARS
        else ""
    )
    return (
        '<section class="card"><h2>Usage by user</h2>'
        '<p class="hint">Events over the last 90 days</p>'
        f'<figure class="chart-box">{content}</figure>{more}</section>'
    )


def _expiring_section(data: AccountData) -> str:
    if not data.expiring:
        content = f'<p class="empty">No credits expire in the next {EXPIRY_DAYS} days.</p>'
    else:
        rows = "".join(
            f"<tr><td>{e(r['grant_id'])}</td><td>{e(r['currency'])}</td>"
            f'<td class="num" title="{e(r["remaining"])}">{e(money(r["remaining"]))}</td>'
            f"<td>{e(r['expires_on'])}</td><td class=num>{e(r['days_left'])}</td></tr>"
            for r in data.expiring
        )
        content = (
            '<table class="data"><thead><tr><th>Grant</th><th>Currency</th>'
            "<th class=num>Remaining</th><th>Expires on</th><th class=num>Days left</th>"
            "</tr></thead>"
            f"<tbody>{rows}</tbody></table>"
        )
    return (
        f'<section class="card"><h2>Credits expiring in the next {EXPIRY_DAYS} days</h2>'
        f"{content}</section>"
    )


def _events_section(data: AccountData) -> str:
    if not data.events:
        content = '<p class="empty">No grants, transfers or expiries yet.</p>'
    else:
        rows = "".join(
            f'<tr class="{e(r["entry_type"])}"><td>{e(r["date"])}</td>'
            f"<td>{e(EVENT_LABELS.get(r['entry_type'], r['entry_type']))}</td>"
            f"<td>{e(r['grant_id'])}</td><td>{e(r['currency'])}</td>"
            f'<td class="num" title="{e(r["amount"])}">{e(signed(r["amount"]))}</td>'
            f'<td class="num">{e(money(r["grant_remaining"]))}</td><td>{e(r["ref"])}</td></tr>'
            for r in data.events
        )
        content = (
            '<table class="data"><thead><tr><th>Date</th><th>Event</th><th>Grant</th>'
            "<th>Currency</th><th class=num>Credits</th><th class=num>Slice remaining</th>"
            "<th>Reference</th>"
            f"</tr></thead><tbody>{rows}</tbody></table>"
        )
    return f'<section class="card"><h2>Token events</h2>{content}</section>'


def _alerts_section(data: AccountData) -> str:
    if not data.alerts:
        content = '<p class="empty">No alerts.</p>'
    else:
        rows = "".join(
            f"<tr><td>{e(r['date'])}</td>"
            f'<td><span class="sev {e(r["severity"])}">{e(r["severity"])}</span></td>'
            f"<td>{e(r['kind'])}</td><td>{e(r['message'])}</td></tr>"
            for r in data.alerts
        )
        content = (
            '<table class="data"><thead><tr><th>Date</th><th>Severity</th><th>Kind</th>'
            f"<th>Message</th></tr></thead><tbody>{rows}</tbody></table>"
        )
    return f'<section class="card"><h2>Alerts</h2>{content}</section>'


def render_index(reports: list[tuple[AccountData, str]], as_of: date) -> str:
    rows = []
    for data, file_name in reports:
        link = f'<a href="{e(file_name)}">{e(data.account)}</a>'
        if not data.currencies:
            rows.append(f'<tr><td>{link}</td><td colspan="6" class="empty">no credits</td></tr>')
        for panel in data.currencies:
            b = panel.balance
            rows.append(
                f"<tr><td>{link}</td><td>{e(panel.currency)}</td>"
                f'<td class="num">{e(money(b["available"]))}</td>'
                f'<td class="num">{e(money(b["used_total"]))}</td>'
                f'<td class="num">{e(money(b["purchased_total"]))}</td>'
                f'<td><span class="band {e(b["band"])}">{e(b["band"])}</span></td>'
                f"<td>{e(_depletion_text(panel))}</td></tr>"
            )
    body = (
        '<header class="top"><div><p class="eyebrow">Credit balance reports</p>'
        f"<h1>All accounts</h1></div><dl class=meta><div><dt>As of</dt><dd>{e(as_of)}</dd>"
        "</div></dl></header>"
        '<section class="card"><table class="data"><thead><tr><th>Account</th>'
        "<th>Currency</th><th class=num>Available</th><th class=num>Used</th>"
        "<th class=num>Purchased</th><th>Band</th>"
        f"<th>Projected depletion</th></tr></thead><tbody>{''.join(rows)}</tbody></table>"
        "</section>"
    )
    return _page(f"Credit balance reports · {as_of}", body, as_of)


def _write(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


CSS = """
*{box-sizing:border-box}
body{margin:0;background:#f3f4f6;color:#1f2937;font:14px/1.45 system-ui,-apple-system,
"Segoe UI",Roboto,"Helvetica Neue","DejaVu Sans",Arial,sans-serif}
.page{max-width:1180px;margin:0 auto;padding:28px 28px 40px}
.top{display:flex;justify-content:space-between;align-items:flex-end;gap:24px;
margin-bottom:20px;border-bottom:1px solid #e5e7eb;padding-bottom:16px}
.eyebrow{margin:0;color:#6b7280;font-size:12px;letter-spacing:.08em;text-transform:uppercase}
h1{margin:2px 0 0;font-size:28px;font-weight:700;word-break:break-all}
h2{margin:0;font-size:17px;font-weight:650}
h3{margin:18px 0 6px;font-size:13px;color:#6b7280;text-transform:uppercase;
letter-spacing:.06em;font-weight:600}
.meta{display:flex;gap:28px;margin:0}
.meta dt{color:#6b7280;font-size:12px}.meta dd{margin:0;font-weight:600}
.card{background:#fff;border:1px solid #e5e7eb;border-radius:10px;padding:18px 20px;
margin-bottom:18px;box-shadow:0 1px 2px rgba(0,0,0,.04)}
.card-head{display:flex;align-items:center;justify-content:space-between;margin-bottom:14px}
.band{display:inline-block;padding:3px 10px;border-radius:999px;font-size:12px;
font-weight:600}
.band.green{background:#dcfce7;color:#166534}.band.red{background:#fee2e2;color:#991b1b}
.balance-row{display:flex;gap:20px;align-items:center}
.tiles{flex:1;display:grid;grid-template-columns:repeat(3,1fr);gap:12px}
.tile{border:1px solid #e5e7eb;border-radius:8px;padding:10px 12px;background:#fafafa}
.tile.alert{background:#fef2f2;border-color:#fecaca}
.tile .label{color:#6b7280;font-size:12px}
.tile .value{font-size:22px;font-weight:700;font-variant-numeric:tabular-nums}
.tile .sub{color:#6b7280;font-size:12px;min-height:17px}
.donut-box{margin:0;display:flex;flex-direction:column;align-items:center;width:250px}
.legend{list-style:none;padding:0;margin:6px 0 0;font-size:12px;color:#374151;
display:grid;grid-template-columns:1fr;gap:2px}
.legend i{display:inline-block;width:10px;height:10px;border-radius:2px;margin-right:6px;
vertical-align:-1px}
.legend i.tick{width:3px;height:12px;background:#1f2937;border-radius:0}
.chart-box{margin:0}.chart{display:block}
.grid2{display:grid;grid-template-columns:1fr 1fr;gap:18px}
.grid2 .card{margin-bottom:18px}
.hint{margin:2px 0 10px;color:#6b7280;font-size:12px}
.empty{color:#6b7280;font-style:italic;margin:6px 0}
table.data{width:100%;border-collapse:collapse;font-size:13px}
table.data th{text-align:left;color:#6b7280;font-weight:600;border-bottom:1px solid #e5e7eb;
padding:6px 8px}
table.data td{border-bottom:1px solid #f3f4f6;padding:6px 8px;vertical-align:top;
word-break:break-word}
th.num{text-align:right}
td.num{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}
tr.expire td,tr.transfer_out td{color:#991b1b}
details summary{cursor:pointer;color:#2563eb;font-size:12px;margin-top:6px}
.sev{padding:2px 8px;border-radius:999px;font-size:11px;font-weight:600;
background:#e5e7eb}
.sev.warning{background:#fef3c7;color:#92400e}.sev.critical,.sev.error{background:#fee2e2;
color:#991b1b}.sev.info{background:#dbeafe;color:#1e40af}
code{background:#f3f4f6;padding:1px 4px;border-radius:4px}
a{color:#2563eb;text-decoration:none}
footer{color:#9ca3af;font-size:12px;text-align:center;margin-top:8px}
"""
