"""The configuration a command loads once from IN: rate plans, grants, transfers and top-up
rules, and the sha256 that tells later commands whether it changed."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from flexbatch.errors import ConfigError
from flexbatch.ingest.input_files import inputs_sha256, topups_file
from flexbatch.storage.stores import Store

if TYPE_CHECKING:
    import polars as pl
    import pyarrow as pa

RATE_PLANS = "rate_plans.toml"
CONFIG_FILES = (
    RATE_PLANS,
    *(f"{s}.{e}" for s in ("grants", "transfers", "topups") for e in ("csv", "parquet")),
)


@dataclass(frozen=True)
class JobConfig:
    """Everything a day needs besides its own events, loaded once per command."""

    plan_versions: pa.Table
    plan_tiers: pa.Table
    grants: pl.DataFrame
    transfers: pl.DataFrame
    config_sha256: str
    topup_rules: pl.DataFrame = field(default_factory=lambda: _no_topup_rules())

    @classmethod
    def load(cls, inputs: Store) -> JobConfig:
        """From IN's configuration files (a remote IN's through local copies; an error
        names the file where it lives)."""
        from flexbatch.ingest.credit_inputs import load_grants, load_transfers
        from flexbatch.ingest.rate_plans import load_rate_plans, plan_tables
        from flexbatch.ingest.topup_rules import load_topup_rules

        with inputs.config_folder(CONFIG_FILES) as folder:
            versions, tiers = plan_tables(load_rate_plans(folder / RATE_PLANS))
            grants = load_grants(folder)
            return cls(
                versions,
                tiers,
                grants,
                load_transfers(folder),
                _sha256(folder),
                load_topup_rules(folder, grants),
            )


def _no_topup_rules() -> pl.DataFrame:
    from flexbatch.ingest.topup_rules import TOPUP_RULES_EMPTY

    return TOPUP_RULES_EMPTY.clear()


def config_sha256(inputs: Store) -> str:
    """The sha256 ``JobConfig.load`` gives, from the files' bytes alone, nothing parsed or
    validated: what ``status`` compares with each day's run (a broken file is then
    "config changed" there, and exit 2 for the run that reads it)."""
    with inputs.config_folder(CONFIG_FILES) as folder:
        return _sha256(folder)


def _sha256(folder: Path) -> str:
    """sha256 of the rate plans' bytes, the grants and transfers files' digests and the
    top-up rules' bytes (when there are any)."""
    path = folder / RATE_PLANS
    try:
        digest = hashlib.sha256(path.read_bytes())
    except FileNotFoundError:  # as load_rate_plans says it
        raise ConfigError(f"{path}: file not found; fix: put rate_plans.toml there") from None
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read: {exc.strerror}; fix: check the path") from None
    for name, file_digest in sorted(inputs_sha256(folder).items()):
        digest.update(f"{name}:{file_digest}".encode())

    topups = topups_file(folder)
    if topups is not None:  # absent: the digest of a configuration before top-ups
        digest.update(b"topups:" + hashlib.sha256(topups.read_bytes()).digest())
    return digest.hexdigest()
