"""The account page's monthly statements (SPEC §8): each month per currency, open or
closed, with the corrections booked on it (what late data changed in a closed month)."""

from __future__ import annotations

from flexbatch.serving.report.data import AccountData
from flexbatch.serving.report.fmt import e, money, signed

REASONS = {
    "inputs_changed": "late or changed usage",
    "config_changed": "changed rate plans, grants or transfers",
    "cascade": "an earlier day was restated",
}
COLUMNS = (
    "Month", "Currency", "Status", "Opening", "Granted", "Transfers", "Consumed", "Expired",
    "Voided", "Closing", "Overdraft", "Corrections",
)  # fmt: skip


def _status(row: dict) -> str:
    if row["status"] == "closed":
        closed_on = f"{row['closed_at']:%Y-%m-%d}"
        return f'<span class="state closed">closed</span> {e(closed_on)}'
    return '<span class="state open">open</span>'


def _correction(c: dict) -> str:
    parts = [
        f"{label} {signed(c[f'{name}_delta'])}"
        for name, label in (
            ("granted", "granted"),
            ("transferred_in", "in"),
            ("transferred_out", "out"),
            ("consumed", "consumed"),
            ("expired", "expired"),
            ("voided", "voided"),
            ("overdraft", "overdraft"),
        )
        if c[f"{name}_delta"]
    ]
    return (
        f'<tr class="correction"><td></td><td colspan="{len(COLUMNS) - 2}">correction of '
        f"{c['closed_month']:%Y-%m} ({e(REASONS.get(c['reason'], c['reason']))}): "
        f"{e(', '.join(parts))}</td>"
        f'<td class="n">{signed(c["available_delta"])}</td></tr>'
    )


def statements(data: AccountData) -> str:
    """One row per month and currency, each with its correction lines beneath it."""
    if not data.statements:
        return ""
    body = []
    for row in data.statements:
        transfers = row["transferred_in"] - row["transferred_out"]
        booked = [
            c
            for c in data.corrections
            if c["booked_month"] == row["month"] and c["currency"] == row["currency"]
        ]
        body.append(
            f'<tr class="{e(row["status"])}" data-date="{row["month"]:%Y-%m-%d}">'
            f'<td class="d">{row["month"]:%Y-%m}</td><td>{e(row["currency"])}</td>'
            f"<td>{_status(row)}</td>"
            + "".join(
                f'<td class="n">{value}</td>'
                for value in (
                    money(row["opening"]),
                    money(row["granted"]),
                    signed(transfers),
                    money(row["consumed"]),
                    money(row["expired"]),
                    money(row["voided"]),
                    money(row["closing"]),
                    money(row["overdraft"]),
                    signed(row["corrections_available"]) if booked else "–",
                )
            )
            + "</tr>"
            + "".join(_correction(c) for c in booked)
        )
    head = "".join(f"<th>{c}</th>" for c in COLUMNS)
    return (
        '<section class="card statements" id="statements"><h2>Monthly statements</h2>'
        '<p class="hint">Per month and currency: opening + granted + transfers − consumed − '
        "expired − voided = closing. A closed statement is issued and never changes; what "
        "later data changes in it is booked as a correction on the next open month.</p>"
        f'<div class="scroll"><table class="data"><thead><tr>{head}</tr></thead>'
        f"<tbody>{''.join(body)}</tbody></table></div></section>"
    )
