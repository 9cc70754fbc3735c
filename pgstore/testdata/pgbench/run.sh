#!/usr/bin/env bash
# Server time of S1's unit of work, statement by statement: pgbench (one client,
# prepared statements) runs each script of this directory in turn, ROUNDS times
# SECONDS seconds, on a database of its own, and prints each script's median and
# fastest latency and their ratios to raw.sql's (on a shared machine the fastest
# round is the one least disturbed by other work). No Go is involved past the migration, so
# what differs between two scripts is what PostgreSQL does.
#
#   raw.sql         S1's raw baseline: one INSERT of the unit's 4 events
#   events.sql      the same 4 events into the event store's table
#   write.sql       + the command record and the stream's version (one statement)
#   statements.sql  + the locks and the version check: a commit since migration 008
#                   (the check reads the streams row the write then updates)
#   function.sql    the commit() function a commit called before migration 008
#
# usage: run.sh DATABASE_URL (make bench-server passes CONSEQUENT_TEST_DATABASE_URL)
set -euo pipefail
url=${1:?usage: run.sh DATABASE_URL}
rounds=${ROUNDS:-5}
seconds=${SECONDS_PER_RUN:-4}
dir=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$dir/../../.." && pwd)
pgbench=$(command -v pgbench || ls /usr/lib/postgresql/*/bin/pgbench 2>/dev/null | tail -1 || true)
[ -x "$pgbench" ] || { echo "run.sh: pgbench not found (Debian: apt-get install postgresql-client)" >&2; exit 2; }

db=consequent_pgbench
base=${url%%\?*}; base=${base%/*}; query=${url#"${url%%\?*}"}
target="$base/$db$query"
psql -X -q "$url" -c "DROP DATABASE IF EXISTS $db" -c "CREATE DATABASE $db" >/dev/null 2>&1
trap 'psql -X -q "$url" -c "DROP DATABASE IF EXISTS $db" >/dev/null 2>&1 || true' EXIT
(cd "$root" && go run ./examples/blog --database-url "$target" db migrate >/dev/null)
psql -X -q "$target" >/dev/null <<'SQL'
CREATE SCHEMA raw;
CREATE TABLE raw.events (stream_id uuid NOT NULL, version bigint NOT NULL,
  position bigint GENERATED ALWAYS AS IDENTITY, xact_id xid8 NOT NULL DEFAULT pg_current_xact_id(),
  id uuid NOT NULL, command_id uuid NOT NULL, type text NOT NULL, schema int NOT NULL, data jsonb,
  time timestamptz NOT NULL, correlation_id uuid, causation_id uuid, user_id text, metadata jsonb,
  PRIMARY KEY (stream_id, version));
CREATE UNIQUE INDEX raw_log ON raw.events (xact_id, position);
SQL

scripts=(raw events write statements function)
declare -A runs
echo "uptime at start: $(uptime)"
for _ in $(seq "$rounds"); do
  for s in "${scripts[@]}"; do
    ms=$("$pgbench" -n -M prepared -c 1 -T "$seconds" -f "$dir/$s.sql" "$target" 2>&1 | awk '/latency average/ {print $4}')
    runs[$s]="${runs[$s]:-} $ms"
  done
done
median() { tr ' ' '\n' | grep . | sort -g | awk '{a[NR]=$1} END {print (NR % 2) ? a[(NR+1)/2] : (a[NR/2] + a[NR/2+1]) / 2}'; }
fastest() { tr ' ' '\n' | grep . | sort -g | head -1; }
raw=$(echo "${runs[raw]}" | median)
rawmin=$(echo "${runs[raw]}" | fastest)
printf '%-12s %10s %10s %10s %10s   %s\n' script "median ms" "×raw" "fastest" "×raw" "runs (ms)"
for s in "${scripts[@]}"; do
  m=$(echo "${runs[$s]}" | median)
  f=$(echo "${runs[$s]}" | fastest)
  printf '%-12s %10.3f %10.2f %10.3f %10.2f  %s\n' "$s" "$m" "$(awk -v a="$m" -v b="$raw" 'BEGIN {print a / b}')" \
    "$f" "$(awk -v a="$f" -v b="$rawmin" 'BEGIN {print a / b}')" "${runs[$s]}"
done
echo "uptime at end: $(uptime)"
