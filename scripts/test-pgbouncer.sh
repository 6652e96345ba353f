#!/usr/bin/env bash
# npm run test:pgbouncer: every PostgreSQL test of the suite again, through PgBouncer in transaction mode with its
# default settings (no ignore_startup_parameters), in front of the local PostgreSQL (127.0.0.1:5432). PgBouncer runs
# here on its own port with its files in a temporary folder and is stopped afterwards. The tests' database there has
# the server default zone Asia/Kolkata, so an instant that depended on the session's zone would show. Operator work
# in the tests (killing backends) goes to the server directly (PG_ADMIN_URL). Without pgbouncer installed (Debian's
# package) the run says so loudly and fails under DB_REQUIRE=all; otherwise it is skipped. Arguments go to jest.
# PGBOUNCER_PORT moves the port (default 6432); PG_SERVER_URL names the server behind it.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
port=${PGBOUNCER_PORT:-6432}
server=${PG_SERVER_URL:-postgres://postgres@127.0.0.1:5432}
database=${INFERENCE_TEST_DATABASE:-inference_bouncer}

# shellcheck source=lib.sh
. "$root/scripts/lib.sh"

bouncer=$(command -v pgbouncer || true)
[ -n "$bouncer" ] || bouncer=/usr/sbin/pgbouncer
[ -x "$bouncer" ] || skip "PgBouncer" "pgbouncer is not installed (apt-get install pgbouncer)"

host=$(node -e 'const u = new URL(process.argv[1]); console.log(u.hostname + " " + (u.port || 5432))' "$server")
read -r server_host server_port <<<"$host"

dir=$(mktemp -d "${TMPDIR:-/tmp}/inference-pgbouncer-XXXXXX")
as_bouncer=()
if [ "$(id -u)" = 0 ]; then
  id postgres >/dev/null 2>&1 || skip "PgBouncer" "running as root and there is no postgres user to run PgBouncer as"
  as_bouncer=(runuser -u postgres --)
fi
cat >"$dir/pgbouncer.ini" <<INI
[databases]
* = host=$server_host port=$server_port

[pgbouncer]
listen_addr = 127.0.0.1
listen_port = $port
unix_socket_dir = $dir
auth_type = trust
auth_file = $dir/users.txt
pool_mode = transaction
max_client_conn = 500
default_pool_size = 20
logfile = $dir/pgbouncer.log
pidfile = $dir/pgbouncer.pid
INI
echo '"postgres" ""' >"$dir/users.txt"
[ "$(id -u)" = 0 ] && chown -R postgres "$dir"
stop() {
  if [ -f "$dir/pgbouncer.pid" ]; then kill "$(cat "$dir/pgbouncer.pid")" 2>/dev/null || true; fi
  sleep 0.2
  rm -rf "$dir"
}
trap stop EXIT

"${as_bouncer[@]}" "$bouncer" -d "$dir/pgbouncer.ini" || { cat "$dir/pgbouncer.log" >&2 || true; skip "PgBouncer" "pgbouncer did not start"; }
for _ in $(seq 1 50); do
  pg_isready -h 127.0.0.1 -p "$port" -q 2>/dev/null && break
  sleep 0.1
done

cd "$root"
node -e '
const { Client } = require("pg");
(async () => {
  const admin = new URL(process.argv[1]); admin.pathname = "/postgres";
  const client = new Client({ connectionString: admin.toString() });
  await client.connect();
  const name = process.argv[2];
  const found = await client.query("SELECT 1 FROM pg_database WHERE datname = $1", [name]);
  if (found.rowCount === 0) await client.query(`CREATE DATABASE "${name}"`);
  await client.query(`ALTER DATABASE "${name}" SET timezone TO '"'"'Asia/Kolkata'"'"'`);
  await client.end();
})().catch((e) => { console.error(e.message); process.exit(1); });
' "$server" "$database" || skip "PgBouncer" "the test database could not be prepared on $server"

echo "== $("$bouncer" --version | head -n1) on 127.0.0.1:$port (pool_mode = transaction) in front of $server_host:$server_port"
PG_URL="postgres://postgres@127.0.0.1:$port" PG_ADMIN_URL="$server" INFERENCE_TEST_DATABASE="$database" \
  INFERENCE_PGBOUNCER=1 DB_DIALECTS=postgres \
  DB_REQUIRE="$([ "${DB_REQUIRE:-}" = all ] && echo postgres || echo "${DB_REQUIRE:-}")" \
  node_modules/.bin/jest --runInBand "$@" --testPathIgnorePatterns "\\.(sqlite|mariadb|topology)\\.test\\.ts$"
