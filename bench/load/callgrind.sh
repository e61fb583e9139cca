#!/usr/bin/env bash
# Instructions per request of bench/load server variants, under callgrind: a count that does not
# move with the machine's load, to compare what the load runs (run.sh, ab.sh) can only show
# through noise (BENCHMARKS.md, "The cached path under callgrind").
#
#   bench/load/callgrind.sh bare-axum08 tower-http-bearer ours-hs256-cache
#   REPEAT=3 SERVER=/tmp/old-server bench/load/callgrind.sh ours-hs256-cache
#   bench/load/callgrind.sh --diff OUT/ours-hs256-cache.1 OUT/tower-http-bearer.1
#
# Each variant's server runs under `valgrind --tool=callgrind` twice, for FEW then MANY keep-alive
# GET /me requests (one connection, one request at a time, from Python's http.client) with the
# variant's token; the difference of the two totals divided by MANY - FEW is the figure printed
# (start-up and shutdown cancel out). REPEAT runs of that give a median: the count varies by a
# few percent between runs, with how tokio's timer and park paths fall between requests.
#
# `--diff A B` prints, per function, the instructions per request it runs itself (not its
# callees) in run B minus run A, largest first: where the difference between two variants is.
#
# Knobs (environment): SERVER (a server binary; default this tree's, built here), FEW (200),
# MANY (1200), REPEAT (1), OUT (directory for callgrind's files; default a new one under
# bench/load/results). Needs valgrind and python3 (valgrind is installed with apt when missing).
# Everything stays on 127.0.0.1; nothing is left running.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
FEW=${FEW:-200}
MANY=${MANY:-1200}
REPEAT=${REPEAT:-1}
log() { printf '[%(%H:%M:%S)T] %s\n' -1 "$*" >&2; }

# Self instructions per function between two runs of one variant (FEW, MANY), as JSON lines.
per_function() {
  python3 - "$@" <<'PY'
import collections, re, subprocess, sys

def profile(path):
    out = subprocess.run(
        ["callgrind_annotate", "--auto=no", "--threshold=100", "--inclusive=no", path],
        capture_output=True, text=True, check=True).stdout
    counts = collections.Counter()
    for line in out.splitlines():
        m = re.match(r"\s*([\d,]+) \([ \d.]+%\)\s+(.*)", line)
        if m and "PROGRAM TOTALS" not in line:
            name = re.sub(r" \[.*\]$", "", m.group(2)).split(":", 1)[-1]
            counts[name[:160]] += int(m.group(1).replace(",", ""))
    return counts

def per_request(run):
    few, many = open(run + "/requests").read().split()
    a, b = profile(run + "/few.out"), profile(run + "/many.out")
    n = int(many) - int(few)
    return {k: (b[k] - a.get(k, 0)) / n for k in b.keys() | a.keys()}

base, other = per_request(sys.argv[1]), per_request(sys.argv[2])
rows = sorted(base.keys() | other.keys(), key=lambda k: other.get(k, 0) - base.get(k, 0), reverse=True)
print(f"{'B - A':>8} {'A':>8} {'B':>8}  function (self instructions per request)")
shown = [k for k in rows if abs(other.get(k, 0) - base.get(k, 0)) >= 5]
if len(shown) > 50:
    shown = shown[:40] + ["..."] + shown[-10:]
for k in shown:
    if k == "...":
        print("     ...")
    else:
        print(f"{other.get(k, 0) - base.get(k, 0):8.0f} {base.get(k, 0):8.0f} {other.get(k, 0):8.0f}  {k}")
total = sum(other.values()) - sum(base.values())
print(f"{total:8.0f} {sum(base.values()):8.0f} {sum(other.values()):8.0f}  (all functions)")
PY
}

if [[ "${1:-}" == --diff ]]; then
  [[ $# == 3 ]] || { echo "usage: $0 --diff RUN_A RUN_B" >&2; exit 2; }
  per_function "$2" "$3"
  exit 0
fi
(($# > 0)) || { echo "usage: $0 VARIANT... | --diff RUN_A RUN_B" >&2; exit 2; }

if ! command -v valgrind >/dev/null; then
  log "installing valgrind"
  apt-get install -y -qq valgrind >/dev/null
fi
if [[ -z "${SERVER:-}" ]]; then
  export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$HERE/target}
  cargo build --release --quiet --manifest-path "$HERE/Cargo.toml" --bin server --bin mint
  SERVER=$CARGO_TARGET_DIR/release/server
  MINT=$CARGO_TARGET_DIR/release/mint
else
  MINT=$(dirname "$SERVER")/mint
fi
OUT=${OUT:-$HERE/results/callgrind-$(date -u +%Y%m%dT%H%M%SZ)}
mkdir -p "$OUT"
export BENCH_KEYS=$OUT/keys
[[ -f $BENCH_KEYS/hs256.token ]] || "$MINT" "$BENCH_KEYS" >/dev/null

SERVER_PID=
cleanup() {
  [[ -n "$SERVER_PID" ]] && kill -9 "$SERVER_PID" 2>/dev/null && wait "$SERVER_PID" 2>/dev/null
  return 0
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# client PORT N TOKEN: waits for /health, then N keep-alive GET /me, each answered 200.
client() {
  python3 - "$@" <<'PY'
import http.client, sys, time
port, n, token = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
for _ in range(600):
    try:
        c = http.client.HTTPConnection("127.0.0.1", port)
        c.request("GET", "/health")
        c.getresponse().read()
        break
    except OSError:
        time.sleep(0.1)
else:
    sys.exit("the server did not answer /health")
headers = {"Authorization": "Bearer " + token} if token else {}
for _ in range(n):
    c.request("GET", "/me", headers=headers)
    r = c.getresponse()
    r.read()
    if r.status != 200:
        sys.exit(f"GET /me answered {r.status}")
PY
}

token_for() {
  local variant=${1%-unread}; variant=${variant%-lean}
  case ${variant%-cache} in
    *es256) cat "$BENCH_KEYS/es256.token" ;;
    *rs256) cat "$BENCH_KEYS/rs256.token" ;;
    *eddsa) cat "$BENCH_KEYS/eddsa.token" ;;
    bare-*) echo "" ;;
    *) cat "$BENCH_KEYS/hs256.token" ;;
  esac
}

# total FILE: the instructions a callgrind file counted (each dump states them once, as its
# `summary:`, and again as its `totals:`).
total() { awk '/^summary:/{s += $2} END {print s}' "$1"; }

port=38700
for variant in "$@"; do
  figures=()
  for ((r = 1; r <= REPEAT; r++)); do
    run=$OUT/$variant.$r
    mkdir -p "$run"
    echo "$FEW $MANY" >"$run/requests"
    for phase in few many; do
      n=$FEW
      [[ $phase == many ]] && n=$MANY
      port=$((port + 1))
      PORT=$port valgrind --tool=callgrind --callgrind-out-file="$run/$phase.raw" \
        "$SERVER" "$variant" >"$run/$phase.log" 2>&1 &
      SERVER_PID=$!
      client "$port" "$n" "$(token_for "$variant")"
      # Dump the counts so far (the server runs until killed), then stop it.
      callgrind_control -d "$SERVER_PID" >/dev/null 2>&1
      for _ in $(seq 100); do
        compgen -G "$run/$phase.raw.*" >/dev/null && break
        sleep 0.1
      done
      sleep 0.5
      kill -9 "$SERVER_PID" 2>/dev/null
      wait "$SERVER_PID" 2>/dev/null || true
      SERVER_PID=
      cat "$run"/"$phase".raw.* >"$run/$phase.out"
      rm -f "$run/$phase".raw*
    done
    figures+=("$(( ($(total "$run/many.out") - $(total "$run/few.out")) / (MANY - FEW) ))")
  done
  median=$(printf '%s\n' "${figures[@]}" | sort -n | awk '{a[NR] = $1} END {print a[int((NR + 1) / 2)]}')
  printf '%-24s %8s instructions per request (runs: %s)\n' "$variant" "$median" "${figures[*]}"
done
log "callgrind files in $OUT (compare two runs with: $0 --diff $OUT/A.1 $OUT/B.1)"
