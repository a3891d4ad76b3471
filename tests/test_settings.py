"""Settings: the environment read once into a frozen object, each bad value refused."""

from __future__ import annotations

from pathlib import Path

import pytest

from flexbatch.errors import ConfigError
from flexbatch.settings import Settings


def test_defaults_when_nothing_is_set_or_a_variable_is_empty():
    assert Settings.from_env({}) == Settings()
    assert Settings.from_env({"FLEXBATCH_MEMORY_LIMIT": " ", "FLEXBATCH_METRICS_FILE": ""}) == (
        Settings()
    )


def test_every_variable_is_read():
    env = {
        "FLEXBATCH_MEMORY_LIMIT": "2500MiB",
        "FLEXBATCH_WORK_DIR": "/scratch",
        "FLEXBATCH_LEASE_SECONDS": "90",
        "FLEXBATCH_SPARK_MASTER": "yarn",
        "FLEXBATCH_SPARK_DRIVER_MEMORY": "8g",
        "FLEXBATCH_PROVIDER_NAME": "Acme Cloud",
        "FLEXBATCH_METRICS_FILE": "/var/lib/node_exporter/flexbatch.prom",
    }
    assert Settings.from_env(env) == Settings(
        memory_limit="2500MiB",
        work_dir=Path("/scratch"),
        lease_seconds=90,
        spark_master="yarn",
        spark_driver_memory="8g",
        provider_name="Acme Cloud",
        metrics_file=Path("/var/lib/node_exporter/flexbatch.prom"),
    )


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("MEMORY_LIMIT", "lots"),
        ("LEASE_SECONDS", "2"),
        ("LEASE_SECONDS", "ten"),
        ("SPARK_DRIVER_MEMORY", "4 GB"),
    ],
)
def test_a_value_that_cannot_work_names_the_variable_and_the_fix(name, value):
    with pytest.raises(ConfigError, match=rf"FLEXBATCH_{name}='{value}' is not valid; fix: "):
        Settings.from_env({f"FLEXBATCH_{name}": value})


def test_settings_are_frozen():
    with pytest.raises(AttributeError):
        Settings().memory_limit = "1GB"  # type: ignore[misc]
