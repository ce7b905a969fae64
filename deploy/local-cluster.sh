#!/usr/bin/env bash
# Dagster's production topology on this machine, each part its own process on loopback:
# PostgreSQL (runs, event logs, schedules), Redis (the Celery broker), the code server (gRPC),
# dagster-webserver, dagster-daemon and two Celery workers (dagster-celery's run launcher).
#
#   deploy/local-cluster.sh up       start what is not running (idempotent)
#   deploy/local-cluster.sh env      the `export` lines a client needs (eval "$(... env)")
#   deploy/local-cluster.sh status   what runs; exit 0 only when every part does
#   deploy/local-cluster.sh down     stop everything it started; no process is left
#
# State lives under $CLUSTER_HOME (default .cluster/ in the checkout). Ports: CLUSTER_PG_PORT,
# CLUSTER_REDIS_PORT, CLUSTER_CODE_PORT, CLUSTER_UI_PORT; CLUSTER_WORKERS sets the worker count.
# See docs/SCALING.md.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
CLUSTER_HOME="$(mkdir -p "${CLUSTER_HOME:-$ROOT/.cluster}" && cd "${CLUSTER_HOME:-$ROOT/.cluster}" && pwd)"
VENV_BIN="${VENV_BIN:-$ROOT/.venv/bin}"
PG_PORT="${CLUSTER_PG_PORT:-15432}"
REDIS_PORT="${CLUSTER_REDIS_PORT:-16379}"
CODE_PORT="${CLUSTER_CODE_PORT:-14000}"
UI_PORT="${CLUSTER_UI_PORT:-13000}"
WORKERS="${CLUSTER_WORKERS:-2}"
START_TIMEOUT="${CLUSTER_START_TIMEOUT:-180}"

PIDS="$CLUSTER_HOME/pids"
LOGS="$CLUSTER_HOME/logs"
PG_DATA="$CLUSTER_HOME/postgres/data"

say() { printf '[cluster] %s\n' "$*" >&2; }
fail() { printf '[cluster] ERROR: %s\n' "$*" >&2; exit 1; }

worker_names() { local i; for ((i = 1; i <= WORKERS; i++)); do echo "worker-$i"; done; }
# In start order; `down` stops them in reverse.
services() { printf "%s\n" postgres redis code-server webserver daemon; worker_names; }

exports() {
    cat <<EOF
export DAGSTER_HOME="$CLUSTER_HOME/dagster"
export INGEST_HOME="$CLUSTER_HOME/ingest"
export INGEST_DAGSTER_PG_URL="postgresql+psycopg2://ingest@127.0.0.1:$PG_PORT/postgres"
export INGEST_DAGSTER_URL="http://127.0.0.1:$UI_PORT"
export INGEST_UI_URL="http://127.0.0.1:$UI_PORT"
export INGEST_CELERY_BROKER_URL="redis://127.0.0.1:$REDIS_PORT/0"
export INGEST_CELERY_BACKEND_URL="redis://127.0.0.1:$REDIS_PORT/1"
EOF
}

pg_bin() {
    local found
    found="$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1 || true)"
    if [ -n "$found" ] && [ -x "$found/initdb" ]; then echo "$found"; return; fi
    command -v initdb >/dev/null 2>&1 && dirname "$(command -v initdb)" && return
    return 1
}

# PostgreSQL refuses to run as root: as root, its server runs as the package's `postgres` user.
as_pg_user() { if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

pid_of() {
    local name="$1" pid
    if [ "$name" = postgres ]; then
        pid="$(head -n 1 "$PG_DATA/postmaster.pid" 2>/dev/null || true)"
    else
        pid="$(cat "$PIDS/$name.pid" 2>/dev/null || true)"
    fi
    # A killed process whose parent has not reaped it yet (a zombie) is not running.
    if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null && [[ "$(ps -o stat= -p "$pid" 2>/dev/null)" != Z* ]]; then
        echo "$pid"
    fi
}

port_of() {
    case "$1" in
        postgres) echo "$PG_PORT" ;; redis) echo "$REDIS_PORT" ;;
        code-server) echo "$CODE_PORT" ;; webserver) echo "$UI_PORT" ;; *) echo "" ;;
    esac
}

port_variable() {
    case "$1" in
        postgres) echo CLUSTER_PG_PORT ;; redis) echo CLUSTER_REDIS_PORT ;;
        code-server) echo CLUSTER_CODE_PORT ;; webserver) echo CLUSTER_UI_PORT ;;
    esac
}

require() {
    local missing=()
    pg_bin >/dev/null || missing+=("PostgreSQL (Debian package postgresql)")
    command -v redis-server >/dev/null 2>&1 || missing+=("Redis (Debian package redis-server)")
    for tool in dagster dagster-webserver dagster-daemon celery; do
        [ -x "$VENV_BIN/$tool" ] || missing+=("$tool in $VENV_BIN")
    done
    if [ "${#missing[@]}" -gt 0 ]; then
        fail "missing: ${missing[*]}. Run \`make setup\` (it installs them), then this again."
    fi
}

# A port that answers while our service is not running belongs to someone else.
check_port_free() {
    local name="$1" port
    port="$(port_of "$name")"
    if [ -n "$port" ] && port_open "$port"; then
        fail "port $port (for $name) is taken by another process; stop it, or choose another port: $(port_variable "$name")=PORT $0 up"
    fi
}

# Start a long-running process in a session of its own (so `down` can stop it and every child).
spawn() {
    local name="$1"; shift
    (cd "$ROOT" && exec setsid "$@" >>"$LOGS/$name.log" 2>&1 < /dev/null) &
    echo $! > "$PIDS/$name.pid"
}

wait_until() {
    local name="$1" test="$2" waited=0
    until eval "$test"; do
        if [ -z "$(pid_of "$name")" ]; then
            fail "$name exited while starting; the end of $LOGS/$name.log:
$(tail -n 20 "$LOGS/$name.log" 2>/dev/null)"
        fi
        if [ "$waited" -ge "$START_TIMEOUT" ]; then
            fail "$name did not become ready within ${START_TIMEOUT}s; see $LOGS/$name.log"
        fi
        sleep 1; waited=$((waited + 1))
    done
}

start_postgres() {
    local bin; bin="$(pg_bin)"
    if [ ! -s "$PG_DATA/PG_VERSION" ]; then
        say "postgres: creating a cluster in $PG_DATA"
        mkdir -p "$PG_DATA"
        [ "$(id -u)" = 0 ] && chown -R postgres:postgres "$CLUSTER_HOME/postgres"
        chmod 700 "$PG_DATA"
        as_pg_user "$bin/initdb" -D "$PG_DATA" -U ingest -A trust --no-sync >"$LOGS/postgres-init.log" 2>&1 \
            || fail "initdb failed; see $LOGS/postgres-init.log"
    fi
    [ "$(id -u)" = 0 ] && touch "$LOGS/postgres.log" && chown postgres:postgres "$LOGS/postgres.log"
    as_pg_user "$bin/pg_ctl" -D "$PG_DATA" -w -t "$START_TIMEOUT" -l "$LOGS/postgres.log" \
        -o "-p $PG_PORT -k $CLUSTER_HOME/postgres -c listen_addresses=127.0.0.1" start >/dev/null \
        || fail "PostgreSQL did not start; see $LOGS/postgres.log"
}

start_service() {
    local name="$1"
    case "$name" in
        postgres) start_postgres ;;
        redis)
            mkdir -p "$CLUSTER_HOME/redis"
            # In the foreground of its own session, so its pid file is ours and `down` stops it alike.
            spawn redis redis-server --port "$REDIS_PORT" --bind 127.0.0.1 --dir "$CLUSTER_HOME/redis" \
                --save "" --appendonly no
            wait_until redis "port_open $REDIS_PORT" ;;
        code-server)
            spawn code-server "$VENV_BIN/dagster" code-server start -h 127.0.0.1 -p "$CODE_PORT" \
                -m assets.definitions -a defs -d "$ROOT" --location-name ingest
            wait_until code-server "port_open $CODE_PORT" ;;
        webserver)
            spawn webserver "$VENV_BIN/dagster-webserver" -h 127.0.0.1 -p "$UI_PORT" -w "$CLUSTER_HOME/workspace.yaml"
            wait_until webserver "curl -fs -o /dev/null http://127.0.0.1:$UI_PORT/server_info" ;;
        daemon)
            spawn daemon "$VENV_BIN/dagster-daemon" run -w "$CLUSTER_HOME/workspace.yaml"
            wait_until daemon "grep -q 'Instance is configured with the following daemons' '$LOGS/daemon.log'" ;;
        worker-*)
            spawn "$name" "$VENV_BIN/celery" -A launcher.celery_app worker --hostname "$name@%h" \
                --concurrency 1 --queues dagster --loglevel INFO --without-gossip --without-mingle
            wait_until "$name" "grep -q ' ready\.' '$LOGS/$name.log'" ;;
    esac
}

write_instance() {
    mkdir -p "$CLUSTER_HOME/dagster" "$CLUSTER_HOME/ingest"
    cp "$ROOT/deploy/local/dagster.yaml" "$CLUSTER_HOME/dagster/dagster.yaml"
    cat > "$CLUSTER_HOME/workspace.yaml" <<EOF
# Written by deploy/local-cluster.sh: the webserver and the daemon load the code from the code server.
load_from:
  - grpc_server:
      host: 127.0.0.1
      port: $CODE_PORT
      location_name: ingest
EOF
}

up() {
    require
    mkdir -p "$PIDS" "$LOGS"
    write_instance
    eval "$(exports)"
    local name started=0
    for name in $(services); do
        if [ -n "$(pid_of "$name")" ]; then
            say "$name: already running (pid $(pid_of "$name"))"
            continue
        fi
        check_port_free "$name"
        say "$name: starting"
        start_service "$name"
        say "$name: running (pid $(pid_of "$name"))"
        started=$((started + 1))
    done
    say "up: $started started; the UI is at http://127.0.0.1:$UI_PORT; for a client: eval \"\$($0 env)\""
}

status() {
    local name pid port all=0
    for name in $(services); do
        pid="$(pid_of "$name")"
        port="$(port_of "$name")"
        if [ -n "$pid" ]; then
            printf '%-12s running  pid %-8s %s\n' "$name" "$pid" "${port:+127.0.0.1:$port}"
        else
            printf '%-12s stopped\n' "$name"; all=3
        fi
    done
    return "$all"
}

# Every process of the session a service was started in (its children included).
session_pids() { ps -eo pid=,sid=,stat= | awk -v sid="$1" '$2 == sid && $3 !~ /^Z/ { print $1 }'; }

stop_service() {
    local name="$1" pid waited=0
    pid="$(pid_of "$name")"
    if [ "$name" = postgres ]; then
        [ -n "$pid" ] && as_pg_user "$(pg_bin)/pg_ctl" -D "$PG_DATA" -m fast -w stop >/dev/null 2>&1 || true
        return
    fi
    local recorded; recorded="$(cat "$PIDS/$name.pid" 2>/dev/null || true)"
    [ -n "$recorded" ] || return 0
    local members; members="$(session_pids "$recorded")"
    [ -n "$members" ] || { rm -f "$PIDS/$name.pid"; return 0; }
    # shellcheck disable=SC2086
    kill -TERM $members 2>/dev/null || true
    while [ -n "$(session_pids "$recorded")" ] && [ "$waited" -lt 20 ]; do sleep 0.5; waited=$((waited + 1)); done
    members="$(session_pids "$recorded")"
    # shellcheck disable=SC2086
    [ -z "$members" ] || kill -KILL $members 2>/dev/null || true
    rm -f "$PIDS/$name.pid"
}

down() {
    local name
    # The workers, daemon, webserver and code server stop together (each in a few seconds), then the
    # broker, then the database they all write to.
    for name in $(services | grep -vx -e postgres -e redis); do
        if [ -n "$(pid_of "$name")" ] || [ -s "$PIDS/$name.pid" ]; then
            say "$name: stopping"
            stop_service "$name" &
        fi
    done
    wait
    for name in redis postgres; do
        if [ -n "$(pid_of "$name")" ] || [ -s "$PIDS/$name.pid" ]; then
            say "$name: stopping"
            stop_service "$name"
        fi
    done
    local left=""
    for name in $(services); do
        if [ -n "$(pid_of "$name")" ]; then left="$left $name"; fi
    done
    [ -z "$left" ] || fail "still running:$left"
    say "down: nothing is left running"
}

case "${1:-}" in
    up) up ;;
    env) exports ;;
    status) status ;;
    down) down ;;
    *) echo "usage: $0 up|env|status|down" >&2; exit 2 ;;
esac
