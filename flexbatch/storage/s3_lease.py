"""The output lock on S3: a lease object ``OUT/_lock`` written only by conditional puts.

- **Take**: ``PUT _lock`` with ``If-None-Match: *``. S3 refuses it (412) when the key
  exists, so of two runs started at the same instant exactly one gets the lease.
- **Renew** (every third of ``FLEXBATCH_LEASE_SECONDS``): ``PUT _lock`` with ``If-Match:
  <the ETag this run last wrote>``; a 412 means another run took the lease over, and this
  run publishes nothing more (``assert_lease`` before each commit sees it).
- **Take over** a lease past its ``expires_at`` (its holder died): ``PUT _lock`` with
  ``If-Match: <the ETag of the expired lease just read>``: a compare-and-swap, so of two
  takers exactly one wins, and a lease renewed meanwhile is never taken.
- **Release**: ``DELETE _lock`` with ``If-Match`` (a server that does not take the
  condition gets a delete after checking the token).

The expiry is the holder's clock; takers compare it with theirs, so the clocks of the
machines that share an OUT must agree to well within the lease.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

from flexbatch.storage.lease import (
    LOCK,
    check_held,
    lease_body,
    locked_by,
    new_holder,
    renewed,
    who,
)

if TYPE_CHECKING:
    from flexbatch.storage.s3 import S3Store

logger = logging.getLogger(__name__)


def _parse(found: tuple[bytes, str] | None) -> dict:
    if found is None:
        return {}
    try:
        held = json.loads(found[0] or b"{}")
    except ValueError:
        return {}
    return held if isinstance(held, dict) else {}


def _expired(held: dict) -> bool:
    """Past its expiry; an object that is not a lease of ours counts as expired (a PUT is
    whole on S3, so a lease is never half-written)."""
    try:
        return float(held["expires_at"]) < time.time()
    except (KeyError, TypeError, ValueError):
        return True


def _take(store: S3Store, holder: dict) -> str:
    """The ETag of the lease this run now holds; LockHeldError when another run holds it."""
    for _ in range(2):  # a lease released between the put and the read: try once more
        etag = store.put_conditional(LOCK, lease_body(store, holder), if_none_match=True)
        if etag is not None:
            return etag
        found = store.read_with_etag(LOCK)
        if found is not None:
            break
    held = _parse(found)
    if found is not None and _expired(held):
        etag = store.put_conditional(LOCK, lease_body(store, holder), if_match=found[1])
        if etag is not None:
            logger.warning("took over the expired lease of %s", who(held))
            return etag
        held = _parse(store.read_with_etag(LOCK)) or held
    raise locked_by(store, held)


def assert_lease(store: S3Store) -> None:
    """Raise LockHeldError unless this process still holds the lease."""
    check_held(store, _parse(store.read_with_etag(LOCK)))


def _release(store: S3Store, token: str, etag: str | None) -> None:
    try:
        if etag is not None:
            store.client.delete_object(Bucket=store.bucket, Key=store.key(LOCK), IfMatch=etag)
            return
    except Exception as exc:
        from flexbatch.storage.s3 import _precondition_failed

        if _precondition_failed(exc):
            return  # another run holds it now: not ours to delete
        logger.debug("conditional delete refused (%s); checking the token instead", exc)
    if _parse(store.read_with_etag(LOCK)).get("token") == token:
        store.delete(LOCK)


@contextmanager
def s3_lock(store: S3Store, command: str) -> Iterator[None]:
    """Hold the lease on OUT for the block; LockHeldError (exit 4) at once if held."""
    holder = new_holder(command)
    store.lease_etag = _take(store, holder)

    def renew() -> bool:
        etag = store.put_conditional(LOCK, lease_body(store, holder), if_match=store.lease_etag)
        if etag is None:
            return False
        store.lease_etag = etag
        return True

    try:
        with renewed(store, holder, renew):
            yield
    finally:
        _release(store, holder["token"], store.lease_etag)
        store.lease_etag = None
