# Shared by the scripts that start extra servers (sourced, not run).

# skip WHAT REASON: says loudly that WHAT did not run and why; fails under DB_REQUIRE=all (as CI runs), else exits 0.
skip() {
  local bar
  bar=$(printf '!%.0s' $(seq 1 78))
  printf '\n%s\n!! %s: %s\n%s\n\n' "$bar" "$1" "$2" "$bar" >&2
  if [ "${DB_REQUIRE:-}" = all ]; then exit 1; fi
  exit 0
}
