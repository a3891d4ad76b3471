"""Where the input and output live: command-line option, then ``FLEXBATCH_INPUT`` /
``FLEXBATCH_OUTPUT``, then ``[paths]`` in ``flexbatch.toml`` (SPEC §2)."""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass
from pathlib import Path

from flexbatch.errors import ConfigError
from flexbatch.storage.stores import Location, is_uri

CONFIG_FILE = "flexbatch.toml"


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
    return Paths(resolve_path(input_option, "input"), resolve_path(output_option, "output"))


def resolve_output(output_option: str | None) -> Path:
    """A local OUT, for the commands that read it with DuckDB (sql, report, export…)."""
    out = resolve_path(output_option, "output")
    if not isinstance(out, Path):
        raise ConfigError(
            f"--output {out}: this command reads OUT with DuckDB and needs a local folder; "
            "fix: copy or mount OUT locally (hadoop fs -get, s3 sync) and pass that folder"
        )
    return out
