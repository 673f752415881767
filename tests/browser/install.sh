#!/usr/bin/env bash
# What the browser tests need:
# - Debian's chromium (tests/test_report_browser.py, tests/test_wacz_browser.py) and
#   chromium-driver (Selenium: tests/test_web_browser.py);
# - ReplayWeb.page, the npm package `replaywebpage`, unpacked in tests/browser/replaywebpage/
#   (tests/test_wacz_browser.py serves its ui.js and sw.js from loopback), and Debian's
#   nodejs/npm to fetch it.
# Idempotent: does nothing (and needs no network) when all of it is there already.
# Debian packages go through tests/apt-install.sh (idempotent, apt-get update only on failure).
#
# The package is fetched with `npm pack` and unpacked, not `npm install`ed: its ui.js and
# sw.js are self-contained bundles, and its declared dependencies (what its own build
# needs) do not all resolve on the registry; nothing of them is used at run time.
set -euo pipefail

REPLAYWEBPAGE_VERSION=2.5.3
here=$(cd "$(dirname "$0")" && pwd)
target=$here/replaywebpage

bash "$here/../apt-install.sh" browser/install.sh chromium chromium-driver

installed=$(cat "$target/VERSION" 2>/dev/null || true)
if [[ $installed == "$REPLAYWEBPAGE_VERSION" && -f $target/ui.js && -f $target/sw.js ]]; then
    echo "browser/install.sh: replaywebpage $installed installed: $target"
    exit 0
fi
if ! command -v npm >/dev/null 2>&1; then
    bash "$here/../apt-install.sh" browser/install.sh nodejs npm
fi
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
echo "browser/install.sh: fetching replaywebpage@$REPLAYWEBPAGE_VERSION"
(cd "$work" && npm pack --silent "replaywebpage@$REPLAYWEBPAGE_VERSION" >/dev/null)
tar -xzf "$work/replaywebpage-$REPLAYWEBPAGE_VERSION.tgz" -C "$work"
rm -rf "$target"
mv "$work/package" "$target"
echo "$REPLAYWEBPAGE_VERSION" >"$target/VERSION"
echo "browser/install.sh: replaywebpage $REPLAYWEBPAGE_VERSION in $target"
