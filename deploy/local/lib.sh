# shellcheck shell=bash disable=SC2034  # variables used by the scripts that source this file
# Shared settings and helpers for the local stack scripts (install.sh, stack.sh, run.sh,
# test.sh). Source it; do not run it.

LOCAL_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO_ROOT="$(cd "$LOCAL_DIR/../.." && pwd)"

# shellcheck source=deploy/local/versions.env
source "$LOCAL_DIR/versions.env"

# --- locations --------------------------------------------------------------------------------
# Downloaded and built artefacts (kept by `make clean`).
CACHE_DIR="${CACHE_DIR:-$REPO_ROOT/.cache}"
case "$CACHE_DIR" in /*) ;; *) CACHE_DIR="$REPO_ROOT/$CACHE_DIR" ;; esac
KAFKA_HOME="$CACHE_DIR/kafka/$KAFKA_VERSION"
FERRETDB_BIN="$CACHE_DIR/bin/ferretdb"
POSTGRES_BIN="${POSTGRES_BIN:-/usr/lib/postgresql/$POSTGRES_MAJOR/bin}"

# Runtime state: data, logs, pid files (wiped by `make clean`).
STACK_DIR="${STACK_DIR:-var}"
case "$STACK_DIR" in /*) ;; *) STACK_DIR="$REPO_ROOT/$STACK_DIR" ;; esac
# Without "." and ".." parts or doubled slashes, the way pg_ctl spells the data directory on
# the postmaster's command line (component_marker relies on it); symlinks are kept.
STACK_DIR="$(realpath -ms -- "$STACK_DIR")"
export STACK_DIR
LOG_DIR="$STACK_DIR/log"
RUN_DIR="$STACK_DIR/run"

VENV="$REPO_ROOT/.venv"

# --- ports ------------------------------------------------------------------------------------
KAFKA_PORT="${KAFKA_PORT:-9092}"
KAFKA_CONTROLLER_PORT="${KAFKA_CONTROLLER_PORT:-9093}"
MONGO_PORT="${MONGO_PORT:-27017}"
POSTGRES_PORT="${POSTGRES_PORT:-5432}"
PROMETHEUS_PORT="${PROMETHEUS_PORT:-9090}"

# --- output -----------------------------------------------------------------------------------
if [[ -t 1 ]]; then
    _c_bold=$'\e[1m' _c_red=$'\e[31m' _c_yellow=$'\e[33m' _c_green=$'\e[32m' _c_off=$'\e[0m'
else
    _c_bold='' _c_red='' _c_yellow='' _c_green='' _c_off=''
fi
info() { printf '%s==>%s %s\n' "$_c_bold" "$_c_off" "$*"; }
ok()   { printf '%s ok%s %s\n' "$_c_green" "$_c_off" "$*"; }
warn() { printf '%swarning:%s %s\n' "$_c_yellow" "$_c_off" "$*" >&2; }
die()  { printf '%serror:%s %s\n' "$_c_red" "$_c_off" "$*" >&2; exit 1; }

# A path as the user would type it from the repository root.
rel() { local p="$1"; [[ "$p" == "$REPO_ROOT/"* ]] && p="${p#"$REPO_ROOT"/}"; printf '%s' "$p"; }

# --- processes and ports ----------------------------------------------------------------------
# True when something accepts TCP connections on 127.0.0.1:$1.
port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# Who listens on port $1, for error messages (best effort).
port_owner() {
    if command -v ss >/dev/null 2>&1; then
        ss -ltnpH "sport = :$1" 2>/dev/null | sed -n 's/.*users:(\(.*\))$/\1/p' | head -n1
    fi
    return 0
}

# A string only the command line of this STACK_DIR's component $1 contains.
component_marker() {
    case "$1" in
        kafka) printf '%s' "$STACK_DIR/kafka/server.properties" ;;
        postgres) printf '%s' "$STACK_DIR/postgres/data" ;;
        ferretdb) printf '%s' "--state-dir=$STACK_DIR/ferretdb/state" ;;
        prometheus) printf '%s' "$STACK_DIR/prometheus/data" ;;
    esac
}

# The pid recorded for component $1 if that process is alive and is ours (its command line
# has the component's marker, so a recycled pid or another stack's process never matches).
# PostgreSQL's postmaster also records itself in its data directory's postmaster.pid: that
# counts too, so a postmaster whose start was interrupted before $RUN_DIR/postgres.pid was
# written is still found (and stopped by `down`).
component_pid() {
    local pidfiles=("$RUN_DIR/$1.pid") pidfile pid cmdline marker
    [[ "$1" == postgres ]] && pidfiles+=("$STACK_DIR/postgres/data/postmaster.pid")
    marker="$(component_marker "$1")"
    for pidfile in "${pidfiles[@]}"; do
        [[ -f "$pidfile" ]] || continue
        pid="$(head -n1 "$pidfile" 2>/dev/null)" || continue
        [[ "$pid" =~ ^[0-9]+$ && -r "/proc/$pid/cmdline" ]] || continue
        cmdline="$(tr '\0' '\n' <"/proc/$pid/cmdline" 2>/dev/null)" || continue
        [[ "$cmdline" == *"$marker"* ]] || continue
        printf '%s' "$pid"
        return 0
    done
    return 1
}

# Ports recorded by the last `stack.sh up` of this STACK_DIR override the environment for
# status and down, so they act on what actually runs.
load_recorded_ports() {
    local f="$RUN_DIR/ports.env"
    # shellcheck disable=SC1090
    [[ -f "$f" ]] && source "$f"
    return 0
}
