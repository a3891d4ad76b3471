"""Where the benchmark prints: progress on stderr, tables on stdout (rich)."""

from __future__ import annotations

import sys
from typing import Any


def say(text: str) -> None:
    """A progress line on stderr (results go to stdout and the JSON file)."""
    print(text, file=sys.stderr, flush=True)


def console() -> Any:
    """A rich console: the terminal's width, or 140 columns when piped to a file (the
    results table with its load and note columns fits)."""
    from rich.console import Console

    return Console() if sys.stdout.isatty() else Console(width=140)
