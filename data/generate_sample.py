"""Regenerate the sample input that ``flexbatch demo`` runs on.

Run as ``python data/generate_sample.py [--out data]``. The script is deterministic: every
random draw comes from ``random.Random`` seeded with a fixed seed and the day, nothing reads
the clock, so the same version of the script and of pyarrow writes the same bytes. It
deletes and rewrites ``OUT/usage`` and overwrites ``OUT/rate_plans.toml``,
``OUT/grants.csv``, ``OUT/transfers.csv`` (SPEC §3) and ``OUT/topups.csv`` (SPEC §10).

What the sample exercises:

* two months of usage, 2026-09-01 .. 2026-10-31, for four accounts (``acme``, ``globex``,
  ``initech``, ``umbrella``) with two or three scopes each, fewer events at weekends;
* two or three Parquet files per day whose column order differs, one of them with an extra
  ``client_version`` column (ignored by the job); 2026-10-04 (a Sunday) has no usage at all
  and holds a single zero-row file, since git cannot keep an empty folder;
* every algorithm (``fixed`` with and without ``service``, ``unique_users``,
  ``unique_resources``, ``daily_unique_users``, ``daily_unique_resources``, ``sum``,
  ``peak``), every billing period (``hour``, ``day``, ``month``), ``threshold_scope``
  ``account`` and ``scope``, a ``user_limit`` that one account exceeds, an on-premises plan,
  and a price change on 2026-10-15, in the middle of a monthly period;
* quarantined rows (empty account, negative / NaN quantity, a timestamp outside its
  partition day, missing resource or user ids), duplicated event ids delivered again in
  another file with a later timestamp, and one event of an unpriced (product, meter) pair;
  see ``ANOMALIES`` for the days and counts;
* grants of several currencies: a legacy ``cloud_credit`` grant that expires on 2026-10-01,
  a product-restricted deposit, a promotional grant (unit cost 0), a replenishment, an
  account (``umbrella``) whose credits run out so it goes into overdraft, an ordinary
  transfer and one larger than the sender's balance (rejected);
* the life of a grant (SPEC §10), all at ``globex``: a promotional grant voided on
  2026-09-10 after it paid for nine days, a bonus that rolls over (up to 100 of its
  credits) when it expires on 2026-10-01, and an auto-recharge rule that tops the account
  up when it falls below 100 flex tokens, without which it would go into overdraft late
  in October.
"""

from __future__ import annotations

import argparse
import csv
import dataclasses
import math
import random
import shutil
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

SEED = 20260901
FIRST_DAY = date(2026, 9, 1)
LAST_DAY = date(2026, 10, 31)
EMPTY_DAY = date(2026, 10, 4)  # a Sunday without any usage: one zero-row file
COMPRESSION = "zstd"

USAGE_SCHEMA = pa.schema(
    [
        ("event_id", pa.string()),
        ("ts", pa.timestamp("us")),
        ("account_id", pa.string()),
        ("scope_id", pa.string()),
        ("product_code", pa.string()),
        ("meter", pa.string()),
        ("user_id", pa.string()),
        ("resource_id", pa.string()),
        ("quantity", pa.float64()),
    ]
)
EXTRA_COLUMN = "client_version"
# Column order of part-00000, part-00001 (plus the extra column) and part-00002.
FILE_COLUMN_ORDERS: tuple[tuple[str, ...], ...] = (
    tuple(USAGE_SCHEMA.names),
    (
        "ts",
        "account_id",
        "scope_id",
        "event_id",
        "product_code",
        "meter",
        "quantity",
        "resource_id",
        "user_id",
        EXTRA_COLUMN,
    ),
    (
        "account_id",
        "event_id",
        "product_code",
        "meter",
        "scope_id",
        "user_id",
        "resource_id",
        "ts",
        "quantity",
    ),
)

# Relative activity by hour of the UTC day (office hours are busier).
HOUR_WEIGHTS = (1, 1, 1, 1, 1, 2, 3, 5, 8, 9, 9, 9, 8, 9, 9, 8, 7, 5, 3, 2, 2, 1, 1, 1)
TAG_KINDS = ("FIC", "TIC", "PIC", "LIC", "AIC")


# --------------------------------------------------------------------------- rate plans


@dataclass(frozen=True)
class Plan:
    """One ``[[plan]]`` block of rate_plans.toml (one version of a plan id)."""

    comment: str
    id: str
    product_code: str
    product_name: str
    hosting: str
    chargeable: str
    meter: str
    algorithm: str
    billing_period: str
    effective_from: date
    tiers: tuple[tuple[int, str], ...]  # (above, price as an exact decimal literal)
    service: str | None = None
    threshold_scope: str | None = None  # None: key left out, i.e. the default "account"
    effective_to: date | None = None
    user_limit: int | None = None


PLANS: tuple[Plan, ...] = (
    Plan(
        comment="Data Hub rule: distinct streams per day, summed over the month; "
        "price change on 2026-10-15 (mid-period)",
        id="ADH-STREAMS-ACCESSED",
        product_code="ADH",
        product_name="AVEVA Data Hub",
        hosting="cloud",
        service="data-hub",
        chargeable="resource",
        meter="streams_accessed",
        algorithm="daily_unique_resources",
        billing_period="month",
        threshold_scope="account",
        effective_from=date(2026, 9, 1),
        effective_to=date(2026, 10, 15),
        tiers=((0, "0"), (400, "0.02")),
    ),
    Plan(
        comment="second version: same included capacity, higher price",
        id="ADH-STREAMS-ACCESSED",
        product_code="ADH",
        product_name="AVEVA Data Hub",
        hosting="cloud",
        service="data-hub",
        chargeable="resource",
        meter="streams_accessed",
        algorithm="daily_unique_resources",
        billing_period="month",
        threshold_scope="account",
        effective_from=date(2026, 10, 15),
        tiers=((0, "0"), (400, "0.025")),
    ),
    Plan(
        comment="distinct streams stored in the month, threshold shared by all namespaces",
        id="ADH-STREAMS-STORED",
        product_code="ADH",
        product_name="AVEVA Data Hub",
        hosting="cloud",
        service="data-hub",
        chargeable="resource",
        meter="streams_stored",
        algorithm="unique_resources",
        billing_period="month",
        threshold_scope="account",
        effective_from=date(2026, 9, 1),
        tiers=((0, "0"), (50, "0.4")),
    ),
    Plan(
        comment="GB written per day, graduated tiers that restart every day",
        id="ADH-STORAGE",
        product_code="ADH",
        product_name="AVEVA Data Hub",
        hosting="cloud",
        service="data-hub",
        chargeable="resource",
        meter="storage_gb",
        algorithm="sum",
        billing_period="day",
        threshold_scope="account",
        effective_from=date(2026, 9, 1),
        tiers=((0, "0"), (100, "0.01"), (1000, "0.005")),
    ),
    Plan(
        comment="Autodesk-style design app: tokens per user-day, at most 5 named users",
        id="ACD-DESIGN-APP-DAY",
        product_code="ACD",
        product_name="Design Suite",
        hosting="cloud",
        chargeable="user",
        meter="design_app_day",
        algorithm="daily_unique_users",
        billing_period="month",
        threshold_scope="account",
        effective_from=date(2026, 9, 1),
        user_limit=5,
        tiers=((0, "6.5"),),
    ),
    Plan(
        comment="named users per month, three included in every scope",
        id="PIV-NAMED-USERS",
        product_code="PIV",
        product_name="AVEVA PI Vision",
        hosting="cloud",
        chargeable="user",
        meter="named_users",
        algorithm="unique_users",
        billing_period="month",
        threshold_scope="scope",
        effective_from=date(2026, 9, 1),
        tiers=((0, "0"), (3, "4")),
    ),
    Plan(
        comment="on-premises licence server: monthly peak of concurrent cores",
        id="SIM-CONCURRENT-CORES",
        product_code="SIM",
        product_name="AVEVA Process Simulation",
        hosting="on_premises",
        chargeable="resource",
        meter="concurrent_cores",
        algorithm="peak",
        billing_period="month",
        threshold_scope="account",
        effective_from=date(2026, 9, 1),
        tiers=((0, "0"), (16, "1.5")),
    ),
    Plan(
        comment="API calls summed per hour; 50 calls included in every hour",
        id="API-CALLS-HOURLY",
        product_code="API",
        product_name="AVEVA Connect API",
        hosting="cloud",
        chargeable="resource",
        meter="api_calls",
        algorithm="sum",
        billing_period="hour",
        threshold_scope="account",
        effective_from=date(2026, 9, 1),
        tiers=((0, "0"), (50, "0.01")),
    ),
    Plan(
        comment="flat monthly fee per scope (service set) with any activity",
        id="AIM-SITE-MONTHLY",
        product_code="AIM",
        product_name="AVEVA Insight",
        hosting="cloud",
        service="insight",
        chargeable="product",
        meter="site_active",
        algorithm="fixed",
        billing_period="month",
        threshold_scope="account",
        effective_from=date(2026, 9, 1),
        tiers=((0, "40"),),
    ),
    Plan(
        comment="flat daily fee per account (no service); threshold_scope left to its default",
        id="CNX-PORTAL-DAILY",
        product_code="CNX",
        product_name="AVEVA CONNECT",
        hosting="cloud",
        chargeable="product",
        meter="portal_login",
        algorithm="fixed",
        billing_period="day",
        effective_from=date(2026, 9, 1),
        tiers=((0, "1.25"),),
    ),
)


# Key order of a [[plan]] block, as in SPEC §3.2 (tiers come last).
TOML_KEYS = (
    "id",
    "product_code",
    "product_name",
    "hosting",
    "service",
    "chargeable",
    "meter",
    "algorithm",
    "billing_period",
    "threshold_scope",
    "effective_from",
    "effective_to",
    "user_limit",
)


def _toml_value(value: str | int | date) -> str:
    if isinstance(value, str):
        return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
    if isinstance(value, date):
        return value.isoformat()
    return str(value)


def render_rate_plans(plans: Iterable[Plan]) -> str:
    """The rate_plans.toml text (SPEC §3.2), written by hand so the layout is stable."""
    lines = [
        "# Sample rate plans of the flexbatch demo.",
        "# Generated by data/generate_sample.py: edit the script, not this file.",
    ]
    for plan in plans:
        lines += ["", f"# {plan.comment}", "[[plan]]"]
        for name in TOML_KEYS:
            value = getattr(plan, name)
            if value is not None:
                lines.append(f"{name} = {_toml_value(value)}")
        tiers = ", ".join(f"{{ above = {above}, price = {price} }}" for above, price in plan.tiers)
        lines.append(f"tiers = [ {tiers} ]")
    return "\n".join(lines) + "\n"


# ------------------------------------------------------------------------------ accounts


@dataclass(frozen=True)
class Account:
    """Who uses what: the shape of one account's usage."""

    account_id: str
    scopes: tuple[str, ...]
    adh_sites: dict[str, tuple[str, int]]  # scope -> (site code, streams at the start)
    storage_events: float  # mean storage_gb events per weekday
    acd_users: tuple[str, ...]
    piv_users: dict[str, tuple[str, ...]]  # scope -> named users
    clusters: dict[str, int]  # cluster -> cores
    api_clients: tuple[str, ...]
    api_rate: float  # mean API batches in a busy hour
    aim_scopes: tuple[str, ...]
    portal_users: tuple[str, ...]
    client_version: str


def _users(account_id: str, names: str) -> tuple[str, ...]:
    return tuple(f"{name}@{account_id}.example" for name in names.split())


ACCOUNTS: tuple[Account, ...] = (
    Account(
        account_id="acme",
        scopes=("default", "ns-1", "ns-2"),
        adh_sites={"ns-1": ("HOU", 42), "ns-2": ("ROT", 24)},
        storage_events=16,
        acd_users=_users("acme", "maria ken li omar sara tom yuki"),
        piv_users={},
        clusters={"hpc-01": 64, "hpc-02": 32},
        api_clients=("etl-nightly", "dash-web", "svc-sync"),
        api_rate=3.2,
        aim_scopes=("ns-1", "ns-2"),
        portal_users=_users("acme", "maria ken admin"),
        client_version="3.2.1",
    ),
    Account(
        account_id="globex",
        scopes=("default", "ns-eu", "ns-us"),
        adh_sites={"ns-eu": ("AMS", 26), "ns-us": ("DAL", 18)},
        storage_events=10,
        acd_users=_users("globex", "anna bo carl dina"),
        piv_users={
            "ns-eu": _users("globex", "anna bo eva finn gus hana"),
            "ns-us": _users("globex", "anna carl ivan jo"),
        },
        clusters={"sim-eu": 24},
        api_clients=("etl-hourly", "bi-export"),
        api_rate=2.4,
        aim_scopes=(),
        portal_users=_users("globex", "anna admin"),
        client_version="3.1.4",
    ),
    Account(
        account_id="initech",
        scopes=("default", "ns-1"),
        adh_sites={"ns-1": ("AUS", 14)},
        storage_events=5,
        acd_users=(),
        piv_users={
            "default": _users("initech", "bill peter sam"),
            "ns-1": _users("initech", "peter milton"),
        },
        clusters={},
        api_clients=("tps-report",),
        api_rate=1.2,
        aim_scopes=("ns-1",),
        portal_users=_users("initech", "bill"),
        client_version="3.2.1",
    ),
    Account(
        account_id="umbrella",
        scopes=("default", "ns-lab"),
        adh_sites={"ns-lab": ("RCN", 10)},
        storage_events=4,
        acd_users=_users("umbrella", "alice chris jill"),
        piv_users={},
        clusters={"lab-hpc": 20},
        api_clients=("lab-ingest",),
        api_rate=0.8,
        aim_scopes=(),
        portal_users=_users("umbrella", "alice"),
        client_version="2.9.0",
    ),
)
CLIENT_VERSIONS = {account.account_id: account.client_version for account in ACCOUNTS}


# -------------------------------------------------------------------------------- usage


@dataclass(frozen=True, slots=True)
class Event:
    """One usage row (SPEC §3.1); ``event_id`` is given once the day is complete."""

    ts: datetime
    account_id: str
    scope_id: str
    product_code: str
    meter: str
    user_id: str | None = None
    resource_id: str | None = None
    quantity: float | None = None
    event_id: str = ""


def _poisson(rng: random.Random, mean: float) -> int:
    """A Poisson draw (Knuth), enough for the small means used here."""
    if mean <= 0:
        return 0
    limit, count, product = math.exp(-mean), 0, rng.random()
    while product > limit:
        count += 1
        product *= rng.random()
    return count


def _weekday_factor(day: date) -> float:
    return {5: 0.35, 6: 0.25}.get(day.weekday(), 1.0)


def _stream_id(site: str, index: int) -> str:
    return f"{site}.{TAG_KINDS[index % len(TAG_KINDS)]}-{100 + index}.PV"


@dataclass
class DayLog:
    """Collects one account's events of one day; ``f`` scales activity (weekday, growth)."""

    rng: random.Random
    account: Account
    day: date
    f: float
    events: list[Event] = dataclasses.field(default_factory=list)

    def ts(self, hour: int | None = None) -> datetime:
        """A millisecond timestamp inside the day (inside ``hour`` when given)."""
        if hour is None:
            hour = self.rng.choices(range(24), weights=HOUR_WEIGHTS)[0]
        start = datetime(self.day.year, self.day.month, self.day.day, hour)
        return start + timedelta(milliseconds=self.rng.randrange(3_600_000))

    def add(
        self,
        scope: str,
        product: str,
        meter: str,
        *,
        hour: int | None = None,
        user_id: str | None = None,
        resource_id: str | None = None,
        quantity: float | None = None,
    ) -> None:
        ts = self.ts(hour)
        self.events.append(
            Event(
                ts, self.account.account_id, scope, product, meter, user_id, resource_id, quantity
            )
        )


def adh_usage(log: DayLog) -> None:
    """Streams accessed (by users or services), streams written to, GB stored."""
    rng, account = log.rng, log.account
    readers = account.acd_users + account.portal_users or (None,)
    age = (log.day - FIRST_DAY).days
    for scope, (site, base) in account.adh_sites.items():
        for stream in (_stream_id(site, i) for i in range(base + age // 4)):
            if rng.random() < min(0.95, 0.55 * log.f):
                for _ in range(1 + _poisson(rng, 1.2)):
                    user = rng.choice(readers) if rng.random() < 0.6 else None
                    log.add(scope, "ADH", "streams_accessed", user_id=user, resource_id=stream)
            if rng.random() < 0.3:
                log.add(scope, "ADH", "streams_stored", resource_id=stream)
        bucket = f"{site.lower()}-historian"
        for _ in range(_poisson(rng, account.storage_events * log.f / len(account.adh_sites))):
            gb = round(rng.lognormvariate(3.0, 0.7), 3)
            log.add(scope, "ADH", "storage_gb", resource_id=bucket, quantity=gb)
        if rng.random() < 0.07:  # an occasional bulk back-load pushes the day into tier 3
            gb = round(rng.uniform(400, 900), 3)
            log.add(scope, "ADH", "storage_gb", resource_id=f"{site.lower()}-archive", quantity=gb)


def acd_usage(log: DayLog) -> None:
    """Design-app sessions; now and then a user also works in a second scope that day."""
    for user in log.account.acd_users:
        if log.rng.random() >= 0.75 * _weekday_factor(log.day):
            continue
        for _ in range(1 + _poisson(log.rng, 1.2)):
            log.add("default", "ACD", "design_app_day", user_id=user)
        if log.rng.random() < 0.08:
            log.add(log.account.scopes[-1], "ACD", "design_app_day", user_id=user)


def piv_usage(log: DayLog) -> None:
    """PI Vision named users, counted per scope (some users work in two scopes)."""
    for scope, users in log.account.piv_users.items():
        for user in users:
            if log.rng.random() < 0.5 * _weekday_factor(log.day):
                for _ in range(1 + _poisson(log.rng, 1.0)):
                    log.add(scope, "PIV", "named_users", user_id=user)


def sim_usage(log: DayLog) -> None:
    """Licence-server samples of concurrent cores: every 3 h on weekdays, 6 h at weekends."""
    step = 3 if log.day.weekday() < 5 else 6
    for cluster, cores in log.account.clusters.items():
        for hour in range(0, 24, step):
            used = float(round(log.rng.triangular(1, cores, cores * 0.3)))
            log.add(
                "default", "SIM", "concurrent_cores", hour=hour, resource_id=cluster, quantity=used
            )


def api_usage(log: DayLog) -> None:
    """Batches of API calls from a few clients; a null quantity counts as one call."""
    rng, account = log.rng, log.account
    for hour, weight in enumerate(HOUR_WEIGHTS):
        for _ in range(_poisson(rng, account.api_rate * log.f * weight / 9)):
            calls = None if rng.random() < 0.15 else float(rng.randint(1, 30))
            client = rng.choice(account.api_clients)
            scope = rng.choice(account.scopes)
            log.add(scope, "API", "api_calls", hour=hour, resource_id=client, quantity=calls)


def fixed_usage(log: DayLog) -> None:
    """Insight site heartbeats (per scope) and CONNECT portal logins (per account)."""
    for scope in log.account.aim_scopes:
        if log.rng.random() < 0.7 * _weekday_factor(log.day):
            for _ in range(1 + _poisson(log.rng, 1.0)):
                log.add(scope, "AIM", "site_active")
    for user in log.account.portal_users:
        if log.rng.random() < 0.45 * _weekday_factor(log.day):
            log.add("default", "CNX", "portal_login", user_id=user)


GENERATORS = (adh_usage, acd_usage, piv_usage, sim_usage, api_usage, fixed_usage)


def normal_events(day: date) -> list[Event]:
    """The well-formed usage of one day, with event ids in timestamp order."""
    if day == EMPTY_DAY:
        return []
    rng = random.Random(f"{SEED}:{day.isoformat()}")
    f = _weekday_factor(day) * (1 + 0.005 * (day - FIRST_DAY).days)  # slow growth
    events: list[Event] = []
    for account in ACCOUNTS:
        log = DayLog(rng, account, day, f)
        for generate in GENERATORS:
            generate(log)
        events += log.events
    events.sort(key=lambda e: (e.ts, e.account_id, e.scope_id, e.product_code, e.meter))
    stamp = day.strftime("%Y%m%d")
    return [dataclasses.replace(e, event_id=f"evt-{stamp}-{i:05d}") for i, e in enumerate(events)]


# ---------------------------------------------------------------------------- anomalies

# (day, kind, how many): rows the job must quarantine, duplicates it must drop, and the
# unpriced event it must count in usage_daily without charging.
ANOMALIES: tuple[tuple[date, str, int], ...] = (
    (date(2026, 9, 8), "empty_account_id", 1),
    (date(2026, 9, 8), "negative_quantity", 1),
    (date(2026, 9, 10), "duplicate_event_id", 3),
    (date(2026, 9, 15), "nan_quantity", 1),
    (date(2026, 9, 15), "ts_outside_day", 1),
    (date(2026, 9, 17), "unpriced_meter", 1),
    (date(2026, 9, 22), "missing_resource_id", 2),
    (date(2026, 10, 6), "missing_user_id", 1),
    (date(2026, 10, 20), "duplicate_event_id", 2),
)


def _pick(rng: random.Random, events: Sequence[Event], meter: str) -> Event:
    return rng.choice([e for e in events if e.meter == meter and e.ts.hour < 23])


def bad_event(rng: random.Random, kind: str, events: Sequence[Event], index: int) -> Event:
    """A copy of a good event of the day, broken in the way ``kind`` says."""
    day = events[0].ts.date()
    if kind == "empty_account_id":
        bad = dataclasses.replace(_pick(rng, events, "streams_accessed"), account_id="")
    elif kind == "negative_quantity":
        bad = dataclasses.replace(_pick(rng, events, "storage_gb"), quantity=-12.5)
    elif kind == "nan_quantity":
        bad = dataclasses.replace(_pick(rng, events, "storage_gb"), quantity=math.nan)
    elif kind == "ts_outside_day":  # an event of the day before, filed late under this day
        late = datetime(day.year, day.month, day.day) - timedelta(seconds=90)
        bad = dataclasses.replace(_pick(rng, events, "api_calls"), ts=late)
    elif kind == "missing_resource_id":  # one null, then one empty string
        meter = "streams_accessed" if index % 2 == 0 else "storage_gb"
        bad = dataclasses.replace(
            _pick(rng, events, meter), resource_id=None if index % 2 == 0 else ""
        )
    elif kind == "missing_user_id":
        bad = dataclasses.replace(_pick(rng, events, "design_app_day"), user_id=None)
    elif kind == "unpriced_meter":  # a feature that no rate plan prices yet
        bad = dataclasses.replace(_pick(rng, events, "streams_accessed"), meter="data_views")
    else:
        raise ValueError(f"unknown anomaly kind {kind!r}")
    return bad


# ------------------------------------------------------------------------------ writing


def _files_per_day(day: date) -> int:
    return 3 if day.toordinal() % 3 == 0 else 2


def day_files(day: date) -> list[list[Event]]:
    """The events of one day split over its files, anomalies included."""
    events = normal_events(day)
    if not events:
        return [[]]
    rng = random.Random(f"{SEED}:{day.isoformat()}:files")
    n_files = _files_per_day(day)
    files: list[list[Event]] = [[] for _ in range(n_files)]
    placed: list[tuple[int, Event]] = [(rng.randrange(n_files), e) for e in events]
    next_id = len(events)
    stamp = day.strftime("%Y%m%d")
    for when, kind, count in ANOMALIES:
        if when != day:
            continue
        for i in range(count):
            if kind == "duplicate_event_id":  # redelivered a little later in another file
                index = rng.choice([j for j, (_, e) in enumerate(placed) if e.ts.hour < 23])
                file_no, original = placed[index]
                later = original.ts + timedelta(seconds=rng.randint(5, 600))
                placed.append(((file_no + 1) % n_files, dataclasses.replace(original, ts=later)))
            else:
                bad = bad_event(rng, kind, events, i)
                bad = dataclasses.replace(bad, event_id=f"evt-{stamp}-{next_id:05d}")
                next_id += 1
                placed.append((rng.randrange(n_files), bad))
    for file_no, event in placed:
        files[file_no].append(event)
    for part in files:
        part.sort(key=lambda e: (e.ts, e.event_id))
    return files


def usage_table(events: Sequence[Event], columns: Sequence[str]) -> pa.Table:
    """A pyarrow table of ``events`` with ``columns`` in that order."""
    arrays: list[pa.Array] = []
    fields: list[pa.Field] = []
    for name in columns:
        if name == EXTRA_COLUMN:
            field = pa.field(EXTRA_COLUMN, pa.string())
            values: list[object] = [CLIENT_VERSIONS.get(e.account_id) for e in events]
        else:
            field = USAGE_SCHEMA.field(name)
            values = [getattr(e, name) for e in events]
        fields.append(field)
        arrays.append(pa.array(values, type=field.type))
    return pa.Table.from_arrays(arrays, schema=pa.schema(fields))


def write_usage(out: Path) -> list[tuple[date, int, int]]:
    """Rewrite ``out/usage``; returns (day, rows, files) for every day."""
    usage = out / "usage"
    if usage.exists():
        shutil.rmtree(usage)
    summary = []
    day = FIRST_DAY
    while day <= LAST_DAY:
        folder = usage / f"date={day.isoformat()}"
        folder.mkdir(parents=True)
        files = day_files(day)
        for file_no, events in enumerate(files):
            table = usage_table(events, FILE_COLUMN_ORDERS[file_no % len(FILE_COLUMN_ORDERS)])
            pq.write_table(table, folder / f"part-{file_no:05d}.parquet", compression=COMPRESSION)
        summary.append((day, sum(len(events) for events in files), len(files)))
        day += timedelta(days=1)
    return summary


# ------------------------------------------------------------------- grants and transfers

GRANT_COLUMNS = (
    "grant_id",
    "account_id",
    "currency",
    "amount",
    "effective_on",
    "expires_on",
    "priority",
    "products",
    "source",
    "unit_cost",
    "cost_currency",
    "voided_on",
    "rollover_max",
    "rollover_days",
)
# An empty cell means "not given" (SPEC §3.3): default priority, every product, cost 0, USD,
# never voided, no rollover (SPEC §10).
GRANTS: tuple[tuple[str, ...], ...] = (
    ("G-ACME-LEGACY-CC", "acme", "cloud_credit", "1500.000000", "2026-09-01", "2026-10-01",
     "", "", "legacy", "", "", "", "", ""),
    ("G-ACME-2026-001", "acme", "flex_credit", "2500.000000", "2026-09-01", "2027-09-01",
     "", "", "purchase", "0.95", "USD", "", "", ""),
    ("G-ACME-PROMO-Q4", "acme", "flex_credit", "250.5", "2026-10-01", "2026-12-31",
     "", "", "promotional", "0", "USD", "", "", ""),
    ("G-GLOBEX-2026-001", "globex", "flex_token", "500.000000", "2026-09-01", "2027-09-01",
     "", "", "purchase", "1.10", "EUR", "", "", ""),
    ("G-GLOBEX-ACD-DEP", "globex", "flex_token", "400", "2026-09-01", "",
     "5", "ACD", "deposit", "1.00", "EUR", "", "", ""),
    # granted by mistake and voided: what it still holds on 2026-09-10 leaves by a void
    ("G-GLOBEX-PROMO-VOID", "globex", "flex_token", "400", "2026-09-01", "2026-12-31",
     "", "", "promotional", "0", "EUR", "2026-09-10", "", ""),
    # burns last (priority 15): 100 of its 150 roll over for 30 days on 2026-10-01
    ("G-GLOBEX-Q3-BONUS", "globex", "flex_token", "150", "2026-09-01", "2026-10-01",
     "15", "", "bonus", "0", "EUR", "", "100", "30"),
    ("G-INITECH-2026-001", "initech", "flex_credit", "600.000000", "2026-09-01", "2027-09-01",
     "", "", "purchase", "0.90", "", "", "", ""),
    ("G-INITECH-REPL-10", "initech", "flex_credit", "250.000000", "2026-10-15", "2027-10-15",
     "", "ADH;API", "replenishment", "0.90", "USD", "", "", ""),
    ("G-UMBRELLA-2026-001", "umbrella", "flex_credit", "150.000000", "2026-09-01", "2027-09-01",
     "", "", "purchase", "1.00", "USD", "", "", ""),
)  # fmt: skip

TOPUP_COLUMNS = (
    "rule_id", "account_id", "currency", "threshold", "amount", "target", "unit_cost",
    "cost_currency", "priority", "products", "expires_after_days", "max_per_month",
)  # fmt: skip
# auto-recharge (SPEC §10): 250 flex tokens whenever globex ends a day below 100, at most
# twice a month; without it globex would go into overdraft in late October
TOPUPS: tuple[tuple[str, ...], ...] = (
    ("R-GLOBEX-AUTO", "globex", "flex_token", "100", "250", "", "1.10", "EUR", "", "", "365",
     "2"),
)  # fmt: skip

TRANSFER_COLUMNS = ("transfer_id", "date", "from_account", "to_account", "amount", "currency")
TRANSFERS: tuple[tuple[str, ...], ...] = (
    ("T-2026-0001", "2026-09-20", "acme", "initech", "200.000000", "flex_credit"),
    # far more than globex holds: rejected whole, a transfer_rejected alert
    ("T-2026-0002", "2026-10-12", "globex", "umbrella", "50000.000000", ""),
)


def write_csv(path: Path, header: Sequence[str], rows: Iterable[Sequence[str]]) -> None:
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(header)
        writer.writerows(rows)


# --------------------------------------------------------------------------------- main


def _size(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--out",
        type=Path,
        default=Path(__file__).resolve().parent,
        help="folder to write into (default: the folder of this script, data/)",
    )
    args = parser.parse_args(argv)
    out: Path = args.out
    out.mkdir(parents=True, exist_ok=True)

    (out / "rate_plans.toml").write_text(render_rate_plans(PLANS), encoding="utf-8")
    write_csv(out / "grants.csv", GRANT_COLUMNS, GRANTS)
    write_csv(out / "transfers.csv", TRANSFER_COLUMNS, TRANSFERS)
    write_csv(out / "topups.csv", TOPUP_COLUMNS, TOPUPS)
    days = write_usage(out)

    anomalies: dict[date, list[str]] = {}
    for when, kind, count in ANOMALIES:
        anomalies.setdefault(when, []).append(f"{count} {kind}")
    for day, rows, files in days:
        note = "; ".join(anomalies.get(day, []))
        if day == EMPTY_DAY:
            note = "no usage (zero-row file)"
        print(f"{day} {day:%a} {rows:5d} rows {files} files  {note}".rstrip())
    total_rows = sum(rows for _, rows, _ in days)
    total_files = sum(files for _, _, files in days)
    print(
        f"{len(days)} days, {total_rows} usage rows in {total_files} files, "
        f"{len(PLANS)} plan versions, {len(GRANTS)} grants, {len(TRANSFERS)} transfers, "
        f"{len(TOPUPS)} top-up rule; "
        f"usage {_size(out / 'usage') / 1024:.0f} KiB, {out} {_size(out) / 1024:.0f} KiB"
    )


if __name__ == "__main__":
    main()
