#!/usr/bin/env bash
# CI: install Debian's headless-capable `chromium` for the report tests
# (tests/test_report.py renders the HTML report and screenshots it). Run by .ci/run
# from the repository root before pytest; a no-op when chromium is already installed.
# The report tests skip when chromium is absent and CI is unset, and fail when CI is set.
set -euo pipefail

if command -v chromium >/dev/null 2>&1; then
    echo "chromium present: $(chromium --version 2>/dev/null || echo unknown version)"
    exit 0
fi

SUDO=""
if [ "$(id -u)" -ne 0 ]; then
    SUDO="sudo"
fi

export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq chromium >/dev/null
echo "chromium installed: $(chromium --version 2>/dev/null || echo unknown version)"
