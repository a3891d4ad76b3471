"""What the code reads at run time and ships inside the package: the SQL of ``sql/`` (as
``flexbatch.sql``) and the sample data of ``data/`` (as ``flexbatch.sample``).

The repository keeps both at the top level; ``pyproject.toml`` maps them into the package,
so an editable checkout and an installed wheel find them the same way, through
``importlib.resources`` (never a path relative to this file).
"""

from __future__ import annotations

import shutil
from functools import cache
from importlib import resources
from importlib.resources.abc import Traversable
from pathlib import Path

SQL_PACKAGE = "flexbatch.sql"
SAMPLE_PACKAGE = "flexbatch.sample"


@cache
def _sql_index() -> dict[str, Traversable]:
    """Every ``*.sql`` file under ``flexbatch.sql``, by its name without the suffix (a step
    name is unique across the folders)."""
    index: dict[str, Traversable] = {}
    pending = [resources.files(SQL_PACKAGE)]
    while pending:
        folder = pending.pop()
        for entry in folder.iterdir():
            if entry.is_dir():
                pending.append(entry)
            elif entry.name.endswith(".sql"):
                name = entry.name.removesuffix(".sql")
                if name in index:
                    raise RuntimeError(f"two SQL files are named {entry.name}")
                index[name] = entry
    return index


def sql_names() -> list[str]:
    """The names of every shipped SQL file."""
    return sorted(_sql_index())


@cache
def sql_text(name: str) -> str:
    """The text of ``sql/**/<name>.sql``."""
    try:
        entry = _sql_index()[name]
    except KeyError:
        raise FileNotFoundError(f"no SQL file {name}.sql in {SQL_PACKAGE}") from None
    return entry.read_text(encoding="utf-8")


def sample_input(scratch: Path) -> Path:
    """A folder holding the bundled sample IN (usage/, rate_plans.toml, grants, transfers):
    the package folder itself when it is on disk, else a copy made under ``scratch``."""
    root = resources.files(SAMPLE_PACKAGE)
    if isinstance(root, Path):
        return root
    target = scratch / "sample-in"
    _copy_tree(root, target)
    return target


def _copy_tree(source: Traversable, target: Path) -> None:
    target.mkdir(parents=True, exist_ok=True)
    for entry in source.iterdir():
        if entry.is_dir():
            _copy_tree(entry, target / entry.name)
        elif not entry.name.endswith((".py", ".pyc")):
            with entry.open("rb") as src, (target / entry.name).open("wb") as dst:
                shutil.copyfileobj(src, dst)
