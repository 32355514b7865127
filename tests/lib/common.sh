# Shared helpers for tests/run.sh, the e2e suites and the benchmarks. Every install is idempotent:
# it does nothing when the tool is already there.

# apt packages by name, installed only when one of the given commands is missing.
#   ensure_apt COMMAND PACKAGE [COMMAND PACKAGE ...]
ensure_apt() {
  local missing=()
  while [ $# -gt 0 ]; do
    command -v "$1" >/dev/null 2>&1 || missing+=("$2")
    shift 2
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  echo "installing ${missing[*]} (apt)"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >/dev/null && apt-get install -y -qq "${missing[@]}" >/dev/null
}

ensure_rust_tools() {
  command -v cargo >/dev/null || { echo "cargo is required (rustup)"; return 1; }
  rustup component list --installed 2>/dev/null | grep -q '^rustfmt' || rustup component add rustfmt
  rustup component list --installed 2>/dev/null | grep -q '^clippy' || rustup component add clippy
  # The backup tests run pg_dump and pg_restore against the test PostgreSQL.
  ensure_apt pg_dump postgresql-client pg_restore postgresql-client
  # The backup mirror (backup.copy_to) is rsync, over SSH to another machine: the test of that
  # runs its own sshd.
  ensure_apt rsync rsync ssh openssh-client ssh-keygen openssh-client sshd openssh-server
}

# PostgreSQL must answer at $SWITCHBOARD_TEST_PG_URL's host and port: a missing database is a
# failure with a clear message, never a silent skip.
require_postgres() {
  local hostport=${SWITCHBOARD_TEST_PG_URL#*@}; hostport=${hostport%%/*}
  local host=${hostport%%:*} port=${hostport##*:}
  [ "$port" = "$hostport" ] && port=5432
  if ! (exec 3<>"/dev/tcp/$host/$port") 2>/dev/null; then
    echo "PostgreSQL is not reachable at $host:$port (SWITCHBOARD_TEST_PG_URL=$SWITCHBOARD_TEST_PG_URL)."
    echo "The store tests run on SQLite and PostgreSQL; start it, e.g.: pg_ctlcluster \$(ls /etc/postgresql) main start"
    return 1
  fi
  echo "PostgreSQL answers at $host:$port"
}

# The browser tests' tools: Debian's Chromium (apt) and the pinned npm packages of
# tests/browser/package-lock.json (playwright-core, jssip, ws), installed with `npm ci` only when
# node_modules is missing or older than the lock file.
ensure_browser_tests() {
  local dir=${ROOT:-.}/tests/browser
  ensure_apt chromium chromium node nodejs npm npm
  if [ ! -f "$dir/node_modules/.package-lock.json" ] ||
    [ "$dir/package-lock.json" -nt "$dir/node_modules/.package-lock.json" ]; then
    echo "installing the browser test packages (npm ci)"
    (cd "$dir" && npm ci --no-audit --no-fund --loglevel=error >/dev/null)
  fi
}

# keep_logs DIR NAME: copies the server logs a suite left in DIR (*.log, *.out, *.err) to
# $SWITCHBOARD_TEST_LOGS/NAME/ when the test command collects them (tests/run.sh sets it), so
# tests/logs_masked.sh can check the whole run's logs for unmasked phone numbers.
keep_logs() {
  [ -n "${SWITCHBOARD_TEST_LOGS:-}" ] && [ -d "$1" ] || return 0
  local dest="$SWITCHBOARD_TEST_LOGS/$2"
  mkdir -p "$dest"
  find "$1" -maxdepth 2 -type f \( -name '*.log' -o -name '*.out' -o -name '*.err' \) \
    ! -name 'sipp-*' -exec cp --backup=numbered -t "$dest" {} + 2>/dev/null || true
}

# poll TRIES EVERY CMD [ARGS...]: runs CMD every EVERY seconds until it succeeds, at most TRIES
# times; returns 1 when it never did. For what a server does a moment after the event that
# caused it (the records writer files calls in batches, the call control re-reads its queues):
# CMD is a test, often a small function that also leaves what it saw in a variable for the
# caller's failure message.
poll() {
  local tries=$1 every=$2 _
  shift 2
  for _ in $(seq 1 "$tries"); do
    "$@" && return 0
    sleep "$every"
  done
  return 1
}

# bench_run example|bin NAME [ARGS...]: runs the workspace's example or binary NAME from the repo
# root: built in release for a measurement; for a smoke run (SMOKE=1) the debug build that the
# test command's `cargo test --workspace` already made. Always built with --workspace: with `-p`
# cargo resolves the dependencies' features for that one package and rebuilds them (minutes).
bench_run() {
  local kind=$1 name=$2 profile=release dir
  shift 2
  local flags=(--release)
  if [ "${SMOKE:-0}" = 1 ]; then profile=debug; flags=(); fi
  cargo build --quiet --locked --workspace "${flags[@]}" "--$kind" "$name" || return 1
  dir="${CARGO_TARGET_DIR:-${ROOT:-$PWD}/target}/$profile"
  [ "$kind" = example ] && dir="$dir/examples"
  "$dir/$name" "$@"
}
