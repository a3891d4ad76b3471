"""Calendar months as the books name them: ``YYYY-MM`` in folders, their first day in
columns."""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import date, timedelta

from flexbatch.errors import ConfigError

ISO_MONTH = re.compile(r"\d{4}-\d{2}")


def parse_month(value: str | date, option: str = "--month") -> date:
    """The first day of ``value`` (``YYYY-MM``, or a date); exit 2 otherwise."""
    if isinstance(value, date):
        return value.replace(day=1)
    try:
        if not ISO_MONTH.fullmatch(value):
            raise ValueError(value)
        return date.fromisoformat(f"{value}-01")
    except ValueError as exc:
        raise ConfigError(f"{option} {value!r} is not a month; fix: use YYYY-MM") from exc


def month_of(day: date) -> date:
    return day.replace(day=1)


def label(month: date) -> str:
    return f"{month:%Y-%m}"


def next_month(month: date) -> date:
    return (month.replace(day=28) + timedelta(days=4)).replace(day=1)


def last_day(month: date) -> date:
    return next_month(month) - timedelta(days=1)


def days_of(month: date) -> list[date]:
    return [month + timedelta(days=i) for i in range((last_day(month) - month).days + 1)]


def months_of(days: Iterable[date]) -> list[date]:
    return sorted({month_of(d) for d in days})
