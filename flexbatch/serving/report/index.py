"""``index.html`` of ``report --all``: every account and currency on one table, with the
overdraft beside the balance and the state in words; then finance's monthly revenue per
cost currency (SPEC §9: recognised, breakage, deferred at month end)."""

from __future__ import annotations

from datetime import date

from flexbatch.serving.report.data import AccountData
from flexbatch.serving.report.fmt import e, money
from flexbatch.serving.report.page import page
from flexbatch.serving.report.status import alert_state, currency_state


def revenue_section(months: list[dict]) -> str:
    """The ``revenue_monthly`` rows (money in the cost currency, exact values in titles)."""
    if not months:
        return (
            '<section class="card"><h2>Revenue by month</h2>'
            '<p class="empty">No prepaid credits with a cost yet.</p></section>'
        )

    def cell(row: dict, column: str) -> str:
        value = row[column]
        return (
            f'<td class="num" data-metric="{column}" data-value="{e(value)}" '
            f'title="{e(value)}">{e(money(value))}</td>'
        )

    body = "".join(
        f'<tr data-month="{e(r["month"])}" data-cost-currency="{e(r["cost_currency"])}">'
        f"<td>{e(r['month'].strftime('%Y-%m'))}</td><td>{e(r['cost_currency'])}</td>"
        + "".join(
            cell(r, c) for c in ("purchased", "recognised", "breakage", "deferred_at_month_end")
        )
        + f"<td>{e(r['month_end'])}</td></tr>"
        for r in months
    )
    return (
        '<section class="card revenue"><h2>Revenue by month</h2><p>Prepaid '
        "credits are deferred revenue until used (recognised) or expired unused (breakage), "
        "in each grant's cost currency, over every account.</p>"
        '<div class="scroll"><table class="data"><thead><tr><th>Month</th>'
        "<th>Cost currency</th><th class=num>Purchased</th><th class=num>Recognised</th>"
        "<th class=num>Breakage</th><th class=num>Deferred at month end</th>"
        f"<th>Month end</th></tr></thead><tbody>{body}</tbody></table></div></section>"
    )


def render_index(
    reports: list[tuple[AccountData, str]], as_of: date, revenue: list[dict] | None = None
) -> str:
    rows = []
    for data, file_name in reports:
        link = f'<a href="{e(file_name)}">{e(data.account)}</a>'
        active = sum(1 for a in data.alerts if alert_state(a, data).active)
        alerts = f'<td class="num">{active}</td>'
        if not data.currencies:
            rows.append(
                f'<tr><td>{link}</td><td colspan="7" class="empty">no credits</td>{alerts}</tr>'
            )
        for panel in data.currencies:
            b = panel.balance
            state = currency_state(panel, data.as_of)
            overdraft = b["overdraft_total"]
            rows.append(
                f'<tr data-account="{e(data.account)}" data-currency="{e(panel.currency)}">'
                f"<td>{link}</td><td>{e(panel.currency)}</td>"
                f'<td class="num" data-value="{e(b["available"])}">{e(money(b["available"]))}</td>'
                f'<td class="num{" neg" if overdraft > 0 else ""}" data-metric="overdraft" '
                f'data-value="{e(overdraft)}">{e(money(overdraft))}</td>'
                f'<td class="num">{e(money(b["used_total"]))}</td>'
                f'<td class="num">{e(money(b["purchased_total"]))}</td>'
                f'<td><span class="band {e(b["band"])}">{e(b["band"])}</span></td>'
                f'<td data-state="{e(state.kind)}">{e(state.text)}</td>{alerts}</tr>'
            )
    body = (
        '<header class="top"><div class="title"><p class="eyebrow">Credit balance reports</p>'
        f"<h1>All accounts</h1></div><dl class=meta><div><dt>As of</dt><dd>{e(as_of)}</dd>"
        '</div></dl></header><section class="card"><div class="scroll"><table class="data">'
        "<thead><tr><th>Account</th><th>Currency</th><th class=num>Available</th>"
        "<th class=num>Overdraft</th><th class=num>Used</th><th class=num>Purchased</th>"
        "<th>Band</th><th>Status</th><th class=num>Active alerts</th></tr></thead>"
        f"<tbody>{''.join(rows)}</tbody></table></div></section>"
        + (revenue_section(revenue) if revenue is not None else "")
    )
    return page(f"Credit balance reports · {as_of}", body, as_of)
