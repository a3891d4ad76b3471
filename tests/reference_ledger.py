"""A reference model of the credit rules, written from SPEC §4, §5 (balances) and §10
(void, rollover, top-ups) in plain Python decimals, one account-day at a time, with no
code or SQL of the ledger: the independent side of ``test_reference_ledger``.

Where the SPEC leaves a choice open, the model takes the reading named in a comment
(marked READING); the test then shows whether the ledger took the same one.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import date, timedelta
from decimal import ROUND_HALF_EVEN, Decimal

PLACES = Decimal("0.000001")  # DECIMAL(38, 6)
ZERO = Decimal(0)
BAND_SHARE = Decimal("0.2")  # green above 20 % of purchased_total (§1, §5)
EXPIRING_DAYS = 90  # expiring_90d (§5)
FLEX_CREDIT = "flex_credit"  # an overdraft's currency when no grant could pay (§4)


def q(value: Decimal | int | str) -> Decimal:
    """Exact to 6 places, rounded half-even (§3.2)."""
    return Decimal(value).quantize(PLACES, rounding=ROUND_HALF_EVEN)


@dataclass(frozen=True)
class Grant:
    """A row of grants (§3.3, §10); ``products`` empty means every product."""

    grant_id: str
    account_id: str
    currency: str
    amount: Decimal
    effective_on: date
    expires_on: date | None = None
    priority: int | None = None
    products: frozenset[str] = frozenset()
    unit_cost: Decimal = ZERO
    voided_on: date | None = None
    rollover_max: Decimal | None = None
    rollover_days: int | None = None

    @property
    def rank_priority(self) -> int:
        # §3.3: default 0 for cloud_credit, 10 otherwise
        if self.priority is not None:
            return self.priority
        return 0 if self.currency == "cloud_credit" else 10


@dataclass(frozen=True)
class Transfer:
    transfer_id: str
    date: date
    from_account: str
    to_account: str
    amount: Decimal
    currency: str | None = None  # None: any currency


@dataclass(frozen=True)
class TopUp:
    """A rule of topups.csv (§10): exactly one of ``amount`` and ``target``."""

    rule_id: str
    account_id: str
    currency: str
    threshold: Decimal
    amount: Decimal | None = None
    target: Decimal | None = None
    unit_cost: Decimal = ZERO
    priority: int | None = None
    products: frozenset[str] = frozenset()
    expires_after_days: int | None = None
    max_per_month: int | None = None


@dataclass
class Slice:
    """Credits of one grant held by one account: the grant itself, GRANT@TRANSFER received
    by transfer (§4 step 3) or GRANT~rollover (§10). ``origin`` is the grant it came from."""

    account_id: str
    grant_id: str
    origin: Grant
    expires_on: date | None
    effective_on: date
    remaining: Decimal
    rolled_over: bool = False

    def burn_key(self) -> tuple:
        # §4 burn order: priority, expires_on (never last), unit_cost, effective_on, grant_id
        never = self.expires_on is None
        return (self.origin.rank_priority, never, self.expires_on or date.min,
                self.origin.unit_cost, self.effective_on, self.grant_id)  # fmt: skip

    def pays_for(self, product: str) -> bool:
        return not self.origin.products or product in self.origin.products


@dataclass(frozen=True)
class Entry:
    """A credit_ledger row (§5); ``amount`` signed, + adds credits."""

    account_id: str
    grant_id: str | None
    currency: str
    entry_type: str
    amount: Decimal
    product_code: str | None = None
    ref: str | None = None
    grant_remaining: Decimal | None = None


@dataclass
class Day:
    """One processed day: its entries, balances by (account, currency), the transfers it
    rejected, the top-up grants it issued, and the live slices at its end."""

    entries: list[Entry] = field(default_factory=list)
    balances: dict[tuple[str, str], dict[str, object]] = field(default_factory=dict)
    rejected: list[str] = field(default_factory=list)
    topups: list[Grant] = field(default_factory=list)
    slices: list[Slice] = field(default_factory=list)


MOVES = {  # balances column of each entry type (rollover moves within one currency: none)
    "grant": "granted", "transfer_in": "transferred_in", "transfer_out": "transferred_out",
    "consume": "consumed", "expire": "expired", "void": "voided", "overdraft": "overdraft",
}  # fmt: skip
TOTALS = {"purchased_total": ("granted", "transferred_in", "-transferred_out"),
          "used_total": ("consumed",), "expired_total": ("expired",),
          "voided_total": ("voided",), "overdraft_total": ("overdraft",)}  # fmt: skip


class ReferenceLedger:
    """The credit rules over consecutive days: ``run(day, charges)`` per day in order."""

    def __init__(self, grants: Iterable[Grant], transfers: Iterable[Transfer] = (),
                 topups: Iterable[TopUp] = ()) -> None:  # fmt: skip
        self.grants = list(grants)
        self.transfers = sorted(transfers, key=lambda t: t.transfer_id)
        self.topups = list(topups)
        self.slices: list[Slice] = []
        self.issued: list[Grant] = []  # top-up grants, effective the day after their trigger
        self.totals: dict[tuple[str, str], dict[str, Decimal]] = {}
        self.days: dict[date, Day] = {}

    def run(self, day: date, charges: Sequence[tuple[str, str, Decimal]] = ()) -> Day:
        """Day ``day``; ``charges`` are (account, product, credits), one per account and
        product, whose transaction id is ``account:product:day`` (as ``ledger_days``)."""
        out = Day()
        self._expire(day, out)
        self._void(day, out)
        self._grant(day, out)
        for transfer in (t for t in self.transfers if t.date == day):
            self._transfer(transfer, out)
        self._burn(day, charges, out)
        self._balances(day, out)
        self._top_up(day, out)
        out.slices = [replace(s) for s in self.slices]
        self.days[day] = out
        return out

    # -- §4 step 1 and §10 rollover ----------------------------------------------------------
    def _expire(self, day: date, out: Day) -> None:
        for s in [s for s in self.slices if s.expires_on == day]:
            self.slices.remove(s)
            left, g = s.remaining, s.origin
            if left > 0 and g.rollover_max is not None and not s.rolled_over:
                moved = min(left, g.rollover_max)
                if moved > 0:
                    new_id = f"{s.grant_id}~rollover"
                    self.slices.append(Slice(s.account_id, new_id, g,
                                             day + timedelta(days=g.rollover_days or 0),
                                             day, moved, rolled_over=True))  # fmt: skip
                    left -= moved
                    out.entries += [
                        Entry(s.account_id, s.grant_id, g.currency, "rollover_out", -moved,
                              ref=new_id, grant_remaining=left),
                        Entry(s.account_id, new_id, g.currency, "rollover_in", moved,
                              ref=new_id, grant_remaining=moved),
                    ]  # fmt: skip
            if left > 0:
                out.entries.append(Entry(s.account_id, s.grant_id, g.currency, "expire", -left,
                                         grant_remaining=ZERO))  # fmt: skip

    # -- §10 step 2: void; §4 step 2 (§10 step 3): grants and due top-ups -------------------
    def _void(self, day: date, out: Day) -> None:
        for s in self.slices:
            g = s.origin
            if g.voided_on == day and s.account_id == g.account_id and s.remaining > 0:
                out.entries.append(Entry(s.account_id, s.grant_id, g.currency, "void",
                                         -s.remaining, grant_remaining=ZERO))  # fmt: skip
                s.remaining = ZERO

    def _grant(self, day: date, out: Day) -> None:
        for g in [*self.grants, *self.issued]:
            if g.effective_on != day or (g.voided_on is not None and g.voided_on <= day):
                continue  # a grant voided on or before its effective_on is never added
            self.slices.append(Slice(g.account_id, g.grant_id, g, g.expires_on, day, g.amount))
            out.entries.append(Entry(g.account_id, g.grant_id, g.currency, "grant", g.amount,
                                     grant_remaining=g.amount))  # fmt: skip

    # -- §4 step 3 ---------------------------------------------------------------------------
    def _transfer(self, t: Transfer, out: Day) -> None:
        held = sorted(
            (
                s
                for s in self.slices
                if s.account_id == t.from_account
                and s.remaining > 0
                and t.currency in (None, s.origin.currency)
            ),
            key=Slice.burn_key,
        )
        if sum((s.remaining for s in held), ZERO) < t.amount:
            out.rejected.append(t.transfer_id)  # rejected whole, nothing moved
            return
        due = t.amount
        for s in held:
            if due == 0:
                break
            moved = min(due, s.remaining)
            due -= moved
            s.remaining -= moved
            new_id = f"{s.grant_id}@{t.transfer_id}"
            self.slices.append(replace(s, account_id=t.to_account, grant_id=new_id,
                                       remaining=moved))  # fmt: skip
            c = s.origin.currency
            out.entries += [
                Entry(s.account_id, s.grant_id, c, "transfer_out", -moved, ref=t.transfer_id,
                      grant_remaining=s.remaining),
                Entry(t.to_account, new_id, c, "transfer_in", moved, ref=t.transfer_id,
                      grant_remaining=moved),
            ]  # fmt: skip

    # -- §4 step 4 ---------------------------------------------------------------------------
    def _burn(self, day: date, charges: Sequence[tuple[str, str, Decimal]], out: Day) -> None:
        # per account, products in ascending product_code; a product's charges in their order
        ordered = sorted(enumerate(charges), key=lambda ic: (ic[1][0], ic[1][1], ic[0]))
        for _, (account, product, credits) in ordered:
            if credits <= 0:
                continue
            usable = sorted((s for s in self.slices if s.account_id == account
                             and s.pays_for(product)), key=Slice.burn_key)  # fmt: skip
            ref, due = f"{account}:{product}:{day}", credits
            for s in usable:
                take = min(due, s.remaining)
                if take > 0:
                    due -= take
                    s.remaining -= take
                    out.entries.append(Entry(account, s.grant_id, s.origin.currency, "consume",
                                             -take, product, ref, s.remaining))  # fmt: skip
            if due > 0:
                # READING: "the last grant the product could use" is the last, in burn order,
                # of the account's live slices the product may use, spent ones included
                currency = usable[-1].origin.currency if usable else FLEX_CREDIT
                out.entries.append(Entry(account, None, currency, "overdraft", -due,
                                         product, ref))  # fmt: skip

    # -- §5 balances and §10 top-ups --------------------------------------------------------
    def _balances(self, day: date, out: Day) -> None:
        moves: dict[tuple[str, str], dict[str, Decimal]] = {}
        for e in out.entries:
            key = (e.account_id, e.currency)
            row = moves.setdefault(key, dict.fromkeys(MOVES.values(), ZERO))
            if e.entry_type in MOVES:
                row[MOVES[e.entry_type]] += abs(e.amount)
        for key in {*self.totals, *moves}:  # every day from the first activity
            m = moves.get(key, dict.fromkeys(MOVES.values(), ZERO))
            held = [s for s in self.slices if (s.account_id, s.origin.currency) == key]
            totals = self.totals.setdefault(key, {"available": ZERO, **dict.fromkeys(TOTALS, ZERO)})
            row: dict[str, object] = {"opening": totals["available"], **m}
            for name, parts in TOTALS.items():
                delta = sum((-m[p[1:]] if p[0] == "-" else m[p] for p in parts), ZERO)
                totals[name] += delta
            totals["available"] = sum((s.remaining for s in held), ZERO)
            row.update(totals)
            green = totals["available"] > totals["purchased_total"] * BAND_SHARE
            row["band"] = "green" if green else "red"
            horizon = day + timedelta(days=EXPIRING_DAYS)
            row["expiring_90d"] = sum((s.remaining for s in held if s.expires_on is not None
                                       and day < s.expires_on <= horizon), ZERO)  # fmt: skip
            row["entitled"] = totals["available"] >= 1  # §10 entitlement
            out.balances[key] = row

    def _top_up(self, day: date, out: Day) -> None:
        effective = day + timedelta(days=1)
        for rule in self.topups:
            row = out.balances.get((rule.account_id, rule.currency))
            available = row["available"] if row else ZERO
            if available >= rule.threshold:
                continue
            month = [g for g in self.issued if g.grant_id.startswith(f"{rule.rule_id}:")
                     and g.effective_on.replace(day=1) == effective.replace(day=1)]  # fmt: skip
            if rule.max_per_month is not None and len(month) >= rule.max_per_month:
                continue
            amount = rule.amount if rule.amount is not None else rule.target - available
            expires = (effective + timedelta(days=rule.expires_after_days)
                       if rule.expires_after_days else None)  # fmt: skip
            grant = Grant(f"{rule.rule_id}:{effective.isoformat()}", rule.account_id,
                          rule.currency, q(amount), effective, expires, rule.priority,
                          rule.products, rule.unit_cost)  # fmt: skip
            self.issued.append(grant)
            out.topups.append(grant)
