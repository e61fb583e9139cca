#!/usr/bin/env bash
# Investigation behind BENCHMARKS.md's reading of the login storm (not part of run.sh):
# GET /me p99 during a login storm, for the pool as shipped and for three changes that the
# crate could make, each measured in the same interleaved rounds:
#
#   default   the pool as shipped (one argon2 worker per core, normal priority)
#   nice19    the same, argon2-worker-* threads reniced to 19 after start-up (SCHED_OTHER)
#   idle      the same, argon2-worker-* threads moved to SCHED_IDLE (chrt -i 0)
#   workers1  ARGON2_WORKERS=1 (one hashing thread on a two-core machine)
#   mmap      MALLOC_MMAP_THRESHOLD_=1048576 (each 19 MiB argon2 block freed back to the OS)
#
# Usage: CARGO_TARGET_DIR=… bench/load/investigate_login.sh   (after run.sh has built)
# Knobs: ROUNDS (3), DURATION (5), CONNS (32), LOGIN_CONNS (8). Loopback only, bounded.
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$HERE/target}
BIN=$CARGO_TARGET_DIR/release
ROUNDS=${ROUNDS:-3} DURATION=${DURATION:-5} CONNS=${CONNS:-32} LOGIN_CONNS=${LOGIN_CONNS:-8}
OUT=${OUT:-$(mktemp -d)}
"$BIN/mint" "$OUT/keys" >/dev/null
PW=$(head -c 18 /dev/urandom | base64 | tr '+/' '-_' | tr -d '=')
PORT=38590
SERVER_PID=
STORM_PID=
trap '[[ -n $SERVER_PID ]] && kill $SERVER_PID 2>/dev/null; [[ -n $STORM_PID ]] && kill $STORM_PID 2>/dev/null; true' EXIT

wrk_run() { # url script secs conns
  wrk -t1 -c"$4" -d"$3s" --timeout 10s -s "$2" "$1" 2>&1 | sed -n 's/^RESULT //p'
}
field() { sed -n "s/.*\b$1=\([^ ]*\).*/\1/p" <<<"$2"; }

printf 'round\tsetup\tme_idle_rps\tme_storm_rps\tme_idle_p99_us\tme_storm_p99_us\tlogins_per_s\thwm_kib\n' | tee "$OUT/investigate.tsv"
for ((round = 1; round <= ROUNDS; round++)); do
  for setup in default nice19 idle workers1 mmap; do
    PORT=$((PORT + 1))
    envs=(JWT_SECRET="$(cat "$OUT/keys/hs256.secret")" DEMO_PASSWORD="$PW" PORT=$PORT)
    [[ $setup == workers1 ]] && envs+=(ARGON2_WORKERS=1)
    [[ $setup == mmap ]] && envs+=(MALLOC_MMAP_THRESHOLD_=1048576)
    env "${envs[@]}" "$BIN/login_server" pool 2>/dev/null &
    SERVER_PID=$!
    for _ in $(seq 100); do curl -fs -o /dev/null "http://127.0.0.1:$PORT/health" && break; sleep 0.05; done
    for task in /proc/$SERVER_PID/task/*; do
      if [[ $(cat "$task/comm") == argon2-worker-* ]]; then
        case $setup in
          nice19) renice -n 19 -p "${task##*/}" >/dev/null ;;
          idle) chrt -i -p 0 "${task##*/}" ;;
        esac
      fi
    done
    base=http://127.0.0.1:$PORT
    token=$(curl -s -X POST "$base/login" -d grant_type=password -d username=demo -d "password=$PW" |
      sed -n 's/.*"access_token":"\([^"]*\)".*/\1/p')
    TOKEN=$token wrk_run "$base/me" "$HERE/lua/bearer.lua" 1 "$CONNS" >/dev/null
    idle=$(TOKEN=$token wrk_run "$base/me" "$HERE/lua/bearer.lua" "$DURATION" "$CONNS")
    DEMO_PASSWORD=$PW wrk_run "$base/login" "$HERE/lua/login.lua" $((DURATION + 2)) "$LOGIN_CONNS" >"$OUT/storm" &
    STORM_PID=$!
    sleep 1
    storm=$(TOKEN=$token wrk_run "$base/me" "$HERE/lua/bearer.lua" "$DURATION" "$CONNS")
    wait $STORM_PID || true
    STORM_PID=
    hwm=$(awk '/^VmHWM/{print $2}' /proc/$SERVER_PID/status)
    kill $SERVER_PID; wait $SERVER_PID 2>/dev/null || true; SERVER_PID=
    printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$round" "$setup" "$(field rps "$idle")" "$(field rps "$storm")" \
      "$(field p99_us "$idle")" "$(field p99_us "$storm")" "$(field rps "$(cat "$OUT/storm")")" "$hwm" |
      tee -a "$OUT/investigate.tsv"
  done
done
echo "results: $OUT/investigate.tsv" >&2
