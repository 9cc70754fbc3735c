#!/bin/sh
# Ensures a local PostgreSQL 15 cluster (15/main) tuned for tests is running on
# 127.0.0.1:5432 with user postgres / password postgres, then prints its DSN.
#
#   usage: sudo .ci/pg-start.sh        (run as root; idempotent)
#   stdout: postgres://postgres:postgres@127.0.0.1:5432/postgres?sslmode=disable
#   stderr: diagnostics. Exits non-zero with a reason on failure.
#
# Test tuning (NOT crash safe): fsync=off, synchronous_commit=off,
# full_page_writes=off, max_connections=200.
set -eu

VER=15
CLUSTER=main
PORT=5432
PASSWORD=postgres
DSN="postgres://postgres:${PASSWORD}@127.0.0.1:${PORT}/postgres?sslmode=disable"
WAIT_SECONDS=${PG_START_WAIT_SECONDS:-60}

exec 3>&1 1>&2 # everything goes to stderr except the DSN (fd 3)
log() { echo "pg-start: $*" >&2; }
die() { log "$*"; exit 1; }

[ "$(id -u)" = 0 ] || die "must run as root"

# 1. Install PostgreSQL 15 if missing.
if [ ! -x /usr/lib/postgresql/$VER/bin/postgres ] || ! command -v pg_ctlcluster >/dev/null 2>&1; then
  export DEBIAN_FRONTEND=noninteractive
  # apt-get update only when the package lists do not know postgresql yet,
  # or when installing from the existing lists fails (stale lists -> 404s).
  if ! apt-cache show postgresql >/dev/null 2>&1; then
    log "apt-get update"
    apt-get update -q
  fi
  log "installing postgresql"
  if ! apt-get install -y -q postgresql; then
    log "install failed; retrying after apt-get update"
    apt-get update -q
    apt-get install -y -q postgresql
  fi
  [ -x /usr/lib/postgresql/$VER/bin/postgres ] ||
    die "package postgresql did not install PostgreSQL $VER (different Debian release?)"
fi

# 2. Make sure cluster 15/main exists (the package creates it unless disabled).
if [ ! -f /etc/postgresql/$VER/$CLUSTER/postgresql.conf ]; then
  log "creating cluster $VER/$CLUSTER"
  pg_createcluster $VER $CLUSTER --port=$PORT
fi

# 3. Test tuning. restart=1 if a postmaster-level setting changed,
#    reload=1 if only SIGHUP-level ones did.
restart=0 reload=0
setconf() { # name value level(restart|reload)
  cur=$(pg_conftool -s $VER $CLUSTER show "$1" 2>/dev/null || true)
  if [ "$cur" != "$2" ]; then
    log "setting $1 = $2 (was: ${cur:-default})"
    pg_conftool $VER $CLUSTER set "$1" "$2"
    if [ "$3" = restart ]; then restart=1; else reload=1; fi
  fi
}
setconf port "$PORT" restart
setconf max_connections 200 restart
setconf fsync off reload
setconf synchronous_commit off reload
setconf full_page_writes off reload

# 4. Start, or restart/reload if the config changed while running.
#    The server must not inherit this script's descriptors: a postmaster holding
#    fd 3 (the DSN pipe) would keep `dsn=$(pg-start.sh)` waiting forever, and one
#    holding stderr would keep a caller reading our output from ever seeing EOF.
ctl() { # action
  out=$(mktemp)
  if pg_ctlcluster $VER $CLUSTER "$1" </dev/null >"$out" 2>&1 3>&-; then
    rm -f "$out"
  else
    cat "$out" >&2
    rm -f "$out"
    die "$1 failed; see /var/log/postgresql/postgresql-$VER-$CLUSTER.log"
  fi
}
if pg_ctlcluster $VER $CLUSTER status >/dev/null 2>&1; then
  if [ $restart = 1 ]; then
    log "restarting cluster $VER/$CLUSTER"
    ctl restart
  elif [ $reload = 1 ]; then
    log "reloading cluster $VER/$CLUSTER"
    ctl reload
  fi
else
  log "starting cluster $VER/$CLUSTER"
  ctl start
fi

# 5. Wait until it accepts TCP connections on 127.0.0.1.
i=0
until pg_isready -q -h 127.0.0.1 -p $PORT -t 2; do
  i=$((i + 1))
  [ $i -lt "$WAIT_SECONDS" ] ||
    die "not accepting TCP connections on 127.0.0.1:$PORT after ${WAIT_SECONDS}s; see /var/log/postgresql/postgresql-$VER-$CLUSTER.log"
  sleep 1
done

# 6. Password for TCP logins (pg_hba: host ... scram-sha-256). Set only if needed.
if ! PGPASSWORD=$PASSWORD PGCONNECT_TIMEOUT=5 psql -X -q -w "$DSN" -c 'SELECT 1' >/dev/null 2>&1; then
  log "setting password of role postgres"
  (cd / && runuser -u postgres -- psql -X -q -p $PORT -v ON_ERROR_STOP=1 \
    -c "ALTER ROLE postgres PASSWORD '$PASSWORD'") >/dev/null
  PGCONNECT_TIMEOUT=5 psql -X -q -w "$DSN" -c 'SELECT 1' >/dev/null ||
    die "cannot log in with $DSN (check pg_hba.conf)"
fi

echo "$DSN" >&3
