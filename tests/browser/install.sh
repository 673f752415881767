#!/usr/bin/env bash
# Install Debian's chromium for the report-safety browser test (tests/test_report_browser.py)
# and chromium-driver for the workspace's Selenium test (tests/test_web_browser.py).
# Idempotent: does nothing (and needs no network) when it is installed already.
# apt-get update runs only when the first install attempt fails (no or stale package lists).
set -euo pipefail

if command -v chromium >/dev/null 2>&1 && command -v chromedriver >/dev/null 2>&1; then
    echo "browser/install.sh: chromium and chromedriver installed: $(command -v chromium)"
    exit 0
fi
if ((EUID != 0)); then
    echo "browser/install.sh: chromium or chromedriver is missing; run this script as root" >&2
    exit 1
fi

export DEBIAN_FRONTEND=noninteractive
apt_install() {
    apt-get install -y -q -o Dpkg::Options::=--force-confdef \
        -o Dpkg::Options::=--force-confold chromium chromium-driver
}
echo "browser/install.sh: installing chromium and chromium-driver"
if ! apt_install; then
    echo "browser/install.sh: install failed; running apt-get update and retrying" >&2
    apt-get update -q
    apt_install
fi
echo "browser/install.sh: done"
