#!/usr/bin/env bash
# Soak test of the example server (examples/axum_server): mixed load for a long time on
# loopback, watching the server's memory and file descriptors. Not part of .ci/run.
#
#   bench/soak/run.sh            # 600 s of load (warm-up: the first 60 s)
#   bench/soak/run.sh 30         # a 30 s smoke run (warm-up: duration / 4, at most 60 s)
#
# What it does:
#   1. builds the server at the repository root:
#        cargo build --release --example axum_server --features $SERVER_FEATURES
#      (SERVER_FEATURES below: the example's required features by default)
#      and the load driver in bench/load (its own workspace):
#        cargo build --release --bin soak   (bench/load/src/bin/soak.rs)
#   2. starts the server on 127.0.0.1:$PORT (HS256, JWT_ISSUER/JWT_AUDIENCE set, the demo
#      account with a random password, DATABASE_URL a fresh SQLite file in a temporary
#      directory, removed at the end), stderr to $OUT/server.log;
#   3. runs the driver: CONCURRENCY requests in flight (LOGIN_CONCURRENCY of them logins; the
#      others paced at FAST_RATE requests/s), the mix documented at the top of soak.rs
#      (valid tokens from /login on /me and /admin, forged
#      and rule-breaking tokens, malformed Authorization headers, good/bad/unknown logins,
#      /login edge cases, cut-off and non-HTTP connections), sampling VmRSS and the open fds of
#      the server every second;
#   4. stops the server with SIGTERM (it must exit 0 within 10 s) and prints the report, also
#      written to $OUT/soak.md, $OUT/soak.json and $OUT/samples.csv, ending with the memory
#      summary: peak RSS under load (the largest VmRSS sampled, and VmHWM) and the RSS after
#      the whole load (600 s by default), from samples.csv.
#
# Exit status 0 only when every target holds: no 5xx, no accepted forgery (a forged token
# answered 2xx or 403), no accepted rule-breaking token, no unexpected status, no transport
# error, RSS at the end and its maximum after warm-up within RSS_TOLERANCE_PCT (10) of the RSS
# at warm-up, open fds once idle again no more than before the load (and under load at most
# 3 × CONCURRENCY above that), the server alive throughout and shut down cleanly.
#
# Knobs (environment): SERVER_FEATURES (cargo features of the example, default
# axum,login,sqlite,openapi,metrics: the example's required features), PORT (3900), CONCURRENCY (32), LOGIN_CONCURRENCY (4), FAST_RATE
# (requests/s of the non-login lane, default 4000; 0 = as fast as it goes, which starves the
# argon2 workers: they run at nice 19 by design), WARMUP (s),
# RSS_TOLERANCE_PCT (10), OUT (default bench/soak/results/<UTC time>), SERVER_LOG (RUST_LOG of
# the server; default "warn": the example logs every request at info, an estimated 0.5-4 GB
# over 10 minutes),
# SKIP_BUILD=1 (reuse the binaries), NICE_BUILD (niceness of the builds, default 10),
# LOGIN_RATE_PER_MINUTE (the example's per-client-IP limit in front of POST /login; default 0
# here, i.e. off: every request comes from 127.0.0.1, and the example's default of 60/min would
# answer almost every login 429 before argon2, so the hashing pool and the per-account throttle
# would not be soaked. With it on, /login answers 429 to most logins (accepted on the login
# lane), and the driver counts as unexpected the 429s of `login_edge` (refused /login requests)
# and of `not_found` (the limiter answers unknown paths too; see BENCHMARKS.md)).
#
# The login timing benchmark is separate: bench/login_timing.sh.
set -euo pipefail

# The example's cargo features: one place to extend (e.g. "axum,login,sqlite,openapi,metrics").
SERVER_FEATURES=${SERVER_FEATURES:-axum,login,sqlite,openapi,metrics}

DURATION=${1:-600}
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
LOAD=$ROOT/bench/load
PORT=${PORT:-3900}
ADDR=127.0.0.1:$PORT
CONCURRENCY=${CONCURRENCY:-32}
LOGIN_CONCURRENCY=${LOGIN_CONCURRENCY:-4}
FAST_RATE=${FAST_RATE:-4000}
if [[ -z "${WARMUP:-}" ]]; then
  WARMUP=$((DURATION / 4))
  ((WARMUP > 60)) && WARMUP=60
fi
RSS_TOLERANCE_PCT=${RSS_TOLERANCE_PCT:-10}
OUT=${OUT:-$HERE/results/$(date -u +%Y%m%dT%H%M%SZ)-${DURATION}s}
NICE_BUILD=${NICE_BUILD:-10}

log() { printf '[%(%H:%M:%S)T] %s\n' -1 "$*" >&2; }

[[ "$DURATION" =~ ^[0-9]+$ ]] && ((DURATION >= 4)) || {
  echo "usage: $0 [duration seconds, default 600, at least 4]" >&2
  exit 2
}
command -v cargo >/dev/null || { echo "cargo is required" >&2; exit 2; }

# --- build -------------------------------------------------------------------------------------
ROOT_TARGET=$(cd "$ROOT" && cargo metadata --format-version 1 --no-deps 2>/dev/null |
  sed -n 's/.*"target_directory":"\([^"]*\)".*/\1/p')
ROOT_TARGET=${ROOT_TARGET:-$ROOT/target}
LOAD_TARGET=${LOAD_TARGET:-$LOAD/target}
SERVER_BIN=$ROOT_TARGET/release/examples/axum_server
DRIVER_BIN=$LOAD_TARGET/release/soak
if [[ "${SKIP_BUILD:-0}" != 1 ]]; then
  log "building the example server (release) at the repository root"
  (cd "$ROOT" && nice -n "$NICE_BUILD" cargo build --release --quiet --example axum_server --features "$SERVER_FEATURES")
  log "building the soak driver (release) in bench/load"
  (cd "$LOAD" && CARGO_TARGET_DIR=$LOAD_TARGET nice -n "$NICE_BUILD" cargo build --release --quiet --bin soak)
fi
[[ -x "$SERVER_BIN" && -x "$DRIVER_BIN" ]] || { echo "missing $SERVER_BIN or $DRIVER_BIN" >&2; exit 2; }

# --- server ------------------------------------------------------------------------------------
if (exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null; then
  echo "127.0.0.1:$PORT is already in use: set PORT" >&2
  exit 2
fi
mkdir -p "$OUT"
rand() { head -c "$1" /dev/urandom | base64 | tr -d '\n/+=' | head -c "$2"; }
export JWT_SECRET=$(rand 48 48)
export JWT_ISSUER=https://auth.soak.example
export JWT_AUDIENCE=soak-api
export BIND_ADDR=$ADDR
export DEMO_USER=demo
export DEMO_PASSWORD=$(rand 24 24)
export LOGIN_RATE_PER_MINUTE=${LOGIN_RATE_PER_MINUTE:-0}
# Users, sessions and revocations: a fresh SQLite file (the example creates it), removed at exit.
DB_DIR=$(mktemp -d "${TMPDIR:-/tmp}/soak-db.XXXXXX")
export DATABASE_URL=sqlite://$DB_DIR/soak.db
unset JWT_PRIVATE_KEY_FILE DEMO_SCOPES REDIS_URL

SERVER_PID=
cleanup() {
  if [[ -n "$SERVER_PID" ]] && kill -0 "$SERVER_PID" 2>/dev/null; then
    kill -TERM "$SERVER_PID" 2>/dev/null || true
    sleep 2
    kill -0 "$SERVER_PID" 2>/dev/null && kill -KILL "$SERVER_PID" 2>/dev/null || true
  fi
  rm -rf "$DB_DIR"
}
trap cleanup EXIT

log "starting the server on $ADDR (log: $OUT/server.log)"
RUST_LOG=${SERVER_LOG:-warn} "$SERVER_BIN" >"$OUT/server.out" 2>"$OUT/server.log" &
SERVER_PID=$!
for _ in $(seq 1 100); do
  grep -q "listening on" "$OUT/server.out" 2>/dev/null && break
  kill -0 "$SERVER_PID" 2>/dev/null || { echo "the server exited; see $OUT/server.log" >&2; exit 1; }
  sleep 0.1
done
grep -q "listening on" "$OUT/server.out" || { echo "the server did not start" >&2; exit 1; }
sleep 1

{
  echo "date_utc=$(date -u +%Y-%m-%dT%H:%M:%SZ)"
  echo "date=$(date)"
  echo "nproc=$(nproc)"
  echo "cpu=$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//')"
  echo "kernel=$(uname -r)"
  echo "rustc=$(rustc -V)"
  echo "git=$(cd "$ROOT" && git rev-parse --short HEAD 2>/dev/null)$(cd "$ROOT" && git diff --quiet HEAD -- src Cargo.toml examples 2>/dev/null || echo '+dirty')"
  echo "server_binary_built=$(date -u -r "$SERVER_BIN" +%Y-%m-%dT%H:%M:%SZ)"
  echo "duration_s=$DURATION warmup_s=$WARMUP concurrency=$CONCURRENCY login_concurrency=$LOGIN_CONCURRENCY fast_rate=$FAST_RATE"
  echo "login_rate_per_minute=$LOGIN_RATE_PER_MINUTE server_rust_log=${SERVER_LOG:-warn}"
  echo "server_features=$SERVER_FEATURES database=sqlite (temporary file)"
  echo "loadavg_start=$(cut -d' ' -f1-3 /proc/loadavg)"
} >"$OUT/machine.txt"

# --- load --------------------------------------------------------------------------------------
log "soak: $DURATION s, $CONCURRENCY in flight ($LOGIN_CONCURRENCY logins), warm-up $WARMUP s -> $OUT"
set +e
"$DRIVER_BIN" --addr "$ADDR" --pid "$SERVER_PID" --duration "$DURATION" --warmup "$WARMUP" \
  --concurrency "$CONCURRENCY" --login-concurrency "$LOGIN_CONCURRENCY" --fast-rate "$FAST_RATE" \
  --rss-tolerance-pct "$RSS_TOLERANCE_PCT" --out "$OUT"
DRIVER_RC=$?
set -e
echo "loadavg_end=$(cut -d' ' -f1-3 /proc/loadavg)" >>"$OUT/machine.txt"

# --- shutdown ----------------------------------------------------------------------------------
SHUTDOWN_OK=0
if kill -0 "$SERVER_PID" 2>/dev/null; then
  kill -TERM "$SERVER_PID"
  for _ in $(seq 1 100); do
    kill -0 "$SERVER_PID" 2>/dev/null || break
    sleep 0.1
  done
  if kill -0 "$SERVER_PID" 2>/dev/null; then
    log "the server did not stop within 10 s of SIGTERM"
  else
    wait "$SERVER_PID" && SHUTDOWN_OK=1 || log "the server exited with status $?"
  fi
fi
SERVER_PID=
echo "server_shutdown_clean=$SHUTDOWN_OK" >>"$OUT/machine.txt"
printf '\nServer shutdown on SIGTERM: %s.\n' "$([[ $SHUTDOWN_OK == 1 ]] && echo clean || echo '**NOT CLEAN**')" >>"$OUT/soak.md"

# --- memory summary ------------------------------------------------------------------------------
# From samples.csv (t_s,rss_kib,hwm_kib,...: one line a second, all taken under load) and the
# idle sample after it (soak.json).
if [[ -s "$OUT/samples.csv" ]]; then
  IDLE_AFTER=$(sed -n 's/.*"rss_idle_after_kib": *\([0-9]*\).*/\1/p' "$OUT/soak.json" 2>/dev/null | head -1)
  awk -F, -v idle="${IDLE_AFTER:-}" -v dur="$DURATION" '
    NR == 1 { next }
    { n++; if ($2 > peak) { peak = $2; peak_t = $1 } ; hwm = $3; last = $2; last_t = $1 }
    END {
      if (!n) exit
      mib = 1024
      printf "\n## Memory\n\n"
      printf "| measure | KiB | MiB |\n|---|---:|---:|\n"
      printf "| peak RSS under load (largest VmRSS sampled, at %.0f s) | %d | %.1f |\n", peak_t, peak, peak / mib
      printf "| peak RSS of the process (VmHWM, end of the load) | %d | %.1f |\n", hwm, hwm / mib
      printf "| RSS after %.0f s of load (last sample; %s s asked) | %d | %.1f |\n", last_t, dur, last, last / mib
      if (idle != "") printf "| RSS idle after the load (connections closed, 3 s later) | %d | %.1f |\n", idle, idle / mib
    }' "$OUT/samples.csv" >"$OUT/memory.md"
  cat "$OUT/memory.md" >>"$OUT/soak.md"
fi

cat "$OUT/machine.txt"
[[ -s "$OUT/memory.md" ]] && cat "$OUT/memory.md"
echo "server shutdown on SIGTERM: $([[ $SHUTDOWN_OK == 1 ]] && echo clean || echo 'NOT CLEAN')"
if ((DRIVER_RC != 0 || SHUTDOWN_OK != 1)); then
  log "SOAK FAILED (driver exit $DRIVER_RC, clean shutdown $SHUTDOWN_OK); results in $OUT"
  exit 1
fi
log "soak passed; results in $OUT"
