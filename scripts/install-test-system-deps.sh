#!/usr/bin/env bash
# System packages the tests need beyond the Python ones: Debian's chromium, which the web UI's browser test
# drives with Playwright (Playwright never downloads a browser of its own here). Does nothing if it is there.
set -euo pipefail
if command -v chromium >/dev/null 2>&1; then
    exit 0
fi
if ! command -v apt-get >/dev/null 2>&1; then
    echo "install-test-system-deps: no apt-get here; install Chromium so that 'chromium' is on PATH" >&2
    exit 1
fi
SUDO=""
if [ "$(id -u)" -ne 0 ]; then
    SUDO="sudo"
fi
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends chromium
