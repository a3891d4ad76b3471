"""Fixtures: run the flexbatch CLI in-process, through ``main`` and its error handler."""

from __future__ import annotations

import sys
from dataclasses import dataclass

import pytest

from flexbatch import cli


@dataclass
class CliResult:
    exit_code: int
    stdout: str
    stderr: str


@pytest.fixture
def flexbatch(capsys, monkeypatch):
    """Run ``flexbatch ARGS`` in-process, through ``main`` and its error handler."""

    def invoke(*args: str) -> CliResult:
        monkeypatch.setattr(sys, "argv", ["flexbatch", *args])
        code = 0
        try:
            cli.main()
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else 1
        captured = capsys.readouterr()
        return CliResult(code, captured.out, captured.err)

    return invoke
