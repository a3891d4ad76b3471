"""How values read on the page: escaped text, credits to 2 places, alerts in words."""

from __future__ import annotations

import re
from datetime import date
from decimal import ROUND_HALF_EVEN, Decimal
from html import escape

ALERT_TITLES = {
    "low_balance": "Low balance",
    "expiring_soon": "Credits expiring soon",
    "depletion_forecast": "Projected to run out",
    "overdraft": "Overdraft: usage not covered by credits",
    "user_limit_exceeded": "User limit exceeded",
    "transfer_rejected": "Transfer rejected",
    "entitlement_lost": "Entitlement lost: balance below 1",
    "balance_recovered": "Balance recovered",
}
EVENT_LABELS = {
    "grant": "Grant",
    "transfer_in": "Transfer in",
    "transfer_out": "Transfer out",
    "expire": "Expired unused",
    "void": "Voided",
    "rollover_out": "Rolled over (out)",
    "rollover_in": "Rolled over",
    "topup": "Top-up",
}
_DECIMAL = re.compile(r"(?<![\w.])-?\d+\.\d{6}(?![\d])")


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


def count(value: Decimal | int) -> str:
    """A whole number without decimals (6.000000 -> 6), else credits to 2 places."""
    value = Decimal(value)
    return f"{value:,.0f}" if value == value.to_integral_value() else money(value)


def day_text(day: date | None) -> str:
    return "–" if day is None else day.isoformat()


def readable(message: str | None) -> str:
    """An alert message with its 6-place decimals shown like the rest of the page."""
    return _DECIMAL.sub(lambda m: count(Decimal(m[0])), message or "")


def alert_title(kind: str) -> str:
    return ALERT_TITLES.get(kind, kind.replace("_", " ").capitalize())
