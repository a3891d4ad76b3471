"""The ledger's numeric range, enforced where inputs enter (README: "Numeric range").

Credits are ``DECIMAL(38, 6)``: 32 integer digits. The charge SQL multiplies units by a
price exactly (``DECIMAL(38, 12)``, then micro-credits), which holds a charge row below
``CREDIT_LIMIT``. Inputs are bounded so that no accepted value can take a computed one out
of range:

* one event's ``quantity``, and the day's running sum of a usage group (account, scope,
  product, meter), stay below ``QUANTITY_LIMIT`` (else the event is quarantined), and a
  unit price is at most ``PRICE_LIMIT``: units x price < 10^14 x 10^6 = ``CREDIT_LIMIT``;
* a grant or transfer ``amount`` is below ``CREDIT_LIMIT``, ``unit_cost`` at most
  ``PRICE_LIMIT`` (exit 2 naming file, row and field).

Every sum the ledger keeps (a day's consumption, balances, cumulative totals) adds such
values: DECIMAL(38, 6) holds a trillion (10^12) of them at their maximum before it could
overflow, far beyond any real account.
"""

from __future__ import annotations

from decimal import Decimal

CREDIT_LIMIT = Decimal(10) ** 20  # exclusive: one amount, grant, transfer or charge row
PRICE_LIMIT = Decimal(10) ** 6  # inclusive: a unit price, a grant's unit_cost
QUANTITY_LIMIT = 10**14  # exclusive: one event's quantity, one group's day sum
POSITION_LIMIT = Decimal(10) ** 32  # exclusive: a tier's `above` (DECIMAL(38, 6) itself)
INT64_MAX = 2**63 - 1  # user_limit and other counts Parquet stores as int64
ID_MAX_LENGTH = 128  # inclusive: characters of a usage event's account_id (SPEC §3.1)
