"""The day's table writer: each table is sorted, validated against its Pandera model and
written into the day's generation on one background thread, in the order it was added, so
that this work on the charging tables overlaps the credit ledger's SQL on the main thread
(DuckDB and Polars release the GIL while they compute). A table too large to sort in
Python arrives as a Parquet file DuckDB sorted (``sorted_lazy``): it is validated and
streamed from that file, never held whole. Nothing is published here: the day publishes
once ``finish`` has every table."""

from __future__ import annotations

import logging
import time
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

import polars as pl
from pandera.config import ValidationDepth, config_context

from flexbatch.schemas import OUTPUT_MODELS
from flexbatch.storage.publish import DayStage

logger = logging.getLogger(__name__)

# a LazyFrame is collected (sorted) on the writer thread; a Path is a sorted Parquet file
Frame = pl.DataFrame | pl.LazyFrame | Path


class DayWriter:
    """Tables added are written into ``stage`` in order; ``finish`` waits for all of them
    and raises the first failure. Use as a context manager: leaving it on an error stops
    the tables not yet started (the generation stays uncommitted, and recovery deletes it)."""

    def __init__(self, stage: DayStage) -> None:
        self._stage = stage
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="flexbatch-writer")
        self._written: dict[str, Future[None]] = {}

    def __enter__(self) -> DayWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self._pool.shutdown(wait=True, cancel_futures=True)

    def add(self, table_path: str, frame: Frame) -> None:
        self._written[table_path] = self._pool.submit(self._write, table_path, frame)

    def finish(self) -> None:
        """Wait for every table, in the order added; raise the first failure."""
        for written in self._written.values():
            written.result()

    def _write(self, table_path: str, frame: Frame) -> None:
        started = time.perf_counter()
        if isinstance(frame, Path):
            self._stream(table_path, frame, started)
            return
        data = frame.collect() if isinstance(frame, pl.LazyFrame) else frame
        collected = time.perf_counter()
        OUTPUT_MODELS[table_path].validate(data)
        validated = time.perf_counter()
        self._stage.add(table_path, data)
        logger.debug(
            "wrote %s: %d rows, sorted %.3fs, validated %.3fs, written %.3fs",
            table_path,
            data.height,
            collected - started,
            validated - collected,
            time.perf_counter() - validated,
        )

    def _stream(self, table_path: str, path: Path, started: float) -> None:
        rows = pl.scan_parquet(path, glob=False)
        with config_context(validation_depth=ValidationDepth.SCHEMA_AND_DATA):
            OUTPUT_MODELS[table_path].validate(rows)  # each check reads only its columns
        validated = time.perf_counter()
        self._stage.add(table_path, rows)
        path.unlink()
        logger.debug(
            "wrote %s from %s: validated %.3fs, written %.3fs",
            table_path,
            path.name,
            validated - started,
            time.perf_counter() - validated,
        )
