"""One writer per output folder (SPEC §2 exit 4).

The lock is an ``fcntl.flock`` on ``OUT/_lock``: the kernel releases it when its process
dies, however it dies, so a lock left by a killed run is never stale — the next run simply
gets it. The file also holds the holder's pid, host and start time, so a refused run can
say who holds it. (flock is per host on network filesystems that do not forward it: run
one scheduler per output.)
"""

from __future__ import annotations

import fcntl
import json
import logging
import os
import socket
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

from flexbatch.errors import LockHeldError

logger = logging.getLogger(__name__)

LOCK_FILE = "_lock"


def _holder(path: Path) -> str:
    try:
        info = json.loads(path.read_text(encoding="utf-8") or "{}")
    except (OSError, ValueError):
        return "an unknown process"
    return (
        f"pid {info.get('pid', '?')} on {info.get('host', '?')} "
        f"(command {info.get('command', '?')}, started {info.get('started_at', '?')})"
    )


@contextmanager
def output_lock(out: Path, command: str) -> Iterator[None]:
    """Hold the output lock for the block; raise LockHeldError (exit 4) at once if taken."""
    out.mkdir(parents=True, exist_ok=True)
    path = out / LOCK_FILE
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise LockHeldError(
                f"{out}: locked by {_holder(path)}; fix: wait for it to finish "
                "(a lock of a dead process is released by the system)"
            ) from None
        holder = {
            "pid": os.getpid(),
            "host": socket.gethostname(),
            "command": command,
            "started_at": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        }
        os.ftruncate(fd, 0)
        os.pwrite(fd, json.dumps(holder).encode(), 0)
        logger.debug("output lock taken: %s", holder)
        try:
            yield
        finally:
            os.ftruncate(fd, 0)
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)
