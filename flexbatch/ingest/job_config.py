"""The configuration a command loads once from IN: rate plans, grants and transfers, and
the sha256 that tells later commands whether it changed."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import polars as pl
import pyarrow as pa

from flexbatch.ingest.credit_inputs import inputs_sha256, load_grants, load_transfers
from flexbatch.ingest.rate_plans import load_rate_plans, plan_tables
from flexbatch.storage.stores import Store

RATE_PLANS = "rate_plans.toml"
CONFIG_FILES = (
    RATE_PLANS,
    *(f"{s}.{e}" for s in ("grants", "transfers") for e in ("csv", "parquet")),
)


@dataclass(frozen=True)
class JobConfig:
    """Everything a day needs besides its own events, loaded once per command."""

    plan_versions: pa.Table
    plan_tiers: pa.Table
    grants: pl.DataFrame
    transfers: pl.DataFrame
    config_sha256: str

    @classmethod
    def load(cls, inputs: Store) -> JobConfig:
        """From IN's configuration files (a remote IN's through local copies; an error
        names the file where it lives)."""
        with inputs.config_folder(CONFIG_FILES) as folder:
            path = folder / RATE_PLANS
            versions, tiers = plan_tables(load_rate_plans(path))
            digest = hashlib.sha256(path.read_bytes())
            for name, file_digest in sorted(inputs_sha256(folder).items()):
                digest.update(f"{name}:{file_digest}".encode())
            return cls(
                versions, tiers, load_grants(folder), load_transfers(folder), digest.hexdigest()
            )
