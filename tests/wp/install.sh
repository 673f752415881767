#!/usr/bin/env bash
# Install the Debian packages the real-WordPress tests need (idempotent; see
# tests/apt-install.sh). tests/wp/start.sh runs its own MariaDB; apache2 (pulled in by
# the wordpress package) is never used.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
exec bash "$here/../apt-install.sh" wp/install.sh \
    wordpress mariadb-server php-cli php-mysql php-xml php-mbstring
