#!/usr/bin/env bash
# Install Debian packages for the tests, idempotently:  tests/apt-install.sh LABEL PACKAGE...
# Does nothing (and needs no network) when every PACKAGE is installed already.
#
# apt-get update runs only when the first install attempt fails (no or stale package
# lists). Daemons are not started by the install: if no /usr/sbin/policy-rc.d exists, a
# temporary one (exit 101) is put in place and removed afterwards; an existing one is
# left alone. The test fixtures start the servers they need themselves.
set -euo pipefail

label=$1
shift
packages=("$@")

missing=()
for pkg in "${packages[@]}"; do
    status=$(dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null || true)
    [[ $status == "install ok installed" ]] || missing+=("$pkg")
done
if ((${#missing[@]} == 0)); then
    echo "$label: all packages installed: ${packages[*]}"
    exit 0
fi

if ((EUID != 0)); then
    echo "$label: missing packages: ${missing[*]}; run this script as root" >&2
    exit 1
fi

policy=/usr/sbin/policy-rc.d
if [[ ! -e $policy ]]; then
    printf '#!/bin/sh\n# temporary, from wpwatch tests/apt-install.sh\nexit 101\n' >"$policy"
    chmod 755 "$policy"
    trap 'rm -f "$policy"' EXIT
fi

export DEBIAN_FRONTEND=noninteractive
apt_install() {
    apt-get install -y -q -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold \
        "${missing[@]}"
}
echo "$label: installing ${missing[*]}"
if ! apt_install; then
    echo "$label: install failed; running apt-get update and retrying" >&2
    apt-get update -q
    apt_install
fi
echo "$label: done"
