#!/usr/bin/env bash
# Runs the fuzz targets one at a time, nice'd, on one libFuzzer job each, and prints per target
# the executions, the coverage and any crash artifact. Not part of CI (.ci/run).
#
# Usage:
#   fuzz/run.sh                         every target, 60 s each
#   fuzz/run.sh 600                     every target, 600 s each
#   fuzz/run.sh -runs 2000000           every target, 2 000 000 executions each
#   fuzz/run.sh 120 claims token        only these targets, 120 s each
#
# Environment:
#   FUZZ_SANITIZER   cargo fuzz's sanitizer (default: address; `none` for raw speed)
#   FUZZ_ARGS        extra libFuzzer flags, e.g. "-seed=1 -max_len=2048"
#
# Each target reads its seeds (fuzz/seeds/<target>, committed) and grows its corpus in
# fuzz/corpus/<target>; crashes land in fuzz/artifacts/<target>/, libFuzzer's log in
# fuzz/logs/<target>/fuzz-0.log, the table in fuzz/logs/summary.md (all three git-ignored).
# Reproduce a finding: cargo +nightly fuzz run -a <target> fuzz/artifacts/<target>/crash-…
set -uo pipefail

FUZZ_DIR="$(cd "$(dirname "$0")" && pwd)"
ROOT="$(dirname "$FUZZ_DIR")"
ALL_TARGETS=(authorization jws_header compact claims token jwk login_form login_json phc)

limit=(-max_total_time=60)
label="60 s"
if [[ $# -gt 0 && $1 == -runs ]]; then
  [[ $# -ge 2 && $2 =~ ^[0-9]+$ ]] || { echo "usage: $0 [SECONDS | -runs N] [TARGET...]" >&2; exit 2; }
  limit=(-runs="$2")
  label="$2 runs"
  shift 2
elif [[ $# -gt 0 && $1 =~ ^[0-9]+$ ]]; then
  limit=(-max_total_time="$1")
  label="$1 s"
  shift
fi
targets=("$@")
[[ ${#targets[@]} -eq 0 ]] && targets=("${ALL_TARGETS[@]}")
for t in "${targets[@]}"; do
  [[ " ${ALL_TARGETS[*]} " == *" $t "* ]] || { echo "unknown target: $t (one of: ${ALL_TARGETS[*]})" >&2; exit 2; }
done

if ! cargo +nightly --version >/dev/null 2>&1; then
  echo "== installing the nightly toolchain (cargo fuzz needs it)"
  rustup toolchain install nightly --profile minimal || exit 1
fi
if ! cargo fuzz --version >/dev/null 2>&1; then
  echo "== installing cargo-fuzz"
  cargo install cargo-fuzz || exit 1
fi

sanitizer=(-s "${FUZZ_SANITIZER:-address}")
# -a: debug assertions (and overflow checks) on, so arithmetic slips panic too.
build=(cargo +nightly fuzz build --fuzz-dir "$FUZZ_DIR" -a "${sanitizer[@]}")
echo "== ${build[*]}"
(cd "$ROOT" && nice "${build[@]}") || exit 1

dict_for() {
  case "$1" in
    jws_header | claims | jwk | login_json | token) echo "$FUZZ_DIR/dict/jose.dict" ;;
    *) [[ -f "$FUZZ_DIR/dict/$1.dict" ]] && echo "$FUZZ_DIR/dict/$1.dict" ;;
  esac
}

mkdir -p "$FUZZ_DIR/logs"
summary="$FUZZ_DIR/logs/summary.md"
{
  echo "| target | executions | exec/s | cov | ft | corpus | findings |"
  echo "|---|---:|---:|---:|---:|---:|---|"
} >"$summary"
total=0
failed=0
for t in "${targets[@]}"; do
  echo "== $t ($label)"
  mkdir -p "$FUZZ_DIR/corpus/$t" "$FUZZ_DIR/artifacts/$t" "$FUZZ_DIR/logs/$t"
  before=$(ls "$FUZZ_DIR/artifacts/$t" | sort)
  dict=$(dict_for "$t")
  # libFuzzer writes its -jobs log to the working directory: run from the target's log folder.
  (
    cd "$FUZZ_DIR/logs/$t" && rm -f fuzz-0.log &&
      nice cargo +nightly fuzz run --fuzz-dir "$FUZZ_DIR" -a "${sanitizer[@]}" "$t" \
        "$FUZZ_DIR/corpus/$t" "$FUZZ_DIR/seeds/$t" -- \
        -jobs=1 -workers=1 -print_final_stats=1 -timeout=10 "${limit[@]}" \
        ${dict:+-dict="$dict"} ${FUZZ_ARGS:-}
  ) >"$FUZZ_DIR/logs/$t/run.out" 2>&1
  status=$?
  log="$FUZZ_DIR/logs/$t/fuzz-0.log"
  [[ -f $log ]] || log="$FUZZ_DIR/logs/$t/run.out"
  execs=$(grep -a 'stat::number_of_executed_units' "$log" | tail -1 | awk '{print $2}')
  rate=$(grep -a 'stat::average_exec_per_sec' "$log" | tail -1 | awk '{print $2}')
  last=$(grep -a -E '^#[0-9]+.*cov: ' "$log" | tail -1)
  cov=$(sed -n 's/.* cov: \([0-9]*\).*/\1/p' <<<"$last")
  ft=$(sed -n 's/.* ft: \([0-9]*\).*/\1/p' <<<"$last")
  corp=$(sed -n 's/.* corp: \([0-9]*\/[0-9A-Za-z]*\).*/\1/p' <<<"$last")
  new=$(comm -13 <(echo "$before") <(ls "$FUZZ_DIR/artifacts/$t" | sort) | sed '/^$/d')
  findings="none"
  if [[ -n $new || $status -ne 0 ]]; then
    failed=1
    findings="exit $status${new:+: $(echo $new)}"
    grep -a -m1 -A3 -E 'panicked at|ERROR: (libFuzzer|AddressSanitizer)' "$log" | sed 's/^/   /'
  fi
  total=$((total + ${execs:-0}))
  printf '   executions %s (%s exec/s), cov %s, ft %s, corpus %s, findings: %s\n' \
    "${execs:-?}" "${rate:-?}" "${cov:-?}" "${ft:-?}" "${corp:-?}" "$findings"
  echo "| $t | ${execs:-?} | ${rate:-?} | ${cov:-?} | ${ft:-?} | ${corp:-?} | $findings |" >>"$summary"
done
echo "| total | $total | | | | | |" >>"$summary"
echo "== total executions: $total (table in ${summary#"$ROOT"/})"
for t in "${targets[@]}"; do
  for a in "$FUZZ_DIR/artifacts/$t"/*; do
    [[ -e $a ]] && echo "   artifact: ${a#"$ROOT"/}  (reproduce: cargo +nightly fuzz run -a $t ${a#"$ROOT"/})"
  done
done
exit $failed
