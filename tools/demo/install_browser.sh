#!/usr/bin/env bash
# Headless Chromium and its driver from Debian, for tests/e2e/test_browser.py.
# Idempotent: does nothing when both are already installed. Needs root (or sudo) for apt-get.
set -euo pipefail

if [[ -x /usr/bin/chromium && -x /usr/bin/chromedriver ]]; then
    echo "chromium and chromedriver already installed"
    exit 0
fi

SUDO=""
if [[ $(id -u) -ne 0 ]]; then
    SUDO="sudo"
fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -q
$SUDO apt-get install -y -q --no-install-recommends chromium chromium-driver fonts-noto-cjk
/usr/bin/chromium --version
/usr/bin/chromedriver --version
