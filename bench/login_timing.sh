#!/usr/bin/env bash
# Login timing: is a refused login equally slow whatever the reason (unknown user, wrong
# password, disabled account, unusable stored hash)? Builds and runs
# bench/load/src/bin/login_timing.rs (release): 200 interleaved rounds of
# `LoginService::authenticate` per case at the default password policy (argon2id m=19456 KiB,
# t=2, p=1) and the default hashing pool, after 5 warm-up rounds.
#
#   bench/login_timing.sh                      # 200 rounds, target: medians within 5%
#   bench/login_timing.sh --rounds 400         # any argument is passed to login_timing
#   bench/login_timing.sh --normal-priority    # pool workers at normal priority, not nice 19
#
# Prints a table (case, median, p10, p90, min, max, median ÷ unknown_user median) and exits 1
# when the spread of the medians (max ÷ min − 1) is above 5% (--tolerance-pct). The samples are
# written to bench/login_timing-results/<UTC time>.json. On a machine shared with CPU-bound
# jobs, the pool's workers (nice 19) get the leftovers: run it twice, or with --normal-priority,
# if a run looks noisy (wide p10–p90).
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
LOAD=$HERE/load
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$LOAD/target}
OUT=${OUT:-$HERE/login_timing-results}
mkdir -p "$OUT"

if [[ "${SKIP_BUILD:-0}" != 1 ]]; then
  (cd "$LOAD" && nice -n "${NICE_BUILD:-10}" cargo build --release --quiet --bin login_timing)
fi
echo "date: $(date); nproc: $(nproc); loadavg: $(cut -d' ' -f1-3 /proc/loadavg)"
exec "$CARGO_TARGET_DIR/release/login_timing" --json "$OUT/$(date -u +%Y%m%dT%H%M%SZ).json" "$@"
