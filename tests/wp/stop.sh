#!/usr/bin/env bash
# Stop the real-WordPress test stack of a state directory ($WPWATCH_WP_STATE,
# else <repo>/.wp/): the php -S site servers recorded under sites/<port>/php.pid,
# then MariaDB (clean shutdown). Idempotent: stopping a stopped stack is a no-op.
#
# Prints "stopped" or "not running" for MariaDB.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
state=${WPWATCH_WP_STATE:-$here/../../.wp}
if [[ ! -d $state ]]; then
    echo "not running"
    exit 0
fi
state=$(cd "$state" && pwd)
cnf=$state/my.cnf
pidfile=$state/mysqld.pid

cmdline() { tr '\0' ' ' <"/proc/$1/cmdline" 2>/dev/null; }

# Is process $1 running? (a zombie awaiting its reaper counts as gone)
running() {
    local stat
    stat=$(cat "/proc/$1/stat" 2>/dev/null) || return 1
    stat=${stat##*) }
    [[ ${stat%% *} != Z ]]
}

# Wait until process $1 has gone, at most $2 twentieths of a second.
wait_gone() {
    local i
    for ((i = 0; i < $2; i++)); do
        running "$1" || return 0
        sleep 0.05
    done
    ! running "$1"
}

# php -S servers: each was started as the leader of its own process group
# (master + PHP_CLI_SERVER_WORKERS workers), so the group is signalled.
for pf in "$state"/sites/*/php.pid; do
    [[ -e $pf ]] || continue
    port=$(basename "$(dirname "$pf")")
    pid=$(cat "$pf" 2>/dev/null || true)
    if [[ -n $pid ]] && cmdline "$pid" | grep -qF -- "-S 127.0.0.1:$port "; then
        kill -TERM -- "-$pid" 2>/dev/null || true
        wait_gone "$pid" 100 || kill -KILL -- "-$pid" 2>/dev/null || true
        echo "stopped php -S on port $port"
    fi
    rm -f "$pf"
done

pid=$(cat "$pidfile" 2>/dev/null || true)
if [[ -z $pid ]] || ! cmdline "$pid" | grep -qF -- "--defaults-file=$cnf"; then
    rm -f "$pidfile"
    echo "not running"
    exit 0
fi
# SIGTERM is MariaDB's normal shutdown ("Normal shutdown" ... "Shutdown complete" in
# the log), like mariadb-admin shutdown, which however polls only once a second.
kill -TERM "$pid"
if ! wait_gone "$pid" 1200; then
    echo "stop.sh: mariadbd (pid $pid) did not stop within 60 s; see $state/mysqld.log" >&2
    exit 1
fi
echo "stopped"
