#!/usr/bin/env bash
# Start the MariaDB server of the real-WordPress test stack. Idempotent.
#
# Everything lives in one state directory: $WPWATCH_WP_STATE, else <repo>/.wp/
#   my.cnf  mysql/ (datadir)  mysqld.sock  mysqld.pid  mysqld.log  sites/<port>/
# The server listens on the unix socket only (skip-networking). It runs as the
# calling user (root is fine: --user=root). The WordPress sites reach it as
# MariaDB user wordpress / password wordpress.
#
# Prints one line: "started <socket>" or "running <socket>" (already up).
# WordPress sites themselves are created and served by tests/wordpress.py
# (python -m tests.wordpress --help).
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
state=${WPWATCH_WP_STATE:-$here/../../.wp}
mkdir -p "$state"
state=$(cd "$state" && pwd)

sock=$state/mysqld.sock
pidfile=$state/mysqld.pid
datadir=$state/mysql
cnf=$state/my.cnf
log=$state/mysqld.log

if ((${#sock} > 100)); then   # sun_path holds 108 bytes
    echo "start.sh: socket path too long (${#sock} > 100): $sock; set WPWATCH_WP_STATE to a shorter directory" >&2
    exit 1
fi

# Is the server recorded in $pidfile alive? (checks it is our mariadbd, not a reused pid)
server_alive() {
    local pid
    pid=$(cat "$pidfile" 2>/dev/null) || return 1
    [[ -n $pid ]] && tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -qF -- "--defaults-file=$cnf"
}

if server_alive && mariadb-admin --defaults-file="$cnf" --connect-timeout=5 ping >/dev/null 2>&1; then
    echo "running $sock"
    exit 0
fi

user=$(id -un)
# Tuned for a throw-away test database: speed over durability (a crash may lose
# the last second of writes; a clean stop.sh loses nothing).
cat >"$cnf.tmp" <<CNF
[client]
socket = $sock
user = root

[mariadbd]
user = $user
datadir = $datadir
socket = $sock
pid-file = $pidfile
log-error = $log
skip-networking
skip-name-resolve
skip-log-bin
performance_schema = OFF
character-set-server = utf8mb4
collation-server = utf8mb4_unicode_ci
innodb_buffer_pool_size = 128M
innodb_log_file_size = 48M
innodb_flush_log_at_trx_commit = 0
innodb_doublewrite = 0
innodb_buffer_pool_dump_at_shutdown = 0
innodb_buffer_pool_load_at_startup = 0
max_connections = 100
CNF
mv "$cnf.tmp" "$cnf"

if [[ ! -d $datadir ]]; then
    # Initialise into a temporary directory and rename it, so an interrupted
    # initialisation is retried from scratch on the next run.
    rm -rf "$datadir.tmp"
    if ! mariadb-install-db --defaults-file="$cnf" --datadir="$datadir.tmp" --user="$user" \
            --auth-root-authentication-method=socket --skip-test-db --skip-name-resolve \
            >"$state/install-db.log" 2>&1; then
        echo "start.sh: mariadb-install-db failed; see $state/install-db.log:" >&2
        tail -n 20 "$state/install-db.log" >&2
        exit 1
    fi
    mv "$datadir.tmp" "$datadir"
fi

rm -f "$pidfile"   # stale (checked above)
# setsid + closed descriptors: the server must not hold a caller's pipe open.
setsid mariadbd --defaults-file="$cnf" </dev/null >>"$log" 2>&1 &
pid=$!

# Wait for the socket to answer (or the server to die), at most 60 s.
for ((i = 0; i < 600; i++)); do
    if mariadb-admin --defaults-file="$cnf" --connect-timeout=2 ping >/dev/null 2>&1; then
        break
    fi
    if ! kill -0 "$pid" 2>/dev/null; then
        echo "start.sh: mariadbd exited during start-up; last lines of $log:" >&2
        tail -n 20 "$log" >&2
        exit 1
    fi
    sleep 0.1
done
if ! mariadb-admin --defaults-file="$cnf" --connect-timeout=2 ping >/dev/null 2>&1; then
    echo "start.sh: mariadbd did not answer on $sock within 60 s; see $log" >&2
    exit 1
fi

# The account the WordPress sites use (socket-only server, so a fixed password is fine).
mariadb --defaults-file="$cnf" -e "
    CREATE USER IF NOT EXISTS 'wordpress'@'localhost' IDENTIFIED BY 'wordpress';
    GRANT ALL PRIVILEGES ON *.* TO 'wordpress'@'localhost';"

echo "started $sock"
