"""Settings: every ``FLEXBATCH_*`` knob of the job besides the paths, read once, at the
command line, into a frozen object that is passed down (no module reads the environment).

| variable | setting | default |
|---|---|---|
| ``FLEXBATCH_MEMORY_LIMIT`` | DuckDB's limit, days and books (it spills past it) | ``3GB`` |
| ``FLEXBATCH_WORK_DIR`` | local staging, spill and cache of a URI OUT | the temp folder |
| ``FLEXBATCH_LEASE_SECONDS`` | the lease on a URI OUT (renewed every third) | ``600`` |
| ``FLEXBATCH_SPARK_MASTER`` | Spark's master outside spark-submit | ``local[*]`` |
| ``FLEXBATCH_SPARK_DRIVER_MEMORY`` | the local driver's memory | ``4g`` |
| ``FLEXBATCH_PROVIDER_NAME`` | FOCUS ``ProviderName`` and publisher | ``flexbatch`` |
| ``FLEXBATCH_METRICS_FILE`` | the Prometheus textfile a run rewrites | none |
| ``FLEXBATCH_CLOSE_AFTER_DAYS`` | run/backfill close months N days after their end | never |

Paths (``FLEXBATCH_INPUT``, ``FLEXBATCH_OUTPUT``, ``FLEXBATCH_CONFIG``) are resolved by
:mod:`flexbatch.config`; the engine (``FLEXBATCH_ENGINE``) is an option of the CLI.
"""

from __future__ import annotations

import os
import re
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from flexbatch.errors import ConfigError

# DuckDB's size syntax: a number and a unit (KB, MiB, GB, ...) or a percentage of RAM
MEMORY_SIZE = re.compile(r"\s*[0-9]+(\.[0-9]+)?\s*([KMGT]i?B|B|bytes|%)\s*", re.IGNORECASE)
SPARK_SIZE = re.compile(r"[0-9]+[kmgt]?", re.IGNORECASE)


@dataclass(frozen=True)
class Settings:
    memory_limit: str = "3GB"
    work_dir: Path = field(default_factory=lambda: Path(tempfile.gettempdir()))
    lease_seconds: int = 600
    spark_master: str = "local[*]"
    spark_driver_memory: str = "4g"
    provider_name: str = "flexbatch"
    metrics_file: Path | None = None
    close_after_days: int | None = None  # the unattended close's grace period (SPEC §8)

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        """The settings the environment gives; a value that cannot work is exit 2 naming
        the variable and the fix, before anything runs."""
        env = os.environ if env is None else env
        default = cls()

        def get(name: str) -> str | None:
            value = env.get(f"FLEXBATCH_{name}", "").strip()
            return value or None

        memory = get("MEMORY_LIMIT") or default.memory_limit
        _check(MEMORY_SIZE.fullmatch(memory), "MEMORY_LIMIT", memory, "a size such as 3GB")
        lease = get("LEASE_SECONDS") or str(default.lease_seconds)
        _check(lease.isdigit() and int(lease) >= 3, "LEASE_SECONDS", lease, "whole seconds ≥ 3")
        driver = get("SPARK_DRIVER_MEMORY") or default.spark_driver_memory
        _check(SPARK_SIZE.fullmatch(driver), "SPARK_DRIVER_MEMORY", driver, "a size such as 4g")
        metrics = get("METRICS_FILE")
        close_after = get("CLOSE_AFTER_DAYS")
        if close_after is not None:
            _check(close_after.isdigit(), "CLOSE_AFTER_DAYS", close_after, "whole days ≥ 0")
        return cls(
            memory_limit=memory,
            work_dir=Path(get("WORK_DIR") or default.work_dir),
            lease_seconds=int(lease),
            spark_master=get("SPARK_MASTER") or default.spark_master,
            spark_driver_memory=driver,
            provider_name=get("PROVIDER_NAME") or default.provider_name,
            metrics_file=Path(metrics) if metrics else None,
            close_after_days=int(close_after) if close_after is not None else None,
        )


def _check(ok: object, name: str, value: str, expected: str) -> None:
    if not ok:
        raise ConfigError(
            f"FLEXBATCH_{name}={value!r} is not valid; fix: set it to {expected}, or unset it "
            "for the default"
        )
