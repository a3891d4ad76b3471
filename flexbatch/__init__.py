"""flexbatch: nightly consumption-credit billing over partitioned Parquet usage logs."""

__version__ = "0.1.0"
