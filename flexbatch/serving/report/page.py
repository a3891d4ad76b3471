"""The account page: its header with the range switch, one card per credit currency
(tiles, donut, burndown per range) and the usage over time per range.

A block that depends on the range is rendered once per range inside ``<div class="r
r-KEY">``; the stylesheet shows the blocks of the range named by ``<main data-range>``,
which the inline script switches (without script the default range stays shown)."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal

from flexbatch.ledger.rules import (
    BAND_PERCENT,
    BAND_SHARE,
    BURN_WINDOW_DAYS,
    EXPIRING_WINDOW_DAYS,
    FORECAST_HORIZON_DAYS,
    USAGE_WINDOW_DAYS,
)
from flexbatch.serving import bars, charts
from flexbatch.serving.report import sections
from flexbatch.serving.report.data import AccountData, CurrencyPanel
from flexbatch.serving.report.fmt import EVENT_LABELS, day_text, e, money, signed
from flexbatch.serving.report.script import SCRIPT, range_css
from flexbatch.serving.report.statements import statements
from flexbatch.serving.report.status import currency_state
from flexbatch.serving.report.style import CSS

BAND = f"{BAND_PERCENT} % of purchased"  # the band of balances (SPEC §5), from one place
DAILY_UP_TO_DAYS = 93  # longer ranges show usage per month


@dataclass(frozen=True)
class Range:
    key: str  # 1m, 3m, 6m, 12m, all, custom
    label: str
    start: date


def render_report(data: AccountData, ranges: list[Range], default: str) -> str:
    body = [
        _header(data, ranges, default),
        sections.alerts(data),
        *(_currency(data, panel, ranges) for panel in data.currencies),
    ]
    if not data.currencies:
        body.append(
            '<section class="card"><p class="empty">No credit balance on this day: the '
            "account has usage but no grant yet (every charge is overdraft).</p></section>"
        )
    body += [
        _usage_over_time(data, ranges),
        f'<div class="grid2">{sections.products(data)}{sections.users(data)}</div>',
        sections.grants(data),
        sections.events(data),
        statements(data),
        sections.restated(data),
        sections.items(data),
    ]
    return page(
        f"{data.account} · credit balance · {data.as_of}",
        "".join(body),
        data.as_of,
        ranges,
        default,
        account=data.account,
    )


def page(
    title: str,
    body: str,
    as_of: date,
    ranges: list[Range] | None = None,
    default: str = "",
    account: str | None = None,
) -> str:
    attrs = f' data-account="{e(account)}"' if account is not None else ""
    if ranges:
        attrs += f' data-range="{e(default)}" data-as-of="{as_of}"'
    script = f"<script>{SCRIPT}</script>" if ranges else ""
    return (
        '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{e(title)}</title><style>{CSS}{range_css([r.key for r in ranges or []])}"
        f'</style></head><body><main class="page"{attrs}>{body}'
        f"<footer>flexbatch · as of {e(as_of)} (UTC days) · figures from the published "
        f"tables, exact values in each tile's tooltip</footer></main>{script}</body></html>"
    )


def _header(data: AccountData, ranges: list[Range], default: str) -> str:
    buttons = "".join(
        f'<button type="button" data-range-key="{e(r.key)}" data-from="{r.start}"'
        f"{' aria-pressed=true' if r.key == default else ''}>{e(r.label)}</button>"
        for r in ranges
    )
    active = sum(1 for p in data.products if p["events"] > 0 or p["credits"] > 0)
    credits = sum((p["credits"] for p in data.products), Decimal(0))
    users = len(data.users)
    users_text = f"{users:,} users" if data.has_user_data else "users not recorded"
    return (
        '<header class="top"><div class="title"><p class="eyebrow">Credit balance report</p>'
        f'<h1 data-account="{e(data.account)}">{e(data.account)}</h1>'
        f'<p class="summary" data-products-90d="{active}" data-users-90d="{users}">'
        f"Last {USAGE_WINDOW_DAYS} days: <b>{active} products</b>, <b>{e(users_text)}</b>, "
        f"<b>{e(money(credits))}</b> credits charged</p></div>"
        f'<div class="controls"><dl class="meta"><div><dt>As of</dt><dd>{e(data.as_of)}</dd>'
        "</div></dl>"
        f'<div class="switch" role="group" aria-label="Time range">{buttons}</div>'
        '<div class="actions"><button type="button" id="csv">Download CSV (UTC)</button>'
        '<button type="button" id="print">Print</button></div></div></header>'
    )


def _tile(
    label: str, value: Decimal | None, metric: str, currency: str, sub: str, extra: str = ""
) -> str:
    exact = "" if value is None else str(value)
    return (
        f'<div class="tile{extra}" data-metric="{metric}" data-currency="{e(currency)}" '
        f'data-value="{e(exact)}" title="{e(exact)}"><div class="label">{e(label)}</div>'
        f'<div class="value">{e(money(value))}</div><div class="sub">{e(sub)}</div></div>'
    )


def _currency(data: AccountData, panel: CurrencyPanel, ranges: list[Range]) -> str:
    b, currency = panel.balance, panel.currency
    available, overdraft = b["available"], b["overdraft_total"]
    band = b["band"]
    state = currency_state(panel, data.as_of)
    uncovered_rate = panel.usage_rate - panel.covered_rate
    rate_sub = (
        f"{money(panel.covered_rate)} covered, {money(uncovered_rate)} uncovered (overdraft)"
        if uncovered_rate > 0
        else f"mean of the last {BURN_WINDOW_DAYS} days"
    )
    tiles = [
        _tile(
            "Available",
            available,
            "available",
            currency,
            f"{b['available_pct']} % of purchased",
            " bad" if available <= 0 else "",
        ),
        _tile(
            "Overdraft",
            overdraft,
            "overdraft",
            currency,
            "usage not covered, billed as overage" if overdraft > 0 else "none",
            " alert" if overdraft > 0 else "",
        ),
        _tile("Used", b["used_total"], "used", currency, "paid with credits"),
        _tile("Purchased", b["purchased_total"], "purchased", currency, "granted ± transfers"),
        _tile(
            f"Expiring in {EXPIRING_WINDOW_DAYS} days",
            b["expiring_90d"],
            "expiring_90d",
            currency,
            "still held",
        ),
        _tile("Expired", b["expired_total"], "expired", currency, "forfeited unused"),
        *(
            [_tile("Voided", b["voided_total"], "voided", currency, "granted, then voided")]
            if b.get("voided_total")
            else []
        ),
        _entitlement_tile(b, currency),
        _tile(
            "Usage / day",
            panel.usage_rate,
            "usage_rate",
            currency,
            rate_sub,
            " alert" if uncovered_rate > 0 else "",
        ),
        f'<div class="tile status {e(state.kind)}" data-metric="state" data-currency='
        f'"{e(currency)}" data-state="{e(state.kind)}" data-value="'
        f'{e(day_text(panel.depletion_date if state.kind == "depletes" else None))}">'
        f'<div class="label">Status</div><div class="value small">{e(state.text)}</div>'
        f'<div class="sub">{e(state.detail)}</div></div>',
    ]
    color = charts.GREEN if band == "green" else charts.RED
    donut = charts.donut(
        [
            charts.Segment(f"available {money(available)}", float(available), color),
            charts.Segment(f"used {money(b['used_total'])}", float(b["used_total"]), charts.BLUE),
            charts.Segment(
                f"expired {money(b['expired_total'])}", float(b["expired_total"]), charts.SLATE
            ),
        ],
        center_title=f"−{money(overdraft)}" if overdraft > 0 else f"{b['available_pct']} %",
        center_subtitle="overdraft" if overdraft > 0 else "available",
        threshold_fraction=float(BAND_SHARE),
        overdraft=float(overdraft),
        title=f"{currency}: available, used and expired of purchased",
    )
    legend = [
        (color, f"Available {money(available)} ({b['available_pct']} %)"),
        (charts.BLUE, f"Used {money(b['used_total'])}"),
        (charts.SLATE, f"Expired {money(b['expired_total'])}"),
    ]
    if overdraft > 0:
        legend.append((charts.RED, f"Overdraft {money(overdraft)} (outer ring)"))
    items = "".join(f'<li><i style="background:{c}"></i>{e(t)}</li>' for c, t in legend)
    band_text = f"above {BAND}" if band == "green" else f"at or below {BAND}"
    burndowns = "".join(
        f'<div class="r r-{e(r.key)}">{_burndown(data, panel, r.start)}</div>' for r in ranges
    )
    return (
        f'<section class="card currency" data-currency="{e(currency)}">'
        f'<div class="card-head"><h2>{e(currency)}</h2>'
        f'<span class="band {e(band)}" data-band="{e(band)}">{e(band_text)}</span></div>'
        f'<div class="balance-row"><div class="tiles">{"".join(tiles)}</div>'
        f'<figure class="donut-box">{donut}<ul class="legend">{items}'
        f'<li><i class="tick"></i>{BAND}</li></ul></figure></div>'
        f"<h3>Burndown</h3>{burndowns}</section>"
    )


def _burndown(data: AccountData, panel: CurrencyPanel, start: date) -> str:
    history = [h for h in panel.history if h["date"] >= start]
    if not history:
        return '<p class="empty">No balance history in this range.</p>'
    x_start = history[0]["date"]
    window_days = (data.as_of - x_start).days
    horizon = min(FORECAST_HORIZON_DAYS, max(14, window_days // 2))
    depletes = panel.depletion_date if panel.balance["available"] > 0 else None
    if depletes is not None and (depletes - data.as_of).days <= FORECAST_HORIZON_DAYS:
        horizon = max(horizon, (depletes - data.as_of).days + 3)
    x_end = data.as_of + timedelta(days=horizon)
    series = [
        charts.Series(
            "Available", [(h["date"], float(h["available"])) for h in history], charts.BLUE
        )
    ]
    if any(h["overdraft_total"] > 0 for h in history):
        series.append(
            charts.Series(
                "Overdraft (uncovered usage, below 0)",
                [(h["date"], -float(h["overdraft_total"])) for h in history],
                charts.RED,
            )
        )
    if depletes is not None or panel.balance["available"] > 0:
        forecast = [(data.as_of, float(history[-1]["available"]))]
        for day, value in panel.forecast:
            if day > x_end or forecast[-1][1] <= 0:
                break
            forecast.append((day, max(0.0, float(value))))
        series.append(charts.Series("Forecast", forecast, charts.AMBER, dashed=True))
    threshold = [(h["date"], float(h["purchased_total"] * BAND_SHARE)) for h in history]
    threshold.append((x_end, threshold[-1][1]))
    markers = [(data.as_of, f"as of {data.as_of:%d %b}", charts.MUTED)]
    if depletes is not None:
        markers.append((depletes, f"runs out {depletes:%d %b %Y}", charts.RED))
    markers += _event_markers(data, panel.currency, x_start)
    chart = charts.line_chart(
        series,
        x_start=x_start,
        x_end=x_end,
        threshold=threshold,
        threshold_label=BAND,
        markers=markers,
        title=f"{panel.currency} burndown",
    )
    return f'<figure class="chart-box">{chart}</figure>'


MARKER_COLORS = {
    "grant": charts.GREEN,
    "transfer_in": "#7c3aed",
    "transfer_out": "#7c3aed",
    "expire": "#475569",
    "void": charts.RED,
    "rollover_in": "#0891b2",
    "topup": charts.GREEN,
}


def _event_markers(data: AccountData, currency: str, start: date) -> list[tuple[date, str, str]]:
    """One marker per day and kind of grant, top-up, transfer, expiry, void and rollover:
    why the line jumps (a rollover moves credits within the account: its rollover_in
    marks it, the matching rollover_out would only repeat it)."""
    totals: dict[tuple[date, str], Decimal] = defaultdict(Decimal)
    others: dict[tuple[date, str], str] = {}
    for event in data.events:
        if event["entry_type"] == "rollover_out":
            continue
        if event["currency"] == currency and event["date"] >= start:
            key = (event["date"], event["entry_type"])
            totals[key] += event["amount"]
            if event["counterparty"]:
                others[key] = event["counterparty"]
    markers = []
    for (day, kind), amount in sorted(totals.items()):
        label = f"{EVENT_LABELS[kind].lower()} {signed(amount)}"
        if (day, kind) in others:
            label += f" {'from' if kind == 'transfer_in' else 'to'} {others[(day, kind)]}"
        markers.append((day, label, MARKER_COLORS[kind]))
    return markers


def _usage_over_time(data: AccountData, ranges: list[Range]) -> str:
    blocks = []
    for r in ranges:
        monthly = (data.as_of - r.start).days > DAILY_UP_TO_DAYS
        source = data.monthly_usage if monthly else data.daily_usage
        start = max(r.start, data.first_day)
        bucket_start = start.replace(day=1) if monthly else start
        in_range = [u for u in source if u["date"] >= bucket_start]
        # totals from the daily rows of the range itself, to match the itemised table
        totals: dict[str, Decimal] = defaultdict(Decimal)
        for u in data.daily_usage:
            if u["date"] >= start:
                totals[u["product_code"]] += u["credits"]
        keys = sorted(totals, key=lambda k: (-totals[k], k))
        by_day: dict[date, dict[str, float]] = defaultdict(dict)
        for u in in_range:
            by_day[u["date"]][u["product_code"]] = float(u["credits"])
        chart = bars.stacked_bars(
            [bars.Stack(day, values) for day, values in sorted(by_day.items())],
            keys=keys,
            labels={k: data.name(k) for k in keys},
            x_start=bucket_start,
            x_end=data.as_of,
            monthly=monthly,
            title="credits charged per " + ("month" if monthly else "day") + " by product",
        )
        total = sum(totals.values(), Decimal(0))
        rows = "".join(
            f'<tr data-product="{e(k)}"><td>{e(data.name(k))}</td><td><code>{e(k)}</code></td>'
            f'<td class="num" title="{e(totals[k])}">{e(money(totals[k]))}</td></tr>'
            for k in keys
        )
        blocks.append(
            f'<div class="r r-{e(r.key)}"><p class="hint" data-metric="period_credits" '
            f'data-range="{e(r.key)}" data-value="{e(total)}">{e(money(total))} credits '
            f"charged from {start} to {data.as_of}, per {'month' if monthly else 'day'}</p>"
            f'<figure class="chart-box">{chart}</figure><div class="scroll"><table '
            'class="data"><thead><tr><th>Product</th><th>Code</th><th class=num>Credits</th>'
            f"</tr></thead><tbody>{rows}</tbody></table></div></div>"
        )
    return f'<section class="card"><h2>Usage over time by product</h2>{"".join(blocks)}</section>'


def _entitlement_tile(balance: dict, currency: str) -> str:
    """SPEC §10: products billed in a currency may be used only while it holds >= 1."""
    entitled = balance.get("entitled")
    if entitled is None:  # an OUT written before SPEC §10
        entitled = balance["available"] >= 1
    text, detail = (
        ("entitled", "holds at least 1 credit")
        if entitled
        else ("not entitled", f"below 1 {currency}: products billed in it are unavailable")
    )
    return (
        f'<div class="tile{"" if entitled else " alert"}" data-metric="entitled" '
        f'data-currency="{e(currency)}" data-value="{str(bool(entitled)).lower()}">'
        f'<div class="label">Entitlement</div><div class="value small">{e(text)}</div>'
        f'<div class="sub">{e(detail)}</div></div>'
    )
