#!/usr/bin/env bash
# `make run`: the local stack plus every service process of deploy/local/Procfile, in the
# foreground. Ctrl-C (or TERM) stops the services and then the stack; state is kept.
#
# The environment this script starts with reaches every service process unchanged; it only
# adds defaults for SUPERVISION_JWT_SECRET, KAFKA_BOOTSTRAP_SERVERS, MONGODB_URI and STACK_DIR.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$REPO_ROOT"

HONCHO="$VENV/bin/honcho"
[[ -x "$HONCHO" ]] || die "$(rel "$HONCHO") not found; run: make install"

export SUPERVISION_JWT_SECRET="${SUPERVISION_JWT_SECRET:-dev-only-secret-change-me-before-any-deployment}"
# The demo's sample county system listens on loopback; a deployment leaves this empty.
export WEBHOOK_ALLOWED_HOSTS="${WEBHOOK_ALLOWED_HOSTS-127.0.0.1}"
export ISSUES_BIND="${ISSUES_BIND:-127.0.0.1:8001}"
export INSPECTIONS_BIND="${INSPECTIONS_BIND:-127.0.0.1:8002}"
export NOTIFICATIONS_BIND="${NOTIFICATIONS_BIND:-127.0.0.1:8003}"
export KAFKA_BOOTSTRAP_SERVERS="${KAFKA_BOOTSTRAP_SERVERS:-127.0.0.1:$KAFKA_PORT}"
export MONGODB_URI="${MONGODB_URI:-mongodb://127.0.0.1:$MONGO_PORT}"
export STACK_DIR KAFKA_PORT MONGO_PORT POSTGRES_PORT PROMETHEUS_PORT

SERVICES=(issues inspections notifications)

PROCFILE="${PROCFILE:-$LOCAL_DIR/Procfile}"
# Every process honcho starts inherits this marker, so that none can outlive `make run`
# unnoticed (honcho puts each of them in a session of its own).
RUN_MARKER="SUPERVISION_RUN=$$-$(date +%s%N)"

# Pids of live processes carrying this run's marker.
marked_pids() {
    local env pid
    for env in /proc/[0-9]*/environ; do
        pid="${env#/proc/}"; pid="${pid%/environ}"
        grep -qzxF -- "$RUN_MARKER" "$env" 2>/dev/null && echo "$pid"
    done
    return 0
}

honcho_pid=""
stopping=0
cleanup() {
    local rc=$? pids deadline
    [[ $stopping -eq 1 ]] && return
    stopping=1
    trap '' INT TERM
    if [[ -n "$honcho_pid" ]]; then
        info "stopping service processes"
        # honcho answers TERM by stopping its processes (TERM, then KILL after 5 s).
        kill -TERM "$honcho_pid" 2>/dev/null || true
        deadline=$(( SECONDS + 20 ))
        while kill -0 "$honcho_pid" 2>/dev/null && (( SECONDS < deadline )); do sleep 0.2; done
        kill -KILL "$honcho_pid" 2>/dev/null || true
        pids="$(marked_pids)"
        if [[ -n "$pids" ]]; then
            warn "service processes left after honcho: $(echo $pids); stopping them"
            # shellcheck disable=SC2086
            kill -TERM $pids 2>/dev/null || true
            deadline=$(( SECONDS + 10 ))
            while [[ -n "$(marked_pids)" ]] && (( SECONDS < deadline )); do sleep 0.2; done
            pids="$(marked_pids)"
            # shellcheck disable=SC2086
            [[ -z "$pids" ]] || kill -KILL $pids 2>/dev/null || true
        fi
    fi
    info "stopping the stack"
    "$LOCAL_DIR/stack.sh" down || true
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

"$LOCAL_DIR/stack.sh" up

# Fresh Prometheus multiprocess directories: stale files would be summed into new counters.
for svc in "${SERVICES[@]}"; do
    rm -rf "${STACK_DIR:?}/metrics/$svc"
    mkdir -p "$STACK_DIR/metrics/$svc"
done

cat <<EOF

  issues          http://$ISSUES_BIND/docs
                  http://$ISSUES_BIND/board/330602   (public board of a county)
                  http://$ISSUES_BIND/dashboard      (city dashboard)
  inspections     http://$INSPECTIONS_BIND/docs
  notifications   http://$NOTIFICATIONS_BIND/docs
  Prometheus      http://127.0.0.1:$PROMETHEUS_PORT
  Kafka           $KAFKA_BOOTSTRAP_SERVERS
  MongoDB         $MONGODB_URI   (FerretDB)
  PostgreSQL      postgres://postgres@127.0.0.1:$POSTGRES_PORT/ferretdb   (FerretDB's storage)
  JWT secret      SUPERVISION_JWT_SECRET=$SUPERVISION_JWT_SECRET
  state / logs    $(rel "$STACK_DIR")/ , $(rel "$LOG_DIR")/

  Ctrl-C stops the services and the stack.

EOF

env "$RUN_MARKER" "$HONCHO" -f "$PROCFILE" -d "$REPO_ROOT" start &
honcho_pid=$!

# The demo city, loaded through the API once the services answer; a county that has items
# already is skipped, so only the first start loads. Its progress lines join the services' logs.
if [[ "${DEMO_DATA:-1}" != 0 ]]; then
    env "$RUN_MARKER" "$VENV/bin/python" -m tools.demo.load --issues "http://$ISSUES_BIND" \
        --ready-timeout 180 2>&1 | sed -u 's/^/demo-data | /' &
fi
set +e
wait "$honcho_pid"
rc=$?
set -e
# honcho stops when any of its processes exits; cleanup (the EXIT trap) makes sure that none
# of them outlives it, then stops the stack.
exit "$rc"
