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

export SUPERVISION_JWT_SECRET="${SUPERVISION_JWT_SECRET:-dev-secret-change-me}"
export KAFKA_BOOTSTRAP_SERVERS="${KAFKA_BOOTSTRAP_SERVERS:-127.0.0.1:$KAFKA_PORT}"
export MONGODB_URI="${MONGODB_URI:-mongodb://127.0.0.1:$MONGO_PORT}"
export STACK_DIR KAFKA_PORT MONGO_PORT PROMETHEUS_PORT

SERVICES=(issues inspections notifications)

honcho_pid=""
stopping=0
cleanup() {
    local rc=$?
    [[ $stopping -eq 1 ]] && return
    stopping=1
    trap '' INT TERM
    if [[ -n "$honcho_pid" ]]; then
        info "stopping service processes"
        # honcho and everything it started share one process group (setsid below).
        kill -TERM -- "-$honcho_pid" 2>/dev/null || true
        local until=$(( SECONDS + 25 ))
        while kill -0 -- "-$honcho_pid" 2>/dev/null && (( SECONDS < until )); do sleep 0.2; done
        if kill -0 -- "-$honcho_pid" 2>/dev/null; then
            warn "service processes still running after 25 s; sending KILL"
            kill -KILL -- "-$honcho_pid" 2>/dev/null || true
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

  issues          http://127.0.0.1:8001/docs
                  http://127.0.0.1:8001/board/330602   (public board of a county)
                  http://127.0.0.1:8001/dashboard      (city dashboard)
  inspections     http://127.0.0.1:8002/docs
  notifications   http://127.0.0.1:8003/docs
  Prometheus      http://127.0.0.1:$PROMETHEUS_PORT
  Kafka           $KAFKA_BOOTSTRAP_SERVERS
  MongoDB         $MONGODB_URI
  JWT secret      SUPERVISION_JWT_SECRET=$SUPERVISION_JWT_SECRET
  state / logs    $(rel "$STACK_DIR")/ , $(rel "$LOG_DIR")/

  Ctrl-C stops the services and the stack.

EOF

# Own process group for honcho and its children, so that cleanup reaches every one of them.
setsid "$HONCHO" -f "$LOCAL_DIR/Procfile" -d "$REPO_ROOT" start &
honcho_pid=$!
set +e
wait "$honcho_pid"
rc=$?
set -e
# honcho stops when any of its processes exits; cleanup (the EXIT trap) makes sure that no
# process of its group outlives it, then stops the stack.
exit "$rc"
