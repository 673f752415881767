#!/usr/bin/env bash
# Install Debian's postgresql for the PostgreSQL archive tests (idempotent; see
# tests/apt-install.sh). tests/postgres.py starts its own throw-away server on 127.0.0.1;
# the cluster the package makes is never used.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
exec bash "$here/../apt-install.sh" pg/install.sh postgresql
