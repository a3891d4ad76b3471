"""Text and JSON for ``explain``: decimals exact (as strings in JSON), times in UTC with a
``Z``, one line per subject, event or ledger entry."""

from __future__ import annotations

import json
from datetime import date, datetime
from decimal import Decimal
from typing import Any


def _value(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat() + "Z"
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


def to_json(explanation: dict) -> str:
    return json.dumps(explanation, default=_value, indent=2)


def _text(value: Any) -> str:
    if value is None:
        return "-"
    return str(_value(value)) if isinstance(value, (date, Decimal)) else str(value)


def _table(
    rows: list[dict[str, Any]], columns: tuple[str, ...], labels: tuple[str, ...] = ()
) -> list[str]:
    labels = labels or columns
    cells = [[_text(r[c]) for c in columns] for r in rows]
    widths = [max([len(h), *(len(row[i]) for row in cells)]) for i, h in enumerate(labels)]
    lines = ["  " + "  ".join(c.ljust(w) for c, w in zip(labels, widths, strict=True))]
    lines += [
        "  " + "  ".join(v.ljust(w) for v, w in zip(row, widths, strict=True)) for row in cells
    ]
    return [line.rstrip() for line in lines]


def _positions(positions: dict[str, Any]) -> list[str]:
    periods = positions["periods"]
    open_ = "[" if positions["bounds"].startswith("[") else "("

    def span(p: dict[str, Any]) -> str:
        return f"{open_}{_text(p['position_from'])}, {_text(p['position_to'])}]"

    if len(periods) == 1:
        return [
            f"positions  {span(periods[0])} of the period from {_text(periods[0]['period_start'])}"
        ]
    lines = [f"positions  in {len(periods)} periods:"]
    lines += [f"  {_text(p['period_start'])}  {span(p)}" for p in periods]
    return lines


def explain_text(explanation: dict) -> str:
    c = explanation["charge"]
    lines = [
        f"charge     {c['transaction_id']}  {_text(c['date'])}  account {c['account_id']}  "
        f"scope {c['scope_id']}",
        f"plan       {c['plan_id']} (version {_text(c['plan_version'])}), {c['algorithm']}, "
        f"{c['billing_period']} period from {_text(c['period_start'])}, thresholds per "
        f"{c['threshold_scope']}",
        f"tier       {c['tier']} (above {c['tier_above']}) at {c['unit_price']}: "
        f"{c['units']} units = {c['credits']} credits",
        *_positions(explanation["positions"]),
    ]
    subjects = explanation["subjects"]
    if subjects is not None:
        lines.append(f"subjects   {len(subjects)}, each with the first event that counted it:")
        lines += _table(
            subjects, ("position", "subject_id", "scope_id", "event_id", "ts", "source_file")
        )
    events = explanation["events"]
    if events is not None:
        listed = events["listed"]
        shown = f" (the first {len(listed)} listed)" if len(listed) < events["count"] else ""
        if c["algorithm"] == "fixed":
            lines.append(f"events     the first event of each period charged: {events['count']}")
            lines += _table(listed, ("period_start", "scope_id", "event_id", "ts", "source_file"))
        else:
            total = events.get("total", events.get("new_maximum"))
            what = "total" if "total" in events else "maximum raised by"
            lines.append(f"events     {events['count']}, {what} {total} in this row{shown}")
            lines += _table(
                listed,
                ("event_id", "ts", "scope_id", "quantity", "position_from", "position_to",
                 "units", "source_file"),
            )  # fmt: skip
    entries = len(explanation["ledger"])
    lines.append(f"ledger     {entries} {'entry' if entries == 1 else 'entries'}")
    if explanation["ledger"]:
        lines += _table(
            explanation["ledger"],
            ("entry_type", "grant_id", "currency", "amount", "grant_remaining"),
        )
    lifecycle = explanation.get("lifecycle") or []
    if lifecycle:
        lines.append(f"lifecycle  {len(lifecycle)} void and rollover entries of those grants:")
        lines += _table(
            lifecycle, ("date", "entry_type", "grant_id", "amount", "ref", "grant_remaining")
        )
    return "\n".join(lines)


SUMMARY_LABELS = {
    "account_id": "account",
    "currency": "currency",
    "charged_actual": "charged actual",
    "charged_simulated": "simulated",
    "charged_delta": "difference",
    "available_actual": "available actual",
    "available_simulated": "simulated",
    "depletion_actual": "depletion actual",
    "depletion_simulated": "simulated",
    "topups_actual": "top-ups actual",
    "topups_simulated": "simulated",
}


def simulate_text(simulation: Any, draft: str) -> str:
    """The per account and currency comparison of a ``Simulation``."""
    s = simulation
    rows = s.summary.to_dicts()
    lines = [
        f"simulate {s.date_from}..{s.date_to} under {draft}: recomputed {s.recomputed_from}.."
        f"{s.date_to} ({s.days} days) in a scratch folder; OUT unchanged",
        f"charged = consumed + overdraft of {s.date_from}..{s.date_to}; available and "
        f"depletion date on {s.date_to} (after every re-priced day from {s.recomputed_from})",
    ]
    if rows:
        lines += _table(rows, tuple(SUMMARY_LABELS), tuple(SUMMARY_LABELS.values()))
    else:
        lines.append("  no charges or balances in the window")
    changed = s.diff.filter(s.diff["delta"] != 0).height
    lines.append(f"{changed} of {s.diff.height} account/scope/product/plan/month rows changed")
    return "\n".join(lines)
