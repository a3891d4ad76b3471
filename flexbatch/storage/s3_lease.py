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
import os
import socket
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from flexbatch.errors import LockHeldError

if TYPE_CHECKING:
    from flexbatch.storage.s3 import S3Store

logger = logging.getLogger(__name__)

LOCK = "_lock"


def _body(store: S3Store, holder: dict) -> bytes:
    return json.dumps({**holder, "expires_at": time.time() + store.lease_seconds}).encode()


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


def _who(held: dict) -> str:
    if not held:
        return "an unknown process"
    return (
        f"pid {held.get('pid', '?')} on {held.get('host', '?')} "
        f"(command {held.get('command', '?')}, started {held.get('started_at', '?')})"
    )


def _take(store: S3Store, holder: dict) -> str:
    """The ETag of the lease this run now holds; LockHeldError when another run holds it."""
    for _ in range(2):  # a lease released between the put and the read: try once more
        etag = store.put_conditional(LOCK, _body(store, holder), if_none_match=True)
        if etag is not None:
            return etag
        found = store.read_with_etag(LOCK)
        if found is not None:
            break
    held = _parse(found)
    if found is not None and _expired(held):
        etag = store.put_conditional(LOCK, _body(store, holder), if_match=found[1])
        if etag is not None:
            logger.warning("took over the expired lease of %s", _who(held))
            return etag
        held = _parse(store.read_with_etag(LOCK)) or held
    raise LockHeldError(
        f"{store.display()}: locked by {_who(held)}; fix: wait for it to finish (a lease "
        f"whose holder died expires {store.lease_seconds} s after its last renewal)"
    )


def assert_lease(store: S3Store) -> None:
    """Raise LockHeldError unless this process still holds the lease."""
    held = _parse(store.read_with_etag(LOCK))
    if store.lease_token is None or held.get("token") != store.lease_token:
        raise LockHeldError(
            f"{store.display()}: this run lost its lease to {_who(held)}; nothing more is "
            "published; fix: raise FLEXBATCH_LEASE_SECONDS above the longest pause"
        )


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
    holder = {
        "token": uuid.uuid4().hex,
        "pid": os.getpid(),
        "host": socket.gethostname(),
        "command": command,
        "started_at": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
    }
    store.lease_etag = _take(store, holder)
    store.lease_token = holder["token"]
    stop = threading.Event()

    def renew() -> None:
        while not stop.wait(store.lease_seconds / 3):
            try:
                etag = store.put_conditional(LOCK, _body(store, holder), if_match=store.lease_etag)
            except Exception as exc:  # a store hiccup: try again at the next beat
                logger.warning("lease renewal failed: %s", exc)
                continue
            if etag is None:
                logger.error("the lease on %s was taken over", store.display())
                return  # assert_lease refuses the next commit
            store.lease_etag = etag

    renewer = threading.Thread(target=renew, name="flexbatch-s3-lease", daemon=True)
    renewer.start()
    try:
        yield
    finally:
        stop.set()
        renewer.join()
        store.lease_token = None
        _release(store, holder["token"], store.lease_etag)
        store.lease_etag = None
