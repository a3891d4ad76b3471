"""Which grants, transfers and top-up rules files IN holds, and the sha256 of their bytes:
what a run records in ``runs.config_sha256`` (with the rate plans, ``job_config``) and ``status``
compares. Kept apart from reading and validating them (``credit_inputs``, Pandera), so
``status`` tells a changed configuration without loading a validation library."""

from __future__ import annotations

import hashlib
from pathlib import Path

from flexbatch.errors import ConfigError


def _input_file(input_root: Path, stem: str) -> Path | None:
    found = [p for ext in ("csv", "parquet") if (p := input_root / f"{stem}.{ext}").exists()]
    if len(found) > 1:
        raise ConfigError(f"{found[0]} and {found[1]}: both present; fix: keep only one of them")
    return found[0] if found else None


def grants_file(input_root: Path) -> Path | None:
    """IN/grants.csv or IN/grants.parquet; None if neither; ConfigError if both."""
    return _input_file(Path(input_root), "grants")


def transfers_file(input_root: Path) -> Path | None:
    """IN/transfers.csv or IN/transfers.parquet; None if neither; ConfigError if both."""
    return _input_file(Path(input_root), "transfers")


def topups_file(input_root: Path) -> Path | None:
    """IN/topups.csv or IN/topups.parquet (SPEC §10); None if neither; ConfigError if both."""
    return _input_file(Path(input_root), "topups")


def inputs_sha256(input_root: Path) -> dict[str, str]:
    """sha256 hex of the grants and transfers file bytes; "" for a file that is absent."""
    digests = {}
    for name, find in (("grants", grants_file), ("transfers", transfers_file)):
        path = find(input_root)
        try:
            digests[name] = "" if path is None else hashlib.sha256(path.read_bytes()).hexdigest()
        except OSError as exc:
            raise ConfigError(f"{path}: cannot read: {exc.strerror}; fix: check the path") from None
    return digests
