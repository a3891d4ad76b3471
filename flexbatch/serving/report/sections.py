"""The account page's tables: alerts, usage by product and by user over 90 days, grants
held, token events and the itemised usage. Rows that belong to a day carry
``data-date`` so the range switch can hide the ones outside the chosen range."""

from __future__ import annotations

from flexbatch.ledger.rules import EXPIRING_WINDOW_DAYS, USAGE_WINDOW_DAYS
from flexbatch.serving import bars, charts
from flexbatch.serving.report.data import AccountData
from flexbatch.serving.report.fmt import (
    EVENT_LABELS,
    alert_title,
    count,
    e,
    money,
    readable,
    signed,
)
from flexbatch.serving.report.status import alert_state

TOP_BARS = 12


def _table(head: str, body: str, cls: str = "data") -> str:
    return (
        f'<div class="scroll"><table class="{cls}"><thead><tr>{head}</tr></thead>'
        f"<tbody>{body}</tbody></table></div>"
    )


def alerts(data: AccountData) -> str:
    if not data.alerts:
        return (
            '<section class="card alerts"><h2>Alerts</h2><p class="empty">No alerts.</p></section>'
        )
    states = [(a, alert_state(a, data)) for a in data.alerts]
    states.sort(key=lambda pair: not pair[1].active)  # active first, each newest first
    body = "".join(
        f'<tr class="{"active" if s.active else "over"}" data-kind="{e(a["kind"])}">'
        f'<td class="d">{e(a["date"])}</td>'
        f'<td><span class="sev {e(a["severity"])}">{e(a["severity"])}</span></td>'
        f"<td><b>{e(alert_title(a['kind']))}</b><br>{e(readable(a['message']))}</td>"
        f'<td><span class="state">{"active" if s.active else "over"}</span> {e(s.note)}</td></tr>'
        for a, s in states
    )
    active = sum(1 for _, s in states if s.active)
    return (
        f'<section class="card alerts"><h2>Alerts</h2><p class="hint">{active} active, '
        f"{len(states) - active} over (raised on the day a condition started)</p>"
        + _table("<th>Raised</th><th>Severity</th><th>Alert</th><th>Now</th>", body)
        + "</section>"
    )


def products(data: AccountData) -> str:
    shown = [
        bars.Bar(
            data.name(r["product_code"]),
            float(r["credits"]),
            f"{money(r['credits'])} credits",
            f"{r['events']:,} events · {r['active_days']} active days",
        )
        for r in data.products[:TOP_BARS]
    ]
    if not shown:
        return (
            '<section class="card"><h2>Usage by product</h2>'
            f'<p class="empty">No usage in the last {USAGE_WINDOW_DAYS} days.</p></section>'
        )
    body = "".join(
        f'<tr data-product="{e(r["product_code"])}"><td>{e(data.name(r["product_code"]))}</td>'
        f'<td class=num title="{e(r["credits"])}">{e(money(r["credits"]))}</td>'
        f"<td class=num>{e(count(r['units']))}</td><td class=num>{r['events']:,}</td>"
        f"<td class=num>{r['active_days']}</td><td class=num>{r['users_active']}</td></tr>"
        for r in data.products
    )
    table = _table(
        "<th>Product</th><th class=num>Credits</th><th class=num>Units</th>"
        "<th class=num>Events</th><th class=num>Active days</th><th class=num>Users</th>",
        body,
    )
    return (
        '<section class="card"><h2>Usage by product</h2>'
        f'<p class="hint">Credits charged over the last {USAGE_WINDOW_DAYS} days</p>'
        '<figure class="chart-box">'
        f"{bars.bar_chart(shown, color=charts.BLUE, title='credits by product')}</figure>"
        f"{table}</section>"
    )


def users(data: AccountData) -> str:
    shown = [
        bars.Bar(
            r["user_id"],
            float(r["events"]),
            f"{r['events']:,} events",
            f"{r['active_days']} active days · {r['products_used']} products",
        )
        for r in data.users[:TOP_BARS]
    ]
    if shown:
        content = bars.bar_chart(shown, color="#7c3aed", title="events by user")
    elif not data.has_user_data:
        content = (
            '<p class="empty">Per-user usage is not recorded in this output (the '
            "<code>usage_by_user_daily</code> table is empty).</p>"
        )
    else:
        content = f'<p class="empty">No user activity in the last {USAGE_WINDOW_DAYS} days.</p>'
    more = (
        f'<p class="hint">Top {TOP_BARS} of {len(data.users)} users.</p>'
        if len(data.users) > TOP_BARS
        else ""
    )
    return (
        '<section class="card"><h2>Usage by user</h2>'
        f'<p class="hint">Events over the last {USAGE_WINDOW_DAYS} days</p>'
        f'<figure class="chart-box">{content}</figure>{more}</section>'
    )


def grants(data: AccountData) -> str:
    if not data.grants:
        return (
            '<section class="card"><h2>Grants held</h2>'
            '<p class="empty">No grant holds credits on this day.</p></section>'
        )
    body = []
    for g in data.grants:
        codes = [c for c in (g["products"] or "").split(";") if c]
        usable = ", ".join(data.name(c) for c in codes) if codes else "all products"
        soon = g["days_left"] is not None and g["days_left"] <= EXPIRING_WINDOW_DAYS
        expiry = (
            "never" if g["expires_on"] is None else f"{g['expires_on']} (in {g['days_left']} days)"
        )
        flag = f" <b>expires within {EXPIRING_WINDOW_DAYS} days</b>" if soon else ""
        body.append(
            f'<tr class="{"soon" if soon else ""}" data-grant="{e(g["grant_id"])}">'
            f"<td>{e(g['grant_id'])}</td><td>{e(g['currency'])}</td>"
            f'<td class=num title="{e(g["remaining"])}">{e(money(g["remaining"]))}</td>'
            f"<td>{e(expiry)}{flag}</td>"
            f'<td class="{"restricted" if codes else ""}">{e(usable)}</td></tr>'
        )
    return (
        '<section class="card"><h2>Grants held</h2><p class="hint">Credits left in each grant '
        "on the as-of day, when they expire and which products they may pay for</p>"
        + _table(
            "<th>Grant</th><th>Currency</th><th class=num>Remaining</th><th>Expires</th>"
            "<th>Usable for</th>",
            "".join(body),
        )
        + "</section>"
    )


def events(data: AccountData) -> str:
    if not data.events:
        return (
            '<section class="card"><h2>Token events</h2>'
            '<p class="empty">No grants, transfers or expiries yet.</p></section>'
        )
    body = "".join(
        f'<tr class="{e(r["entry_type"])}" data-date="{r["date"]}">'
        f'<td class="d">{e(r["date"])}</td>'
        f"<td>{e(EVENT_LABELS.get(r['entry_type'], r['entry_type']))}</td>"
        f"<td>{e(_counterparty(r))}</td><td>{e(r['grant_id'])}</td><td>{e(r['currency'])}</td>"
        f'<td class="num" title="{e(r["amount"])}">{e(signed(r["amount"]))}</td>'
        f'<td class="num">{e(money(r["grant_remaining"]))}</td><td>{e(r["ref"])}</td></tr>'
        for r in data.events
    )
    return (
        '<section class="card"><h2>Token events</h2>'
        + _table(
            "<th>Date</th><th>Event</th><th>With</th><th>Grant</th><th>Currency</th>"
            "<th class=num>Credits</th><th class=num>Grant left</th><th>Reference</th>",
            body,
        )
        + "</section>"
    )


def _counterparty(row: dict) -> str:
    if not row["counterparty"]:
        return ""
    return f"{'from' if row['entry_type'] == 'transfer_in' else 'to'} {row['counterparty']}"


ITEM_COLUMNS = (
    # header, csv name, key
    ("Date (UTC)", "date_utc", "date"),
    ("Product", "product_name", None),
    ("Code", "product_code", "product_code"),
    ("Scope", "scope_id", "scope_id"),
    ("Plan", "plan_id", "plan_id"),
    ("Meter", "meter", "meter"),
    ("Units", "units", "units"),
    ("Credits", "credits", "credits"),
    ("Covered", "covered_credits", "covered"),
    ("Overdraft", "overdraft_credits", "overdraft"),
    ("Currency", "currency", "currency"),
)
NUMERIC = {"units", "credits", "covered", "overdraft"}


REASONS = {
    "inputs_changed": "late or changed usage files",
    "config_changed": "changed rate plans, grants or transfers",
    "cascade": "an earlier day was restated",
}


def _minute(at: object) -> str:
    return f"{at:%Y-%m-%d %H:%M}" if at is not None else "–"


def restated(data: AccountData) -> str:
    """History restated: each published day a later run changed, before and after."""
    if not data.restated:
        return ""
    body = "".join(
        f'<tr data-date="{e(r["date"])}"><td class="d">{e(r["date"])}</td>'
        f"<td>{e(r['currency'])}</td><td>{e(REASONS.get(r['reason'], r['reason']))}</td>"
        + "".join(
            f'<td class="n">{money(r[f"{m}_before"])} → {money(r[f"{m}_after"])}</td>'
            for m in ("consumed", "overdraft", "available")
        )
        + f'<td class="d">{e(_minute(r["restated_at"]))}</td></tr>'
        for r in data.restated
    )
    last = _minute(data.restated[0]["restated_at"])
    return (
        f'<section class="card restated"><h2>History restated</h2><p class="hint">'
        f"History restated on {e(last)} (UTC): published days recomputed with new data or "
        "configuration, before → after.</p>"
        + _table(
            "<th>Day</th><th>Currency</th><th>Why</th><th>Consumed</th><th>Overdraft</th>"
            "<th>Available</th><th>Restated at</th>",
            body,
        )
        + "</section>"
    )


def items(data: AccountData) -> str:
    """The itemised usage (exact values): the rows the CSV download exports."""
    head = "".join(
        f'<th data-csv="{csv}"{" class=num" if key in NUMERIC else ""}>{e(label)}</th>'
        for label, csv, key in ITEM_COLUMNS
    )
    body = "".join(
        f'<tr data-date="{r["date"]}"{" class=overdraft" if r["overdraft"] > 0 else ""}>'
        + "".join(
            f"<td{' class=num' if key in NUMERIC else ''}>"
            f"{e(data.name(r['product_code']) if key is None else r[key])}</td>"
            for _, _, key in ITEM_COLUMNS
        )
        + "</tr>"
        for r in data.items
    )
    return (
        '<section class="card items"><h2>Itemised usage</h2><p class="hint">One row per UTC '
        "day, product, scope and plan in the chosen range, exact credits; "
        '<span class="shown">all</span> rows shown. The CSV download holds these rows.</p>'
        f"<details><summary>Show the {len(data.items):,} rows</summary>"
        + _table(head, body, "data items-table")
        + "</details></section>"
    )
