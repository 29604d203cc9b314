#!/usr/bin/env bash
# `make test`: install what is missing, start a throw-away stack of its own (STACK_DIR=var/test,
# ports that do not clash with `make run`), run pytest against it, stop it again.
#
#   PYTEST_ARGS="-m unit -x" make test       extra pytest arguments (also: test.sh ARGS...)
#
# Exits with pytest's status; "no tests collected" (pytest's 5) counts as a failure.
set -euo pipefail

# The test stack: its own state directory and ports (override with TEST_* if they clash).
export STACK_DIR="${TEST_STACK_DIR:-var/test}"
export KAFKA_PORT="${TEST_KAFKA_PORT:-19092}"
export KAFKA_CONTROLLER_PORT="${TEST_KAFKA_CONTROLLER_PORT:-19093}"
export MONGO_PORT="${TEST_MONGO_PORT:-27018}"
export POSTGRES_PORT="${TEST_POSTGRES_PORT:-15432}"
export PROMETHEUS_PORT="${TEST_PROMETHEUS_PORT:-19090}"

source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$REPO_ROOT"

make --no-print-directory install

# A clean run: stop a test stack left over from an interrupted run, then wipe its state.
"$LOCAL_DIR/stack.sh" down >/dev/null
rm -rf "${STACK_DIR:?}"

trap '"$LOCAL_DIR/stack.sh" down' EXIT
"$LOCAL_DIR/stack.sh" up

export KAFKA_BOOTSTRAP_SERVERS="127.0.0.1:$KAFKA_PORT"
export MONGODB_URI="mongodb://127.0.0.1:$MONGO_PORT"
export PROMETHEUS_URL="http://127.0.0.1:$PROMETHEUS_PORT"
export POSTGRES_URL="postgresql://postgres@127.0.0.1:$POSTGRES_PORT/ferretdb"
export SUPERVISION_JWT_SECRET="${SUPERVISION_JWT_SECRET:-dev-only-secret-change-me-before-any-deployment}"

read -r -a extra <<<"${PYTEST_ARGS:-}"
info "pytest ${extra[*]} $*"
rc=0
"$VENV/bin/pytest" "${extra[@]}" "$@" || rc=$?
if [[ $rc -eq 5 ]]; then
    warn "pytest collected no tests; treating that as a failure"
    rc=1
fi
exit "$rc"
