#!/usr/bin/env bash
# Install Debian's chromium for the report-safety browser test (tests/test_report_browser.py).
# Idempotent: does nothing (and needs no network) when it is installed already.
# apt-get update runs only when the first install attempt fails (no or stale package lists).
set -euo pipefail

if command -v chromium >/dev/null 2>&1; then
    echo "browser/install.sh: chromium installed: $(command -v chromium)"
    exit 0
fi
if ((EUID != 0)); then
    echo "browser/install.sh: chromium is missing; run this script as root" >&2
    exit 1
fi

export DEBIAN_FRONTEND=noninteractive
apt_install() {
    apt-get install -y -q -o Dpkg::Options::=--force-confdef \
        -o Dpkg::Options::=--force-confold chromium
}
echo "browser/install.sh: installing chromium"
if ! apt_install; then
    echo "browser/install.sh: install failed; running apt-get update and retrying" >&2
    apt-get update -q
    apt_install
fi
echo "browser/install.sh: done"
