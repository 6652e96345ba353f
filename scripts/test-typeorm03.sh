#!/usr/bin/env bash
# npm run test:typeorm03: the whole suite on TypeORM 0.3.31, once with SQLite through sqlite3 (no better-sqlite3
# resolvable) and once through better-sqlite3. Each run installs from its own package.json and lockfile under
# compat/ into a folder outside this checkout (so nothing resolves from the main node_modules, which stay on
# TypeORM 1.x), copies the sources and tests there and runs jest. Arguments name the variants (default: both);
# anything after `--` goes to jest. INFERENCE_COMPAT_DIR moves the install folders (default: $TMPDIR).
# With INFERENCE_COMPAT_RUN=bench (npm run bench:typeorm03) it runs the SQLite benchmark there instead of the tests,
# writing bench/results-typeorm03-<variant>.json and .svg.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
variants=()
while [ $# -gt 0 ] && [ "$1" != "--" ]; do variants+=("$1"); shift; done
[ $# -gt 0 ] && shift
[ ${#variants[@]} -gt 0 ] || variants=(sqlite3 better-sqlite3)
base=${INFERENCE_COMPAT_DIR:-${TMPDIR:-/tmp}/inference-db-compat}

for variant in "${variants[@]}"; do
  spec="$root/compat/typeorm-0.3-$variant"
  [ -f "$spec/package-lock.json" ] || { echo "no such variant: $variant" >&2; exit 2; }
  work="$base/typeorm-0.3-$variant"
  mkdir -p "$work"
  stamp=$(cat "$spec/package.json" "$spec/package-lock.json" | sha256sum | cut -c1-16)
  if [ "$(cat "$work/.installed" 2>/dev/null || true)" != "$stamp" ]; then
    echo "== TypeORM 0.3 + $variant: npm ci in $work"
    cp "$spec/package.json" "$spec/package-lock.json" "$work/"
    (cd "$work" && npm ci --no-audit --no-fund)
    echo "$stamp" >"$work/.installed"
  fi
  rm -rf "$work/src" "$work/test" "$work/examples" "$work/bench" "$work/docs"
  cp -R "$root/src" "$root/test" "$root/examples" "$root/bench" "$root/docs" "$work/"
  cp "$root/jest.config.js" "$root/tsconfig.json" "$root/ormconfig.ts" "$root/README.md" "$work/"
  version=$(node -p 'require(process.argv[1]).version' "$work/node_modules/typeorm/package.json")
  if [ "${INFERENCE_COMPAT_RUN:-test}" = bench ]; then
    echo "== TypeORM $version + $variant: bench (SQLite)"
    (cd "$work" && DB_DIALECTS=sqlite INFERENCE_BENCH_OUT="$root/bench/results-typeorm03-$variant" \
      node -r ./bench/register.js bench/run.ts "$@")
  else
    echo "== TypeORM $version + $variant: jest"
    (cd "$work" && INFERENCE_PACKAGE_ROOT="$root" INFERENCE_SQLITE_DRIVER="$variant" node_modules/.bin/jest --runInBand "$@")
  fi
done
