"""pyspark, imported without its warning: pyspark warns on import when pandas 3 is
installed next to it (a FutureWarning, three lines on stderr), which nothing a user can act
on and which would break the one-line-error rule of every command. Every flexbatch module
imports pyspark from here."""

from __future__ import annotations

import warnings

warnings.filterwarnings(
    "ignore", message="PySpark does not yet fully support pandas", category=FutureWarning
)

from pyspark.sql import DataFrame, SparkSession  # noqa: E402

__all__ = ["DataFrame", "SparkSession"]
