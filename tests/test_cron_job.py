"""jobs/nightly.sh, the cron entry point, with a stand-in flexbatch that records its
arguments and exits with chosen codes: late data first, the wait with its deadline, the
day; retries on exits 1 and 4 only; the failure hook; nothing from the working folder."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parent.parent / "jobs" / "nightly.sh"
DAY = "2026-09-02"
FAKE_BIN = """#!/usr/bin/env bash
echo "$*" >> "{calls}"
n=$(wc -l < "{calls}")
codes=({codes})
exit "${{codes[$((n - 1))]:-0}}"
"""
HOOK = """#!/usr/bin/env bash
echo "$*" >> "{hooked}"
"""


def nightly(tmp_path: Path, codes: list[int], *, partition: bool = True, **env: str):
    """Run nightly.sh from an unrelated working folder; returns (exit, calls, hook calls)."""
    calls, hooked = tmp_path / "calls.txt", tmp_path / "hooked.txt"
    fake, hook = tmp_path / "fake-flexbatch", tmp_path / "hook"
    fake.write_text(FAKE_BIN.format(calls=calls, codes=" ".join(map(str, codes))))
    hook.write_text(HOOK.format(hooked=hooked))
    fake.chmod(0o755)
    hook.chmod(0o755)
    inp = tmp_path / "in"
    if partition:
        (inp / "usage" / f"date={DAY}").mkdir(parents=True)
    home = tmp_path / "home"
    home.mkdir()
    variables = {
        "PATH": os.environ["PATH"],
        "FLEXBATCH_BIN": str(fake),
        "FLEXBATCH_DATE": DAY,
        "FLEXBATCH_INPUT": str(inp),
        "FLEXBATCH_OUTPUT": str(tmp_path / "out"),
        "FLEXBATCH_ON_FAILURE": str(hook),
        "FLEXBATCH_RETRY_DELAY": "0",
        "FLEXBATCH_WAIT_POKE": "1",
        "FLEXBATCH_WAIT_DEADLINE": "2",
        **env,
    }
    result = subprocess.run(
        ["bash", str(SCRIPT)], cwd=home, env=variables, capture_output=True, text=True, timeout=60
    )
    read = lambda p: p.read_text().splitlines() if p.exists() else []  # noqa: E731
    return result.returncode, read(calls), read(hooked)


SINCE = "--log-level info run --since-changed"
RUN = f"--log-level info run --date {DAY}"


def test_late_data_first_then_the_day(tmp_path):
    assert nightly(tmp_path, [0, 0]) == (0, [SINCE, RUN], [])


def test_exit_2_is_not_retried_and_calls_the_hook(tmp_path):
    assert nightly(tmp_path, [2]) == (2, [SINCE], [f"since_changed 2 {DAY}"])


@pytest.mark.parametrize("code", [1, 4])
def test_exits_1_and_4_are_retried(tmp_path, code):
    assert nightly(tmp_path, [0, code, code, 0]) == (0, [SINCE, RUN, RUN, RUN], [])


def test_retries_run_out(tmp_path):
    code, calls, hooked = nightly(tmp_path, [0, 4, 4, 4, 4, 4])
    assert (code, calls, hooked) == (4, [SINCE] + [RUN] * 4, [f"run 4 {DAY}"])


def test_the_wait_gives_up_at_its_deadline_with_exit_3(tmp_path):
    assert nightly(tmp_path, [0], partition=False) == (3, [SINCE], [f"wait 3 {DAY}"])


def test_a_relative_input_is_refused(tmp_path):
    code, calls, hooked = nightly(tmp_path, [0], FLEXBATCH_INPUT="in")
    assert (code, calls) == (2, [])
    assert hooked == [f"config 2 {DAY}"]
