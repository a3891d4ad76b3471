"""The output lock on an object store: a lease object ``OUT/_lock`` (the protocol's
shared part, and its Hadoop URI form; ``s3_lease.py`` is its S3 form).

Object stores have no ``flock``: the lease is created only if absent and names its holder,
is renewed by the holder every third of ``FLEXBATCH_LEASE_SECONDS`` (default 600) and is
deleted at the end; a lease past its expiry (its holder died) is taken over by renaming it
aside, which only one taker can do. The publication checks the lease before each commit
(``assert_lease``), so a holder paused past its lease never publishes over its successor.
"""

from __future__ import annotations

import json
import logging
import os
import socket
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Protocol

from flexbatch.errors import LockHeldError

if TYPE_CHECKING:
    from flexbatch.storage.hadoop import HadoopStore

logger = logging.getLogger(__name__)

LOCK = "_lock"


class LeaseStore(Protocol):
    """What the lease's shared part needs of a store (Hadoop's or S3's)."""

    lease_seconds: int
    lease_token: str | None

    def display(self, rel: str = "") -> str: ...


def new_holder(command: str) -> dict:
    """Who takes the lease: a fresh token, and what a waiting run is told."""
    return {
        "token": uuid.uuid4().hex,
        "pid": os.getpid(),
        "host": socket.gethostname(),
        "command": command,
        "started_at": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
    }


def lease_body(store: LeaseStore, holder: dict) -> bytes:
    """The lease object: its holder and its expiry, a lease length from now."""
    return json.dumps({**holder, "expires_at": time.time() + store.lease_seconds}).encode()


def who(info: dict) -> str:
    if not info:
        return "an unknown process"
    return (
        f"pid {info.get('pid', '?')} on {info.get('host', '?')} "
        f"(command {info.get('command', '?')}, started {info.get('started_at', '?')})"
    )


def locked_by(store: LeaseStore, held: dict) -> LockHeldError:
    """The refusal of a run that finds the lease held (exit 4)."""
    return LockHeldError(
        f"{store.display()}: locked by {who(held)}; fix: wait for it to finish (a lease "
        f"whose holder died expires {store.lease_seconds} s after its last renewal)"
    )


def check_held(store: LeaseStore, held: dict) -> None:
    """Raise LockHeldError unless ``held`` (the lease as read now) is this process's
    (checked before each commit: a run paused past its lease must not publish over its
    successor)."""
    if store.lease_token is None or held.get("token") != store.lease_token:
        raise LockHeldError(
            f"{store.display()}: this run lost its lease to {who(held)}; nothing more is "
            "published; fix: raise FLEXBATCH_LEASE_SECONDS above the longest pause"
        )


@contextmanager
def renewed(store: LeaseStore, holder: dict, renew: Callable[[], bool]) -> Iterator[None]:
    """Hold a taken lease for the block: ``renew`` every third of the lease length (False:
    another run took it over, so stop; ``check_held`` then refuses the next commit)."""
    store.lease_token = holder["token"]
    stop = threading.Event()

    def beat() -> None:
        while not stop.wait(store.lease_seconds / 3):
            try:
                if not renew():
                    logger.error("the lease on %s was taken over", store.display())
                    return
            except Exception as exc:  # a store hiccup: try again at the next beat
                logger.warning("lease renewal failed: %s", exc)

    renewer = threading.Thread(target=beat, name="flexbatch-lease", daemon=True)
    renewer.start()
    try:
        yield
    finally:
        stop.set()
        renewer.join()
        store.lease_token = None


# -- on a Hadoop URI ---------------------------------------------------------------------------


def _read_lease(store: HadoopStore, rel: str = LOCK) -> dict:
    try:
        return json.loads(store.read_bytes(rel) or b"{}")
    except Exception:  # vanished meanwhile, or unreadable: treat as unknown
        return {}


def _expired(store: HadoopStore, held: dict) -> bool:
    """Past its expiry; a lease without one (its writer died mid-write) expires a lease
    length after it was last modified."""
    if "expires_at" in held:
        return float(held["expires_at"]) < time.time()
    files = [f for f in store.list_files("") if f.name == LOCK]
    return bool(files) and files[0].mtime_ns / 1e9 + store.lease_seconds < time.time()


def _take(store: HadoopStore, holder: dict) -> None:
    if store.write_bytes(LOCK, lease_body(store, holder), overwrite=False):
        return
    held = _read_lease(store)
    if _expired(store, held):
        aside = f"{LOCK}.expired-{uuid.uuid4().hex[:8]}"
        if store.rename(LOCK, aside):  # only one taker can move a given lease aside
            if _read_lease(store, aside).get("token") == held.get("token"):
                store.delete(aside)
                logger.warning("took over the expired lease of %s", who(held))
                if store.write_bytes(LOCK, lease_body(store, holder), overwrite=False):
                    return
            else:  # a live lease another taker created meanwhile: put it back
                store.rename(aside, LOCK)
    raise locked_by(store, _read_lease(store) or held)


def assert_lease(store: HadoopStore) -> None:
    check_held(store, _read_lease(store))


@contextmanager
def remote_lock(store: HadoopStore, command: str) -> Iterator[None]:
    """Hold the lease on OUT for the block; LockHeldError (exit 4) at once if held."""
    holder = new_holder(command)
    _take(store, holder)

    def renew() -> bool:
        if _read_lease(store).get("token") != holder["token"]:
            return False
        store.write_bytes(LOCK, lease_body(store, holder))
        return True

    try:
        with renewed(store, holder, renew):
            yield
    finally:
        if _read_lease(store).get("token") == holder["token"]:
            store.delete(LOCK)
