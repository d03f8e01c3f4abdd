#!/usr/bin/env bash
# Make sure the PostgreSQL and Redis that the tests use are answering on
# 127.0.0.1. Starts a stopped local service with the same command the machine
# uses at boot; fails with what to do when a service is missing or won't start.
set -euo pipefail

PG_HOST=127.0.0.1
PG_PORT=5432
REDIS_HOST=127.0.0.1
REDIS_PORT=6379
WAIT_SECONDS=${SERVICES_WAIT_SECONDS:-20}

log() { printf 'ensure_services: %s\n' "$*" >&2; }

fail() {
    log "ERROR: $*"
    exit 1
}

tcp_open() {
    # bash's /dev/tcp, in a subshell so the descriptor closes with it.
    (exec 3<>"/dev/tcp/$1/$2") 2>/dev/null
}

postgres_up() {
    if command -v pg_isready >/dev/null 2>&1; then
        pg_isready -q -h "$PG_HOST" -p "$PG_PORT"
    else
        tcp_open "$PG_HOST" "$PG_PORT"
    fi
}

redis_up() {
    if command -v redis-cli >/dev/null 2>&1; then
        [ "$(redis-cli -h "$REDIS_HOST" -p "$REDIS_PORT" ping 2>/dev/null)" = "PONG" ]
    else
        # No client: speak the protocol by hand and expect +PONG.
        (
            exec 3<>"/dev/tcp/$REDIS_HOST/$REDIS_PORT" || exit 1
            printf 'PING\r\n' >&3
            IFS= read -r -t 3 reply <&3 || exit 1
            [ "${reply%$'\r'}" = "+PONG" ]
        ) 2>/dev/null
    fi
}

wait_for() {
    local name=$1 probe=$2 waited=0
    until "$probe"; do
        if [ "$waited" -ge "$WAIT_SECONDS" ]; then
            return 1
        fi
        sleep 1
        waited=$((waited + 1))
    done
    log "$name is up"
}

start_postgres() {
    if ! command -v pg_ctlcluster >/dev/null 2>&1 || [ -z "$(ls /etc/postgresql 2>/dev/null)" ]; then
        fail "PostgreSQL is not answering on $PG_HOST:$PG_PORT and is not installed.
  Install it:  apt-get install -y postgresql
  The tests connect as postgres@$PG_HOST:$PG_PORT/postgres without a password (trust auth),
  or set TEST_DATABASE_URL when running make test."
    fi
    local version
    # shellcheck disable=SC2012  # cluster versions are plain numbers; as the machine's own start command
    version=$(ls /etc/postgresql | sort -V | tail -n 1)
    log "PostgreSQL is not answering; starting cluster $version/main"
    pg_ctlcluster --skip-systemctl-redirect "$version" main start \
        || log "pg_ctlcluster $version main start failed (see /var/log/postgresql/)"
    wait_for PostgreSQL postgres_up \
        || fail "PostgreSQL still does not answer on $PG_HOST:$PG_PORT after ${WAIT_SECONDS}s.
  Start it by hand:  pg_ctlcluster --skip-systemctl-redirect $version main start
  and check /var/log/postgresql/ for the reason."
}

start_redis() {
    if ! command -v redis-server >/dev/null 2>&1; then
        fail "Redis is not answering on $REDIS_HOST:$REDIS_PORT and is not installed.
  Install it:  apt-get install -y redis-server"
    fi
    log "Redis is not answering; starting redis-server"
    mkdir -p /var/lib/redis /var/log/redis
    redis-server --daemonize yes --bind 127.0.0.1 -::1 --port 6379 --save "" --appendonly no \
        --dir /var/lib/redis --logfile /var/log/redis/ci.log \
        || log "redis-server failed to start (see /var/log/redis/ci.log)"
    wait_for Redis redis_up \
        || fail "Redis still does not answer on $REDIS_HOST:$REDIS_PORT after ${WAIT_SECONDS}s.
  Start it by hand:  redis-server --daemonize yes --bind 127.0.0.1 -::1 --port 6379 --save \"\" --appendonly no --dir /var/lib/redis --logfile /var/log/redis/ci.log
  and check /var/log/redis/ci.log for the reason."
}

if postgres_up; then
    log "PostgreSQL is up on $PG_HOST:$PG_PORT"
else
    start_postgres
fi

if redis_up; then
    log "Redis is up on $REDIS_HOST:$REDIS_PORT"
else
    start_redis
fi
