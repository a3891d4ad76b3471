"""Where the input and output live: command-line option, then ``FLEXBATCH_INPUT`` /
``FLEXBATCH_OUTPUT``, then ``[paths]`` in ``flexbatch.toml`` (SPEC §2); and the other
checks of the command line's boundary: the environment, the range of days the job can
process, and an OUT a failed command created and leaves empty."""

from __future__ import annotations

import contextlib
import os
import shutil
import tomllib
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from pathlib import Path

from flexbatch.errors import ConfigError
from flexbatch.storage.stores import Location, is_uri

CONFIG_FILE = "flexbatch.toml"
# Days the job computes: a day's window (the day after it), its 90-day alert window, the
# 365-day forecast horizon and the trailing 30-day burn rate must all be calendar days
# Python and Parquet readers represent (years 1..9999).
FIRST_DAY = date(1900, 1, 1)
LAST_DAY = date(9990, 12, 31)

# The OUT of the command being run, so the error handler can say where a disk filled up.
_current_output: Location | None = None


@dataclass(frozen=True)
class Paths:
    """A local folder each, or a Hadoop URI (kept as text) for ``run``, ``backfill`` and
    ``status`` with ``--engine spark``."""

    input: Location
    output: Location


def _config_file() -> Path:
    return Path(os.environ.get("FLEXBATCH_CONFIG", CONFIG_FILE))


def _toml_paths() -> dict[str, str]:
    path = _config_file()
    if not path.exists():
        return {}
    try:
        with path.open("rb") as f:
            doc = tomllib.load(f)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML ({exc}); fix: correct the syntax") from exc
    paths = doc.get("paths", {})
    if not isinstance(paths, dict):
        raise ConfigError(f"{path}: field 'paths' must be a table; fix: write [paths]")
    unknown = set(paths) - {"input", "output"}
    if unknown:
        raise ConfigError(
            f"{path}: field 'paths.{sorted(unknown)[0]}' is unknown; "
            "fix: use only 'input' and 'output'"
        )
    return {k: str(v) for k, v in paths.items()}


def _location(value: str) -> Location:
    return value.rstrip("/") if is_uri(value) else Path(value)


def resolve_path(option: str | None, key: str) -> Location:
    """One of ``input``/``output``, from the option, the environment or flexbatch.toml."""
    value = option or os.environ.get(f"FLEXBATCH_{key.upper()}") or _toml_paths().get(key)
    if value:
        return _location(value)
    raise ConfigError(
        f"--{key}: no {key} folder given; fix: pass --{key}, set FLEXBATCH_{key.upper()} "
        f'or write [paths] {key} = "..." in {CONFIG_FILE}'
    )


def resolve_paths(input_option: str | None, output_option: str | None) -> Paths:
    paths = Paths(resolve_path(input_option, "input"), resolve_path(output_option, "output"))
    _check_folder(paths.input, "input", must_exist=True)
    _check_folder(paths.output, "output", must_exist=False)
    return paths


def _check_folder(location: Location, key: str, *, must_exist: bool) -> None:
    """A local IN must be a folder; a local OUT a folder or not yet there (it is created)."""
    global _current_output
    if key == "output":
        _current_output = location
    if not isinstance(location, Path):
        return
    if location.exists() and not location.is_dir():
        raise ConfigError(
            f"--{key} {location}: is a file, not a folder; fix: give the {key} folder"
        )
    if must_exist and not location.exists():
        raise ConfigError(f"--{key} {location}: no such folder; fix: give the {key} folder")


def current_output() -> str | None:
    """The OUT of the command being run (for messages), or None before it is known."""
    return None if _current_output is None else str(_current_output)


def check_day(day: date, option: str) -> date:
    """A day the job can process (see FIRST_DAY/LAST_DAY)."""
    if not FIRST_DAY <= day <= LAST_DAY:
        raise ConfigError(
            f"{option} {day}: outside the days flexbatch processes ({FIRST_DAY} to "
            f"{LAST_DAY}); fix: give a day in that range"
        )
    return day


@contextlib.contextmanager
def removed_if_left_empty(paths: Paths) -> Iterator[None]:
    """A command that fails before it publishes anything leaves no OUT it created: the
    folder it made is removed again while no table has a partition in it (what is left
    is its lock and bookkeeping of days that were never published)."""
    out = paths.output
    created = isinstance(out, Path) and not out.exists()
    try:
        yield
    except BaseException:
        if created and isinstance(out, Path) and _holds_nothing(out):
            shutil.rmtree(out, ignore_errors=True)
        raise


def _holds_nothing(folder: Path) -> bool:
    from flexbatch.storage.stores import LocalStore
    from flexbatch.tables import TABLES

    store = LocalStore(folder)
    return not any(store.walk(spec.path, 1, dirs=True) for spec in TABLES)


def resolve_output(output_option: str | None) -> Path:
    """A local OUT, for the commands that read it with DuckDB (sql, report, export…)."""
    out = resolve_output_location(output_option)
    if not isinstance(out, Path):
        raise ConfigError(f"--output {out}: this command needs a local folder")
    return out


def resolve_output_location(output_option: str | None) -> Location:
    """OUT for the commands that read it with DuckDB (sql, report, export, explain,
    simulate): a local folder, or ``s3://`` (read through a local mirror of its tables)."""
    out = resolve_path(output_option, "output")
    _check_folder(out, "output", must_exist=False)
    if not isinstance(out, Path) and not str(out).startswith("s3://"):
        raise ConfigError(
            f"--output {out}: this command reads OUT with DuckDB and needs a local folder "
            "or s3://; fix: copy or mount OUT locally (hadoop fs -get) and pass that folder"
        )
    return out
