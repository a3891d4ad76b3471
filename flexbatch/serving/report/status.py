"""The state of a currency and of an alert on the as-of day, in words: in overdraft,
expired (not "depleted"), used up, projected to run out; an alert still active or over."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from flexbatch.ledger.rules import DEPLETION_HORIZON_DAYS
from flexbatch.serving.report.data import AccountData, CurrencyPanel
from flexbatch.serving.report.fmt import money


@dataclass(frozen=True)
class CurrencyState:
    kind: str  # overdraft | expired | used_up | depletes | lasts
    text: str
    detail: str


def currency_state(panel: CurrencyPanel, as_of: date) -> CurrencyState:
    b = panel.balance
    if b["available"] <= 0 and b["overdraft_total"] > 0:
        since = panel.overdraft_since or panel.empty_since
        return CurrencyState(
            "overdraft",
            f"in overdraft since {since}" if since else "in overdraft",
            f"{money(b['overdraft_total'])} of usage not covered, billed as overage",
        )
    if b["available"] <= 0:
        if panel.emptied_by_expiry > 0:
            return CurrencyState(
                "expired",
                f"expired on {panel.empty_since}",
                f"{money(panel.emptied_by_expiry)} expired unused; nothing left to use",
            )
        return CurrencyState("used_up", f"used up on {panel.empty_since}", "no credits left")
    if panel.depletion_date is not None:
        days = (panel.depletion_date - as_of).days
        return CurrencyState(
            "depletes",
            f"runs out {panel.depletion_date}",
            f"in {days} days at the current usage",
        )
    return CurrencyState(
        "lasts", f"lasts past {DEPLETION_HORIZON_DAYS} days", "at the current usage"
    )


@dataclass(frozen=True)
class AlertState:
    active: bool
    note: str


def alert_state(alert: dict, data: AccountData) -> AlertState:
    """Whether the condition an alert was raised for still holds on the as-of day (alerts
    are raised the day a condition starts, not every day it lasts)."""
    kind, ref = alert["kind"], alert["ref"]
    panels = {p.currency: p for p in data.currencies}
    panel = panels.get(ref)
    if kind == "low_balance" and panel is not None:
        red = panel.balance["band"] == "red"
        return AlertState(red, "still at or below the band" if red else "back above the band")
    if kind == "overdraft" and panel is not None:
        b = panel.balance
        active = b["available"] <= 0 and b["overdraft_total"] > 0
        return AlertState(active, "still uncovered" if active else "credits again")
    if kind == "depletion_forecast" and panel is not None:
        if panel.balance["available"] <= 0:
            return AlertState(False, "ran out")
        if panel.depletion_date is None:
            return AlertState(False, f"no longer projected within {DEPLETION_HORIZON_DAYS} days")
        return AlertState(True, f"now projected for {panel.depletion_date}")
    if kind == "expiring_soon":
        held = [g for g in data.grants if g["grant_id"] == ref]
        if held:
            return AlertState(True, f"{money(held[0]['remaining'])} left")
        return AlertState(False, "expired or used up")
    if kind == "user_limit_exceeded":
        same_month = (alert["date"].year, alert["date"].month) == (
            data.as_of.year,
            data.as_of.month,
        )
        return AlertState(same_month, "this period" if same_month else "period ended")
    if kind == "transfer_rejected":
        return AlertState(False, "one-off: nothing was moved")
    return AlertState(alert["date"] == data.as_of, "")
