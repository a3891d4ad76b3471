"""Where ``sql --to`` and ``export --to`` write: checked first, written whole or not at all.

A target must be a file path (not a folder), in a folder that exists, and outside OUT: the
read-only commands never change published data, whatever path they are given. The file is
written next to the target under a hidden temporary name and moved into place with
``os.replace``; on any failure the temporary file is removed, so nothing half-written and
no ``.tmp`` file is ever left behind.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from pathlib import Path

from flexbatch.errors import ConfigError


def check_target(to_file: Path, out: Path, command: str) -> None:
    """Raise ConfigError (exit 2) unless ``to_file`` can be written by ``command``."""
    if to_file.is_dir():
        raise ConfigError(
            f"{command}: --to {to_file}: is a folder; fix: give a file name, e.g. "
            f"{to_file / 'result.csv'}"
        )
    if not to_file.parent.is_dir():
        raise ConfigError(
            f"{command}: --to {to_file}: folder {to_file.parent} does not exist; "
            "fix: create it or write elsewhere"
        )
    target = to_file.parent.resolve() / to_file.name
    if target.is_relative_to(out.resolve()):
        raise ConfigError(
            f"{command}: --to {to_file}: is inside the output folder {out}, which this "
            "command only reads; fix: write the file outside OUT"
        )


@contextlib.contextmanager
def atomic_target(to_file: Path) -> Iterator[Path]:
    """A temporary path to write; moved onto ``to_file`` when the block succeeds, removed
    when it fails."""
    tmp = to_file.with_name(f".{to_file.name}.tmp")
    try:
        yield tmp
        os.replace(tmp, to_file)
    finally:
        tmp.unlink(missing_ok=True)


def write_text(text: str, to_file: Path) -> None:
    with atomic_target(to_file) as tmp:
        tmp.write_text(text, encoding="utf-8", newline="")


def write_bytes(data: bytes, to_file: Path) -> None:
    with atomic_target(to_file) as tmp:
        tmp.write_bytes(data)
