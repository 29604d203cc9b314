#!/usr/bin/env bash
# The local stack on loopback, without Docker: Kafka (KRaft, one node), FerretDB (MongoDB wire
# protocol on SQLite) and Prometheus, each a background process of this STACK_DIR.
#
#   stack.sh up       start what is not running, wait until healthy, ensure the Kafka topics
#   stack.sh down     stop everything (TERM, then KILL after a timeout)
#   stack.sh status   show each component; exit 0 only when all are healthy
#
# Environment: STACK_DIR (default var), KAFKA_PORT (9092), KAFKA_CONTROLLER_PORT (9093),
# MONGO_PORT (27017), PROMETHEUS_PORT (9090), KAFKA_HEAP_OPTS (-Xms128m -Xmx512m),
# FERRETDB_DEBUG_ADDR (- = off). Run deploy/local/install.sh first (make install does).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

COMPONENTS=(kafka ferretdb prometheus)
PROBE=(python3 "$LOCAL_DIR/probe.py")

# Seconds to wait for each component to become healthy, and to stop.
WAIT_KAFKA="${STACK_WAIT_KAFKA:-90}"
WAIT_FERRETDB="${STACK_WAIT_FERRETDB:-30}"
WAIT_PROMETHEUS="${STACK_WAIT_PROMETHEUS:-30}"
STOP_TIMEOUT="${STACK_STOP_TIMEOUT:-30}"

KAFKA_HEAP_OPTS="${KAFKA_HEAP_OPTS:--Xms128m -Xmx512m}"
KAFKA_JVM_OPTS="${KAFKA_JVM_OPTS:--XX:+UseG1GC -XX:MaxGCPauseMillis=20 -XX:InitiatingHeapOccupancyPercent=35 -XX:+ExplicitGCInvokesConcurrent -XX:+ExitOnOutOfMemoryError -Djava.awt.headless=true}"
FERRETDB_DEBUG_ADDR="${FERRETDB_DEBUG_ADDR:--}"
PROMETHEUS_CONFIG="$REPO_ROOT/deploy/prometheus/prometheus.local.yml"

java_bin() {
    if [[ -n "${JAVA_HOME:-}" && -x "$JAVA_HOME/bin/java" ]]; then echo "$JAVA_HOME/bin/java"; else echo java; fi
}

# --- per-component facts ----------------------------------------------------------------------
ports_of() {
    case "$1" in
        kafka) echo "$KAFKA_PORT $KAFKA_CONTROLLER_PORT" ;;
        ferretdb) echo "$MONGO_PORT" ;;
        prometheus) echo "$PROMETHEUS_PORT" ;;
    esac
}

probe() {
    case "$1" in
        kafka) "${PROBE[@]}" kafka "127.0.0.1:$KAFKA_PORT" ;;
        ferretdb) "${PROBE[@]}" mongo "127.0.0.1:$MONGO_PORT" ;;
        prometheus) "${PROBE[@]}" http "http://127.0.0.1:$PROMETHEUS_PORT/-/ready" ;;
    esac
}

wait_limit() {
    case "$1" in
        kafka) echo "$WAIT_KAFKA" ;;
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
            die "cannot start $name: port $port is already in use${owner:+ by $owner}; stop that process, or pick other ports (KAFKA_PORT, KAFKA_CONTROLLER_PORT, MONGO_PORT, PROMETHEUS_PORT)"
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

start_ferretdb() {
    [[ -x "$FERRETDB_BIN" ]] || die "FerretDB is not installed in $(rel "$FERRETDB_BIN"); run: make install"
    local dir="$STACK_DIR/ferretdb"
    mkdir -p "$dir/data" "$dir/state"
    spawn ferretdb "$FERRETDB_BIN" \
        --handler=sqlite --sqlite-url="file:$dir/data/" \
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
    ok "kafka topics: ${out##*$'\n'}"
}

cmd_up() {
    mkdir -p "$LOG_DIR" "$RUN_DIR"
    # Components already running keep the ports they were started with.
    if component_pid kafka >/dev/null || component_pid ferretdb >/dev/null || component_pid prometheus >/dev/null; then
        load_recorded_ports
    fi
    local name started=()
    for name in "${COMPONENTS[@]}"; do
        if component_pid "$name" >/dev/null; then
            continue
        fi
        check_ports_free "$name"
        "start_$name"
        started+=("$name")
    done
    cat >"$RUN_DIR/ports.env" <<EOF
KAFKA_PORT=$KAFKA_PORT
KAFKA_CONTROLLER_PORT=$KAFKA_CONTROLLER_PORT
MONGO_PORT=$MONGO_PORT
PROMETHEUS_PORT=$PROMETHEUS_PORT
EOF
    [[ ${#started[@]} -gt 0 ]] && info "started: ${started[*]} (state in $(rel "$STACK_DIR"))"
    for name in "${COMPONENTS[@]}"; do
        wait_healthy "$name"
    done
    ensure_topics
    info "stack up: KAFKA_BOOTSTRAP_SERVERS=127.0.0.1:$KAFKA_PORT MONGODB_URI=mongodb://127.0.0.1:$MONGO_PORT Prometheus http://127.0.0.1:$PROMETHEUS_PORT"
}

# --- stopping ---------------------------------------------------------------------------------
stop_component() {
    local name="$1" pid start port
    if ! pid="$(component_pid "$name")"; then
        rm -f "$RUN_DIR/$name.pid"
        return
    fi
    start=$SECONDS
    kill -TERM "$pid" 2>/dev/null || true
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
    load_recorded_ports
    local name pids=()
    # Stop in parallel; Kafka's controlled shutdown takes the longest.
    for name in "${COMPONENTS[@]}"; do
        stop_component "$name" &
        pids+=($!)
    done
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

case "${1:-}" in
    up) cmd_up ;;
    down) cmd_down ;;
    status) cmd_status ;;
    *) echo "usage: $0 up|down|status" >&2; exit 2 ;;
esac
