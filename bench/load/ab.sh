#!/usr/bin/env bash
# Before and after in one run: the bench server of another commit against this tree's, with bare
# axum, interleaved round by round (BENCHMARKS.md, "Round two of the HS256 path").
#
#   bench/load/ab.sh BASE                 # BASE: any commit, branch or tag
#   VARIANTS="ours-hs256 ours-es256-cache" ROUNDS=5 bench/load/ab.sh 7429fe5
#
# Builds BASE's `bench/load` server in a temporary git worktree (its own target directory, kept
# in bench/load/target-ab/ between runs, so a second run with the same BASE builds nothing), and
# this tree's as run.sh does. Each round runs bare-axum08, then each variant built from BASE
# (`old`) and from this tree (`new`): one server process each, pinned to CPU 0 with one tokio
# worker, `wrk -t1 -c32` on CPU 1, 1 s of warm-up (WARMUP) then DURATION (4) seconds measured.
# Prints a line per measurement (req/s, server CPU µs per request) and, per variant, the median
# ratios to bare and of new to old. Everything stays on 127.0.0.1; nothing is left running.
set -euo pipefail

BASE=${1:?usage: bench/load/ab.sh BASE-COMMIT}
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
ROUNDS=${ROUNDS:-5}
DURATION=${DURATION:-4}
WARMUP=${WARMUP:-1}
VARIANTS=${VARIANTS:-ours-hs256 ours-es256-cache}
log() { printf '[%(%H:%M:%S)T] %s\n' -1 "$*" >&2; }

for tool in wrk curl taskset; do
  command -v "$tool" >/dev/null || { echo "$tool is required (run bench/load/run.sh once: it installs them)" >&2; exit 1; }
done

base_rev=$(git -C "$ROOT" rev-parse --verify "$BASE^{commit}")
WORKTREE=$(mktemp -d)
SERVER_PID=
cleanup() {
  [[ -n "$SERVER_PID" ]] && kill "$SERVER_PID" 2>/dev/null && wait "$SERVER_PID" 2>/dev/null
  git -C "$ROOT" worktree remove --force "$WORKTREE" 2>/dev/null || rm -rf "$WORKTREE"
  return 0
}
trap cleanup EXIT
trap 'exit 130' INT TERM

log "building $BASE ($base_rev) in a worktree"
git -C "$ROOT" worktree add --detach --quiet "$WORKTREE" "$base_rev"
OLD_TARGET=$HERE/target-ab/$base_rev
CARGO_TARGET_DIR=$OLD_TARGET cargo build --release --quiet \
  --manifest-path "$WORKTREE/bench/load/Cargo.toml" --bin server
log "building this tree"
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$HERE/target}
cargo build --release --quiet --manifest-path "$HERE/Cargo.toml" --bin server --bin mint
OLD=$OLD_TARGET/release/server
NEW=$CARGO_TARGET_DIR/release/server

KEYS=$(mktemp -d)
trap 'cleanup; rm -rf "$KEYS"' EXIT
export BENCH_KEYS=$KEYS
"$CARGO_TARGET_DIR/release/mint" "$KEYS" >/dev/null

cpu_ns() {
  local total=0 ns t
  for t in /proc/"$1"/task/*/schedstat; do
    read -r ns _ <"$t" 2>/dev/null || continue
    total=$((total + ns))
  done
  echo "$total"
}

port=$((38600 + RANDOM % 300))
RESULTS=$(mktemp)
# measure ROUND NAME BINARY VARIANT: one server, one measurement, one line in $RESULTS.
measure() {
  local round=$1 name=$2 bin=$3 variant=$4 alg out req rps c0 c1
  alg=${variant#ours-}; alg=${alg#remote-}; alg=${alg%-unread}; alg=${alg%-lean}; alg=${alg%-cache}
  [[ $variant == bare-* ]] && alg=hs256
  # A port in the ephemeral range can be held by a client socket of an earlier measurement:
  # a server that does not come up is tried again on the next port.
  local attempt up=
  for attempt in 1 2 3 4 5; do
    port=$((port + 1))
    PORT=$port taskset -c 0 "$bin" "$variant" 2>/dev/null &
    SERVER_PID=$!
    for _ in $(seq 100); do
      curl -fs -o /dev/null "http://127.0.0.1:$port/health" && { up=1; break; }
      kill -0 "$SERVER_PID" 2>/dev/null || break
      sleep 0.05
    done
    [[ -n $up ]] && break
    kill "$SERVER_PID" 2>/dev/null; wait "$SERVER_PID" 2>/dev/null || true
    log "$variant did not start on port $port (attempt $attempt)"
  done
  [[ -n $up ]] || { echo "$variant would not start" >&2; exit 1; }
  local token
  token=$(cat "$KEYS/$alg.token")
  TOKEN=$token taskset -c 1 wrk -t1 -c32 -d"${WARMUP}s" -s "$HERE/lua/bearer.lua" "http://127.0.0.1:$port/me" >/dev/null
  c0=$(cpu_ns "$SERVER_PID")
  out=$(TOKEN=$token taskset -c 1 wrk -t1 -c32 -d"${DURATION}s" -s "$HERE/lua/bearer.lua" "http://127.0.0.1:$port/me" | grep RESULT)
  c1=$(cpu_ns "$SERVER_PID")
  kill "$SERVER_PID"; wait "$SERVER_PID" 2>/dev/null || true
  SERVER_PID=
  req=$(sed -E 's/.*requests=([0-9]+).*/\1/' <<<"$out")
  rps=$(sed -E 's/.*rps=([0-9.]+).*/\1/' <<<"$out")
  printf '%s\t%s\t%s\t%s\n' "$round" "$name" "$rps" \
    "$(awk -v c=$((c1 - c0)) -v r="$req" 'BEGIN { printf "%.2f", c / r / 1000 }')" | tee -a "$RESULTS"
}

printf 'round\tserver\treq/s\tcpu_us_per_req\n'
for round in $(seq "$ROUNDS"); do
  measure "$round" bare "$NEW" bare-axum08
  for v in $VARIANTS; do
    measure "$round" "old-$v" "$OLD" "$v"
    measure "$round" "new-$v" "$NEW" "$v"
  done
done

# Per variant: the medians over the rounds of old/bare, new/bare and new/old (req/s).
python3 - "$RESULTS" $VARIANTS <<'EOF'
import statistics, sys
rows = [line.split("\t") for line in open(sys.argv[1]).read().splitlines()]
by = {}
for round_, name, rps, _ in rows:
    by.setdefault(round_, {})[name] = float(rps)
print(f"\n{'variant':<24}{'old / bare':>12}{'new / bare':>12}{'new / old':>12}   (medians over {len(by)} rounds)")
for v in sys.argv[2:]:
    old = [r[f"old-{v}"] / r["bare"] for r in by.values()]
    new = [r[f"new-{v}"] / r["bare"] for r in by.values()]
    gain = [r[f"new-{v}"] / r[f"old-{v}"] for r in by.values()]
    print(f"{v:<24}{statistics.median(old):>11.2f}x{statistics.median(new):>11.2f}x{statistics.median(gain):>11.2f}x")
EOF
rm -f "$RESULTS"
