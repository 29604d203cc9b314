#!/usr/bin/env bash
# The local stack on loopback, without Docker: Kafka (KRaft, one node), PostgreSQL, FerretDB
# (MongoDB wire protocol, stored in that PostgreSQL) and Prometheus, each a background process
# of this STACK_DIR.
#
#   stack.sh up       start what is not running, wait until healthy, ensure the Kafka topics
#   stack.sh down     stop everything (PostgreSQL: pg_ctl stop -m fast; then TERM, then KILL
#                     after a timeout)
#   stack.sh status   show each component; exit 0 only when all are healthy
#
# `up` and `down` take component names (kafka postgres ferretdb prometheus) to start or stop
# only those, e.g. `stack.sh down kafka` to take the broker away and `stack.sh up kafka` to
# bring it back; the others keep running.
#
# Environment: STACK_DIR (default var), KAFKA_PORT (9092), KAFKA_CONTROLLER_PORT (9093),
# MONGO_PORT (27017), POSTGRES_PORT (5432), PROMETHEUS_PORT (9090), KAFKA_HEAP_OPTS
# (-Xms128m -Xmx512m), FERRETDB_DEBUG_ADDR (- = off). Run deploy/local/install.sh first (make
# install does).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

# In start order: PostgreSQL must be up (with its database) before FerretDB starts.
COMPONENTS=(kafka postgres ferretdb prometheus)
PROBE=(python3 "$LOCAL_DIR/probe.py")

# Seconds to wait for each component to become healthy, and to stop.
WAIT_KAFKA="${STACK_WAIT_KAFKA:-90}"
WAIT_POSTGRES="${STACK_WAIT_POSTGRES:-30}"
WAIT_FERRETDB="${STACK_WAIT_FERRETDB:-30}"
WAIT_PROMETHEUS="${STACK_WAIT_PROMETHEUS:-30}"
STOP_TIMEOUT="${STACK_STOP_TIMEOUT:-30}"

KAFKA_HEAP_OPTS="${KAFKA_HEAP_OPTS:--Xms128m -Xmx512m}"
KAFKA_JVM_OPTS="${KAFKA_JVM_OPTS:--XX:+UseG1GC -XX:MaxGCPauseMillis=20 -XX:InitiatingHeapOccupancyPercent=35 -XX:+ExplicitGCInvokesConcurrent -XX:+ExitOnOutOfMemoryError -Djava.awt.headless=true}"
FERRETDB_DEBUG_ADDR="${FERRETDB_DEBUG_ADDR:--}"
PROMETHEUS_CONFIG="$REPO_ROOT/deploy/prometheus/prometheus.local.yml"
# FerretDB keeps everything in this database of the stack's PostgreSQL.
POSTGRES_DB=ferretdb

java_bin() {
    if [[ -n "${JAVA_HOME:-}" && -x "$JAVA_HOME/bin/java" ]]; then echo "$JAVA_HOME/bin/java"; else echo java; fi
}

# --- per-component facts ----------------------------------------------------------------------
ports_of() {
    case "$1" in
        kafka) echo "$KAFKA_PORT $KAFKA_CONTROLLER_PORT" ;;
        postgres) echo "$POSTGRES_PORT" ;;
        ferretdb) echo "$MONGO_PORT" ;;
        prometheus) echo "$PROMETHEUS_PORT" ;;
    esac
}

# PostgreSQL is healthy when it accepts connections (pg_isready: 0 = accepting, 1 = rejecting,
# e.g. still starting or recovering, 2 = no answer). Printed like probe.py's lines.
probe_postgres() {
    local out
    out="$("$POSTGRES_BIN/pg_isready" -h 127.0.0.1 -p "$POSTGRES_PORT" -U postgres -d postgres -t 3 2>&1)" || {
        echo "postgres 127.0.0.1:$POSTGRES_PORT: ${out##* - }" >&2
        return 1
    }
    echo "postgres 127.0.0.1:$POSTGRES_PORT: ${out##* - }"
}

probe() {
    case "$1" in
        kafka) "${PROBE[@]}" kafka "127.0.0.1:$KAFKA_PORT" ;;
        postgres) probe_postgres ;;
        ferretdb) "${PROBE[@]}" mongo "127.0.0.1:$MONGO_PORT" ;;
        prometheus) "${PROBE[@]}" http "http://127.0.0.1:$PROMETHEUS_PORT/-/ready" ;;
    esac
}

wait_limit() {
    case "$1" in
        kafka) echo "$WAIT_KAFKA" ;;
        postgres) echo "$WAIT_POSTGRES" ;;
        ferretdb) echo "$WAIT_FERRETDB" ;;
        prometheus) echo "$WAIT_PROMETHEUS" ;;
    esac
}

# --- starting ---------------------------------------------------------------------------------
# Run "$@" detached (own session, no terminal), output appended to the component's log, pid
# recorded. setsid execs in place here (the shell's background child is no group leader), so
# $! is the component's own pid.
spawn() {
    local name="$1"; shift
    {
        printf '\n=== %s starting %s (pid file %s)\n' "$(date -Is)" "$name" "$(rel "$RUN_DIR/$name.pid")"
        printf '=== %s\n' "$*"
    } >>"$LOG_DIR/$name.log"
    setsid "$@" </dev/null >>"$LOG_DIR/$name.log" 2>&1 &
    echo $! >"$RUN_DIR/$name.pid"
}

check_ports_free() {
    local name="$1" port owner
    for port in $(ports_of "$name"); do
        if port_open "$port"; then
            owner="$(port_owner "$port")"
            die "cannot start $name: port $port is already in use${owner:+ by $owner}; stop that process, or pick other ports (KAFKA_PORT, KAFKA_CONTROLLER_PORT, MONGO_PORT, POSTGRES_PORT, PROMETHEUS_PORT)"
        fi
    done
}

start_kafka() {
    local lib="$KAFKA_HOME/lib" dir="$STACK_DIR/kafka" java
    [[ -f "$lib/kafka_2.13-$KAFKA_VERSION.jar" ]] || die "Kafka $KAFKA_VERSION is not installed in $(rel "$lib"); run: make install"
    java="$(java_bin)"
    mkdir -p "$dir/data"
    sed -e "s|@KAFKA_PORT@|$KAFKA_PORT|g" \
        -e "s|@KAFKA_CONTROLLER_PORT@|$KAFKA_CONTROLLER_PORT|g" \
        -e "s|@KAFKA_DATA_DIR@|$dir/data|g" \
        "$LOCAL_DIR/kafka/server.properties.in" >"$dir/server.properties"
    local logcfg="-Dlog4j2.configurationFile=$LOCAL_DIR/kafka/log4j2.properties"

    # Format the storage once; the cluster id lives in data/meta.properties (and cluster.id).
    if [[ ! -f "$dir/data/meta.properties" ]]; then
        # A cluster id is 16 random bytes, base64url without padding (what `kafka-storage.sh
        # random-uuid` prints), never starting with "-".
        [[ -s "$dir/cluster.id" ]] || python3 -c 'import base64, uuid
while (cid := base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")).startswith("-"): pass
print(cid)' >"$dir/cluster.id"
        info "formatting Kafka storage in $(rel "$dir/data") (cluster id $(<"$dir/cluster.id"))"
        "$java" "$logcfg" -cp "$lib/*" kafka.tools.StorageTool format --standalone \
            -t "$(<"$dir/cluster.id")" -c "$dir/server.properties" >>"$LOG_DIR/kafka.log" 2>&1 \
            || die "formatting Kafka storage failed, see $(rel "$LOG_DIR/kafka.log")"
    fi

    # shellcheck disable=SC2086  # the option strings are word lists
    spawn kafka "$java" $KAFKA_HEAP_OPTS $KAFKA_JVM_OPTS "$logcfg" \
        -Dkafka.logs.dir="$LOG_DIR" -cp "$lib/*" kafka.Kafka "$dir/server.properties"
}

# PostgreSQL refuses to run as root: as root, its programs run as the `postgres` system user
# (made by the Debian package), which owns the data and socket directories and nothing else
# in STACK_DIR. As any other user they run as that user, who then owns those directories.
as_postgres() {
    if [[ $EUID -eq 0 ]]; then
        (cd / && runuser -u postgres -- "$@")
    else
        (cd / && "$@")
    fi
}

# A directory of root's that the postgres user writes to.
give_to_postgres() {
    [[ $EUID -eq 0 ]] && chown postgres:postgres "$@"
    chmod 700 "$@"
}

# Settings on the postmaster's command line, so that they follow the ports and STACK_DIR of
# each start (like Kafka's server.properties); the data directory's postgresql.conf is
# initdb's, untouched. Durable: fsync and synchronous_commit stay on. Logging goes to stderr,
# which is the stack's log/postgres.log.
postgres_options() {
    local dir="$STACK_DIR/postgres"
    printf '%s ' \
        "-c listen_addresses=127.0.0.1" "-c port=$POSTGRES_PORT" \
        "-c unix_socket_directories='$dir/run'" \
        "-c fsync=on" "-c synchronous_commit=on" "-c full_page_writes=on" \
        "-c shared_buffers=128MB" "-c max_connections=200" \
        "-c logging_collector=off" "-c log_destination=stderr"
}

start_postgres() {
    [[ -x "$POSTGRES_BIN/postgres" && -x "$POSTGRES_BIN/pg_ctl" ]] \
        || die "PostgreSQL $POSTGRES_MAJOR is not installed in $POSTGRES_BIN; run: make install"
    if [[ $EUID -eq 0 ]]; then
        id -u postgres >/dev/null 2>&1 \
            || die "there is no postgres system user (the postgresql-$POSTGRES_MAJOR package makes it); run: make install"
    fi
    local dir="$STACK_DIR/postgres" log="$LOG_DIR/postgres.log"
    [[ "$dir" != *[[:space:]\'\"]* ]] || die "STACK_DIR must not contain blanks or quotes for PostgreSQL: $dir"
    mkdir -p "$dir/run"
    give_to_postgres "$dir/run"
    as_postgres test -w "$dir/run" \
        || die "the postgres user cannot reach $dir; every directory above it needs o+x (e.g. chmod o+x $(dirname "$REPO_ROOT"))"

    # Create the cluster once, in a scratch directory first so that an interrupted initdb
    # leaves nothing that looks like a cluster.
    if [[ ! -f "$dir/data/PG_VERSION" ]]; then
        info "creating the PostgreSQL $POSTGRES_MAJOR cluster in $(rel "$dir/data")"
        rm -rf "$dir/data.init" "$dir/data"
        mkdir -p "$dir/data.init"
        give_to_postgres "$dir/data.init"
        printf '\n=== %s initdb\n' "$(date -Is)" >>"$log"
        as_postgres "$POSTGRES_BIN/initdb" -D "$dir/data.init" -A trust -U postgres \
            --encoding=UTF8 --locale=C.UTF-8 --no-instructions >>"$log" 2>&1 \
            || die "initdb failed, see $(rel "$log")"
        mv "$dir/data.init" "$dir/data"
    fi
    local made_by
    made_by="$(<"$dir/data/PG_VERSION")"
    [[ "$made_by" == "$POSTGRES_MAJOR" ]] \
        || die "$(rel "$dir/data") was made by PostgreSQL $made_by, this stack runs $POSTGRES_MAJOR: delete $(rel "$dir") (its databases are lost) or run make clean"

    # pg_ctl forks the postmaster into a session of its own, with pg_ctl's output (this log,
    # opened here by root) as its stderr, and waits until it accepts connections.
    {
        printf '\n=== %s starting postgres (pid file %s)\n' "$(date -Is)" "$(rel "$RUN_DIR/postgres.pid")"
        printf '=== pg_ctl start -D %s -o "%s"\n' "$dir/data" "$(postgres_options)"
    } >>"$log"
    if ! as_postgres setsid -w "$POSTGRES_BIN/pg_ctl" start -D "$dir/data" -s -w \
            -t "$WAIT_POSTGRES" -o "$(postgres_options)" </dev/null >>"$log" 2>&1; then
        tail -n 20 "$log" >&2 || true
        die "postgres did not start, see $(rel "$log") (last lines above)"
    fi
    head -n1 "$dir/data/postmaster.pid" >"$RUN_DIR/postgres.pid"
}

# The database FerretDB stores everything in, created once.
ensure_database() {
    local psql=("$POSTGRES_BIN/psql" -X -q -tA -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$POSTGRES_PORT" -U postgres)
    local found out
    found="$("${psql[@]}" -d postgres -c "SELECT 1 FROM pg_database WHERE datname = '$POSTGRES_DB'" 2>&1)" \
        || die "cannot query PostgreSQL on 127.0.0.1:$POSTGRES_PORT: $found"
    if [[ "$found" != 1 ]]; then
        out="$("${psql[@]}" -d postgres -c "CREATE DATABASE $POSTGRES_DB" 2>&1)" \
            || die "creating the PostgreSQL database $POSTGRES_DB failed: $out"
        ok "postgres: database $POSTGRES_DB created"
    fi
    # Indexes FerretDB's finds can use (see the file); idempotent, so applied at every start.
    out="$("${psql[@]}" -d "$POSTGRES_DB" -f "$LOCAL_DIR/postgres/gin-twins.sql" 2>&1)" \
        || die "applying deploy/local/postgres/gin-twins.sql failed: $out"
}

start_ferretdb() {
    [[ -x "$FERRETDB_BIN" ]] || die "FerretDB is not installed in $(rel "$FERRETDB_BIN"); run: make install"
    local dir="$STACK_DIR/ferretdb"
    mkdir -p "$dir/state"
    spawn ferretdb "$FERRETDB_BIN" \
        --handler=postgresql \
        --postgresql-url="postgres://postgres@127.0.0.1:$POSTGRES_PORT/$POSTGRES_DB" \
        --listen-addr="127.0.0.1:$MONGO_PORT" \
        --state-dir="$dir/state" --telemetry=disable \
        --debug-addr="$FERRETDB_DEBUG_ADDR" --log-level="${FERRETDB_LOG_LEVEL:-info}"
}

start_prometheus() {
    command -v prometheus >/dev/null || die "prometheus is not installed; run: make install"
    local dir="$STACK_DIR/prometheus" out
    mkdir -p "$dir/data"
    out="$(promtool check config "$PROMETHEUS_CONFIG" 2>&1)" \
        || die "$(rel "$PROMETHEUS_CONFIG") is invalid:"$'\n'"$out"
    spawn prometheus prometheus \
        --config.file="$PROMETHEUS_CONFIG" \
        --storage.tsdb.path="$dir/data" \
        --storage.tsdb.retention.time=7d \
        --web.listen-address="127.0.0.1:$PROMETHEUS_PORT" \
        --web.enable-lifecycle
}

# Wait until component $1 answers its probe; fail early if its process dies.
wait_healthy() {
    local name="$1" limit start pid
    limit="$(wait_limit "$name")"
    start=$SECONDS
    while ! probe "$name" >/dev/null 2>&1; do
        if ! pid="$(component_pid "$name")"; then
            tail -n 20 "$LOG_DIR/$name.log" >&2 || true
            die "$name exited during start-up, see $(rel "$LOG_DIR/$name.log") (last lines above)"
        fi
        if (( SECONDS - start >= limit )); then
            die "$name not ready after $limit s, see $(rel "$LOG_DIR/$name.log")"
        fi
        sleep 0.5
    done
    ok "$name ready ($(( SECONDS - start )) s, pid $(component_pid "$name"), port $(ports_of "$name" | tr ' ' '/'))"
}

ensure_topics() {
    local py="$VENV/bin/python"
    if [[ ! -x "$py" ]] || ! (cd "$REPO_ROOT" && "$py" -c 'import importlib.util as u, sys; sys.exit(0 if u.find_spec("shared.kafka") else 1)' 2>/dev/null); then
        warn "topics not ensured: $(rel "$py") -m shared.kafka is not available yet (run: make install)"
        return
    fi
    local out
    out="$(cd "$REPO_ROOT" && KAFKA_BOOTSTRAP_SERVERS="127.0.0.1:$KAFKA_PORT" "$py" -m shared.kafka ensure-topics 2>&1)" \
        || die "creating Kafka topics failed (python -m shared.kafka ensure-topics):"$'\n'"$out"
    local line
    while IFS= read -r line; do
        [[ "$line" != "differs: "* ]] || warn "kafka topic ${line#differs: }"
    done <<<"$out"
    ok "kafka topics: ${out##*$'\n'}"
}

# The components named on the command line ("$@"), in start order; all of them when none is.
select_components() {
    local name wanted chosen=()
    for wanted in "$@"; do
        [[ " ${COMPONENTS[*]} " == *" $wanted "* ]] \
            || die "unknown component: $wanted (one of: ${COMPONENTS[*]})"
    done
    for name in "${COMPONENTS[@]}"; do
        if [[ $# -eq 0 || " $* " == *" $name "* ]]; then chosen+=("$name"); fi
    done
    echo "${chosen[*]}"
}

cmd_up() {
    local selected
    selected="$(select_components "$@")" || exit 1
    mkdir -p "$LOG_DIR" "$RUN_DIR"
    # Components already running keep the ports they were started with.
    local name running=0
    for name in "${COMPONENTS[@]}"; do
        component_pid "$name" >/dev/null && running=1
    done
    [[ $running -eq 1 ]] && load_recorded_ports
    # Recorded before anything starts, so that `down` after a failed `up` waits for the right
    # ports.
    cat >"$RUN_DIR/ports.env" <<EOF
KAFKA_PORT=$KAFKA_PORT
KAFKA_CONTROLLER_PORT=$KAFKA_CONTROLLER_PORT
MONGO_PORT=$MONGO_PORT
POSTGRES_PORT=$POSTGRES_PORT
PROMETHEUS_PORT=$PROMETHEUS_PORT
EOF
    local started=()
    for name in $selected; do
        if ! component_pid "$name" >/dev/null; then
            check_ports_free "$name"
            "start_$name"
            started+=("$name")
        fi
        # FerretDB needs PostgreSQL and its database before it starts; Kafka, started first,
        # boots meanwhile.
        if [[ "$name" == postgres ]]; then
            wait_healthy postgres
            ensure_database
        fi
    done
    [[ ${#started[@]} -gt 0 ]] && info "started: ${started[*]} (state in $(rel "$STACK_DIR"))"
    for name in $selected; do
        [[ "$name" == postgres ]] || wait_healthy "$name"
    done
    [[ " $selected " != *" kafka "* ]] || ensure_topics
    info "stack up: KAFKA_BOOTSTRAP_SERVERS=127.0.0.1:$KAFKA_PORT MONGODB_URI=mongodb://127.0.0.1:$MONGO_PORT PostgreSQL 127.0.0.1:$POSTGRES_PORT Prometheus http://127.0.0.1:$PROMETHEUS_PORT"
}

# --- stopping ---------------------------------------------------------------------------------
stop_component() {
    local name="$1" pid start port
    if ! pid="$(component_pid "$name")"; then
        rm -f "$RUN_DIR/$name.pid"
        return
    fi
    start=$SECONDS
    if [[ "$name" == postgres ]]; then
        # Fast shutdown: disconnect the clients, checkpoint, exit. TERM below (smart shutdown)
        # and KILL only when that fails.
        as_postgres "$POSTGRES_BIN/pg_ctl" stop -D "$STACK_DIR/postgres/data" -m fast -s -w \
            -t "$STOP_TIMEOUT" </dev/null >>"$LOG_DIR/postgres.log" 2>&1 \
            || warn "pg_ctl stop -m fast failed (see $(rel "$LOG_DIR/postgres.log")); sending TERM"
    fi
    if kill -0 "$pid" 2>/dev/null; then kill -TERM "$pid" 2>/dev/null || true; fi
    while kill -0 "$pid" 2>/dev/null; do
        if (( SECONDS - start >= STOP_TIMEOUT )); then
            warn "$name (pid $pid) still running after $STOP_TIMEOUT s; sending KILL"
            kill -KILL "$pid" 2>/dev/null || true
        fi
        sleep 0.2
    done
    rm -f "$RUN_DIR/$name.pid"
    for port in $(ports_of "$name"); do
        local deadline=$(( SECONDS + 10 ))
        while port_open "$port" && (( SECONDS < deadline )); do sleep 0.2; done
        if port_open "$port"; then
            warn "port $port is still in use after $name stopped: $(port_owner "$port")"
        fi
    done
    ok "$name stopped (pid $pid, $(( SECONDS - start )) s)"
}

cmd_down() {
    local selected
    selected="$(select_components "$@")" || exit 1
    load_recorded_ports
    local pids=()
    chosen() { [[ " $selected " == *" $1 "* ]]; }
    # Stop in parallel; Kafka's controlled shutdown takes the longest. FerretDB goes before
    # the PostgreSQL it uses.
    if chosen kafka; then stop_component kafka & pids+=($!); fi
    { if chosen ferretdb; then stop_component ferretdb; fi
      if chosen postgres; then stop_component postgres; fi; } &
    pids+=($!)
    if chosen prometheus; then stop_component prometheus & pids+=($!); fi
    local rc=0 p
    for p in "${pids[@]}"; do wait "$p" || rc=1; done
    return $rc
}

# --- status -----------------------------------------------------------------------------------
cmd_status() {
    load_recorded_ports
    local name pid detail rc=0
    printf '%-11s %-8s %-8s %-12s %s\n' COMPONENT STATE PID PORTS DETAIL
    for name in "${COMPONENTS[@]}"; do
        if pid="$(component_pid "$name")"; then
            if detail="$(probe "$name" 2>&1)"; then
                printf '%-11s %-8s %-8s %-12s %s\n' "$name" healthy "$pid" "$(ports_of "$name" | tr ' ' /)" "${detail#* }"
            else
                printf '%-11s %-8s %-8s %-12s %s\n' "$name" starting "$pid" "$(ports_of "$name" | tr ' ' /)" "see $(rel "$LOG_DIR/$name.log")"
                rc=1
            fi
        else
            printf '%-11s %-8s %-8s %-12s %s\n' "$name" stopped - "$(ports_of "$name" | tr ' ' /)" ""
            rc=1
        fi
    done
    echo "state: $(rel "$STACK_DIR")   logs: $(rel "$LOG_DIR")"
    return $rc
}

command="${1:-}"
shift || true
case "$command" in
    up) cmd_up "$@" ;;
    down) cmd_down "$@" ;;
    status) cmd_status ;;
    *) echo "usage: $0 up|down [COMPONENT...] | status" >&2; exit 2 ;;
esac
