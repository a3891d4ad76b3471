"""The configuration a command loads once from IN: rate plans, grants, transfers and top-up
rules, and the sha256 that tells later commands whether it changed."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field

import polars as pl
import pyarrow as pa

from flexbatch.ingest.credit_inputs import inputs_sha256, load_grants, load_transfers
from flexbatch.ingest.rate_plans import load_rate_plans, plan_tables
from flexbatch.ingest.topup_rules import TOPUP_RULES_EMPTY, load_topup_rules, topups_file
from flexbatch.storage.stores import Store

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
    topup_rules: pl.DataFrame = field(default_factory=TOPUP_RULES_EMPTY.clear)

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
            topups = topups_file(folder)
            if topups is not None:  # absent: the digest of a configuration before top-ups
                digest.update(b"topups:" + hashlib.sha256(topups.read_bytes()).digest())
            grants = load_grants(folder)
            return cls(
                versions,
                tiers,
                grants,
                load_transfers(folder),
                digest.hexdigest(),
                load_topup_rules(folder, grants),
            )
