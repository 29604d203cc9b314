#!/usr/bin/env bash
# `make run`: the local stack plus every process of deploy/local/Procfile, in the foreground.
# Ctrl-C, TERM or a closed terminal stops the services and then the stack; state is kept.
#
# The work is done by deploy/local/supervise.py, in a session of its own; this script refuses
# at once when a service port is taken, starts the supervisor, forwards INT, TERM and HUP to it
# as TERM and waits until it has stopped everything. Should this script die without a word
# (SIGKILL), the kernel tells the supervisor (PR_SET_PDEATHSIG) and it stops everything too.
#
# The environment this script starts with reaches every service process unchanged; it only
# adds defaults for SUPERVISION_JWT_SECRET, KAFKA_BOOTSTRAP_SERVERS, MONGODB_URI, the *_BIND
# addresses, the web app's *_URL of the services and its WEB_PUBLIC_URL, and STACK_DIR.
# DEMO_DATA=0 skips the demo city; DEMO_EVERY=N loads every N-th item.
set -euo pipefail
# Until the supervisor runs, a stop signal just ends the script.
trap 'exit 130' INT
trap 'exit 143' TERM
trap 'exit 129' HUP
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$REPO_ROOT"

[[ -x "$VENV/bin/honcho" ]] || die "$(rel "$VENV/bin/honcho") not found; run: make install"

export SUPERVISION_JWT_SECRET="${SUPERVISION_JWT_SECRET:-dev-only-secret-change-me-before-any-deployment}"
# The demo's sample county system listens on loopback; a deployment leaves this empty.
export WEBHOOK_ALLOWED_HOSTS="${WEBHOOK_ALLOWED_HOSTS-127.0.0.1}"
export WEB_BIND="${WEB_BIND:-127.0.0.1:8000}"
export ISSUES_BIND="${ISSUES_BIND:-127.0.0.1:8001}"
export INSPECTIONS_BIND="${INSPECTIONS_BIND:-127.0.0.1:8002}"
export NOTIFICATIONS_BIND="${NOTIFICATIONS_BIND:-127.0.0.1:8003}"
# The web app reaches the services, and is reached, at the addresses of this run.
export ISSUES_URL="${ISSUES_URL:-http://$ISSUES_BIND}"
export INSPECTIONS_URL="${INSPECTIONS_URL:-http://$INSPECTIONS_BIND}"
export NOTIFICATIONS_URL="${NOTIFICATIONS_URL:-http://$NOTIFICATIONS_BIND}"
export WEB_PUBLIC_URL="${WEB_PUBLIC_URL:-http://$WEB_BIND}"
export KAFKA_BOOTSTRAP_SERVERS="${KAFKA_BOOTSTRAP_SERVERS:-127.0.0.1:$KAFKA_PORT}"
export MONGODB_URI="${MONGODB_URI:-mongodb://127.0.0.1:$MONGO_PORT}"
export STACK_DIR KAFKA_PORT KAFKA_CONTROLLER_PORT MONGO_PORT POSTGRES_PORT PROMETHEUS_PORT

PROCFILE="${PROCFILE:-$LOCAL_DIR/Procfile}"

# A web process of the Procfile listens on its <NAME>_BIND: refuse before anything starts when
# one of those ports is taken (stack.sh does the same for the stack's ports).
while IFS= read -r name; do
    variable="$(tr 'a-z-' 'A-Z_' <<<"$name")_BIND"
    bind="${!variable:-}"
    [[ -n "$bind" ]] || continue
    port="${bind##*:}"
    if port_open "$port" || [[ -n "$(port_owner "$port")" ]]; then
        owner="$(port_owner "$port")"
        die "cannot start $name: port $port is already in use${owner:+ by $owner}; stop that process, or set $variable to another address"
    fi
done < <(sed -n 's/^\([A-Za-z0-9_-][A-Za-z0-9_-]*\):.*/\1/p' "$PROCFILE")

# Every process of the run inherits this marker, so that the supervisor's stop finds each one,
# whoever its parent is by then.
export SUPERVISION_RUN="$$-$(date +%s%N)"

# setsid runs the supervisor in place (a background child is no process group leader), so
# $! is its pid, and it is out of reach of the terminal's signals.
setsid "$VENV/bin/python" "$LOCAL_DIR/supervise.py" --parent $$ --procfile "$PROCFILE" </dev/null &
supervisor=$!
code=""
trap 'code=130; kill -TERM "$supervisor" 2>/dev/null || true' INT
trap 'code=143; kill -TERM "$supervisor" 2>/dev/null || true' TERM
trap 'code=129; kill -TERM "$supervisor" 2>/dev/null || true' HUP
set +e
while :; do
    wait "$supervisor"   # returns early when a trapped signal arrives
    rc=$?
    kill -0 "$supervisor" 2>/dev/null || break
done
exit "${code:-$rc}"
