#!/usr/bin/env bash
# End-to-end load comparison on loopback, and the login benchmarks (BENCHMARKS.md).
#
#   bench/load/run.sh            # full run: 5 (GET /me) and 3 (login) interleaved rounds, 4 s each
#   QUICK=1 bench/load/run.sh    # smoke run: 1 round, 2 s per measurement
#
# Knobs (environment): ROUNDS, LOGIN_ROUNDS, DURATION (s), WARMUP (s), CONNS (wrk connections for GET /me),
# LOGIN_CONNS, VARIANTS (space-separated list, replaces the default list below), EXTRA_VARIANTS
# (appended to it, e.g. the opt-in peers), SKIP_LOGIN=1 (skip the login benchmarks: POST /login,
# /me during a login storm; the GET /me comparison alone), SKIP_LOAD=1 (the login benchmarks
# alone), CARGO_TARGET_DIR (default bench/load/target), OUT (results directory), BENCH_NICE
# (e.g. -10: run servers and load generators at that niceness, to win the CPU from other work on
# a shared machine; default: not changed).
#
# Variants (GET /me; one server process each, pinned to CPU 0, one tokio worker):
#   bare-axum08, bare-axum07            no authentication: the baselines (axum 0.8, 0.7)
#   ours-{hs256,es256,rs256,eddsa}      JwtAuthLayer, the crate's default (RustCrypto) backend,
#                                       cache_verified_tokens(0); `-cache`: (1024)
#   ours-remote-{es256,rs256,eddsa}     the same, keys through RemoteKeys from a loopback JWKS
#   ours-*-lean                         any ours-* above, the layer deserializing a claims type of
#                                       its own holding `sub` alone (not the default Claims)
#   ours-*-unread                       any ours-* above (or -lean), its handler not taking the claims
#   awslc-ours-*                        any ours-* above, built with the crate's `aws-lc` feature
#                                       (bench/load/ours-aws-lc; only when the crate has it)
#   jwt-awslc-{hs256,es256,rs256,eddsa} a 30-line layer around jsonwebtoken::decode, aws-lc-rs
#                                       backend (bench/load/jwt-aws-lc)
#   axum-jwt-auth-*, oauth2rs-*, jwt-authorizer-* (hs256, es256), tower-http-bearer: other peers
# Opt-in (not in the default list, add them with EXTRA_VARIANTS): tower-http-bearer (a static
# string compare, no JWT), tower-http-bearer-ext (the same, plus a fixed Arc of claims put in
# the extensions for the handler: the floor of a layer that hands claims on), ours-*-lean,
# axum-jwt-auth-es256 and oauth2rs-es256 (jsonwebtoken's RustCrypto ES256, as ours-es256),
# awslc-ours-*-cache (a cache hit skips the signature: the backend does not matter),
# ours-remote-{rs256,eddsa}[-cache], awslc-ours-remote-*.
#
# Everything targets 127.0.0.1 only; every wrk run is bounded by -d. Each server variant runs in
# its own process, started and stopped by this script; nothing is left running.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
START_TIME=$(date +%s)

if [[ "${QUICK:-0}" == 1 ]]; then
  ROUNDS=${ROUNDS:-1} LOGIN_ROUNDS=${LOGIN_ROUNDS:-1} DURATION=${DURATION:-2} WARMUP=${WARMUP:-1}
  ARGON2_N=${ARGON2_N:-5}
else
  ROUNDS=${ROUNDS:-5} LOGIN_ROUNDS=${LOGIN_ROUNDS:-3} DURATION=${DURATION:-4} WARMUP=${WARMUP:-1}
  ARGON2_N=${ARGON2_N:-9}
fi
CONNS=${CONNS:-32}
LOGIN_CONNS=${LOGIN_CONNS:-8}
DEFAULT_VARIANTS="bare-axum08
  ours-hs256 ours-hs256-cache ours-es256 ours-es256-cache
  ours-rs256 ours-rs256-cache ours-eddsa ours-eddsa-cache
  ours-remote-es256 ours-remote-es256-cache
  awslc-ours-hs256 awslc-ours-es256 awslc-ours-rs256 awslc-ours-eddsa
  jwt-awslc-hs256 jwt-awslc-es256 jwt-awslc-rs256 jwt-awslc-eddsa
  axum-jwt-auth-hs256 oauth2rs-hs256
  bare-axum07 jwt-authorizer-hs256 jwt-authorizer-es256"
VARIANTS=$(echo ${VARIANTS:-$DEFAULT_VARIANTS} ${EXTRA_VARIANTS:-})
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$HERE/target}
OUT=${OUT:-$HERE/results/$(date -u +%Y%m%dT%H%M%SZ)}
BIN=$CARGO_TARGET_DIR/release
LUA=$HERE/lua
PORT_BASE=38100
port_n=0

log() { printf '[%(%H:%M:%S)T] %s\n' -1 "$*" >&2; }

# --- tools -------------------------------------------------------------------------------------
need_apt=()
command -v wrk >/dev/null || need_apt+=(wrk)
command -v curl >/dev/null || need_apt+=(curl)
command -v taskset >/dev/null || need_apt+=(util-linux)
[[ -x /usr/bin/time ]] || need_apt+=(time)
if ((${#need_apt[@]})); then
  log "installing ${need_apt[*]} from Debian"
  if [[ $(id -u) == 0 ]]; then
    apt-get update -qq && apt-get install -y -qq "${need_apt[@]}" >/dev/null
  else
    sudo apt-get update -qq && sudo apt-get install -y -qq "${need_apt[@]}" >/dev/null
  fi
fi
command -v cargo >/dev/null || { echo "cargo is required (rustup)" >&2; exit 1; }

# --- build -------------------------------------------------------------------------------------
wants() { [[ " $VARIANTS " == *" $1"* ]]; } # wants PREFIX: a variant of VARIANTS starts with it
# The crate's `aws-lc` feature (a line `aws-lc = ...` in the [features] table of its Cargo.toml;
# build.rs makes the same test for the report).
HAS_AWS_LC=0
awk '/^\[/{f=($0=="[features]")} f&&/^aws-lc[ \t]*=/{found=1} END{exit !found}' "$ROOT/Cargo.toml" &&
  HAS_AWS_LC=1

log "building the bench workspace (release) into $CARGO_TARGET_DIR"
build_start=$(date +%s)
cargo build --release --quiet --manifest-path "$HERE/Cargo.toml" --bins
# Two small workspaces of their own, in the same target dir (their binaries have other names):
# the jsonwebtoken + aws-lc-rs peer, and ours with the crate's aws-lc backend.
if wants jwt-awslc-; then
  log "building the jsonwebtoken + aws-lc-rs peer (bench/load/jwt-aws-lc)"
  cargo build --release --quiet --manifest-path "$HERE/jwt-aws-lc/Cargo.toml"
fi
if wants awslc-ours-; then
  if ((HAS_AWS_LC)); then
    log "building ours with the crate's aws-lc feature (bench/load/ours-aws-lc)"
    cargo build --release --quiet --manifest-path "$HERE/ours-aws-lc/Cargo.toml"
  else
    log "the crate has no aws-lc feature ($ROOT/Cargo.toml): the awslc-ours-* variants are skipped"
  fi
fi
BUILD_SECS=$(($(date +%s) - build_start))

mkdir -p "$OUT"
KEYS=$OUT/keys
export BENCH_KEYS=$KEYS
"$BIN/mint" "$KEYS" >"$OUT/mint.txt"

# --- machine -----------------------------------------------------------------------------------
{
  echo "date_utc=$(date -u +%Y-%m-%dT%H:%M:%SZ)"
  echo "nproc=$(nproc)"
  echo "cpu=$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//')"
  echo "kernel=$(uname -r)"
  echo "rustc=$(rustc -V)"
  echo "wrk=$(wrk -v 2>&1 | head -1 | cut -d' ' -f1-2)"
  echo "loadavg_start=$(cut -d' ' -f1-3 /proc/loadavg)"
  echo "rounds=$ROUNDS"
  echo "login_rounds=$LOGIN_ROUNDS"
  echo "duration_s=$DURATION"
  echo "warmup_s=$WARMUP"
  echo "conns=$CONNS"
  echo "login_conns=$LOGIN_CONNS"
  echo "has_aws_lc=$HAS_AWS_LC"
  echo "variants=$VARIANTS"
  echo "git_head=$(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo unknown)"
  echo "git_uncommitted_src=$(git -C "$ROOT" status --porcelain -- src 2>/dev/null | awk '{print $2}' | tr '\n' ' ')"
  echo "mint=$(cat "$OUT/mint.txt")"
} >"$OUT/machine.txt"

NICE=()
if [[ -n "${BENCH_NICE:-}" ]]; then
  NICE=(nice -n "$BENCH_NICE")
  echo "nice=$BENCH_NICE" >>"$OUT/machine.txt"
fi
SERVER_CPU=
LOAD_CPU=
if (($(nproc) >= 2)); then
  SERVER_CPU=0
  LOAD_CPU=1
  SERVER_PIN=("${NICE[@]}" taskset -c 0)
  LOAD_PIN=("${NICE[@]}" taskset -c 1)
  echo "pinning=server:cpu0 load:cpu1" >>"$OUT/machine.txt"
else
  SERVER_PIN=("${NICE[@]}")
  LOAD_PIN=("${NICE[@]}")
  echo "pinning=none (one cpu)" >>"$OUT/machine.txt"
fi

# --- helpers -----------------------------------------------------------------------------------
SERVER_PID=
BG_PIDS=()
cleanup() {
  for pid in ${SERVER_PID:-} "${BG_PIDS[@]}"; do
    [[ -n "$pid" ]] && kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null
  done
  return 0
}
trap cleanup EXIT
trap 'exit 130' INT TERM

next_port() { port_n=$(((port_n + 1) % 400)); echo $((PORT_BASE + port_n)); }

# start_server PORT CMD... : starts, waits for /health, sets SERVER_PID.
start_server() {
  local port=$1; shift
  PORT=$port "$@" 2>>"$OUT/servers.log" &
  SERVER_PID=$!
  for _ in $(seq 100); do
    curl -fs -o /dev/null "http://127.0.0.1:$port/health" && return 0
    kill -0 "$SERVER_PID" 2>/dev/null || { SERVER_PID=; return 1; }
    sleep 0.05
  done
  return 1
}

stop_server() {
  if [[ -n "$SERVER_PID" ]]; then
    kill "$SERVER_PID" 2>/dev/null || true
    wait "$SERVER_PID" 2>/dev/null || true
    SERVER_PID=
  fi
}

# Nanoseconds the process (all threads) has spent on a CPU.
cpu_ns() {
  local total=0 t
  for t in /proc/"$1"/task/*/schedstat; do
    read -r ns _ <"$t" 2>/dev/null || continue
    total=$((total + ns))
  done
  echo "$total"
}
hwm_kib() { awk '/^VmHWM/{print $2}' "/proc/$1/status"; }
# Nanoseconds CPU $1 (or all CPUs: "") has been busy (user, nice, system, irq, softirq, steal).
cpu_busy_ns() {
  awk -v cpu="cpu$1" -v hz="$(getconf CLK_TCK)" '$1==cpu{printf "%.0f", ($2+$3+$4+$7+$8+$9)*1e9/hz}' /proc/stat
}

# wrk_run URL SCRIPT SECONDS CONNS [pin...]: prints the RESULT fields (k=v ...).
# With WRK_TIME=FILE, wrk's own CPU seconds (user system) are written to FILE.
wrk_run() {
  local url=$1 script=$2 secs=$3 conns=$4; shift 4
  local timer=()
  [[ -n "${WRK_TIME:-}" ]] && timer=(/usr/bin/time -f '%U %S' -o "$WRK_TIME")
  "$@" "${timer[@]}" wrk -t1 -c"$conns" -d"${secs}s" --timeout 10s -s "$script" "$url" 2>&1 |
    sed -n 's/^RESULT //p'
}
field() { sed -n "s/.*\b$1=\([^ ]*\).*/\1/p" <<<"$2"; }

# --- item 3: the load comparison -----------------------------------------------------------------
# The token (and key files) of a variant: by the algorithm its name ends with, before `-cache`.
token_for() {
  local variant=${1%-unread}; variant=${variant%-lean}
  case ${variant%-cache} in
    *es256) echo es256 ;;
    *rs256) echo rs256 ;;
    *eddsa) echo eddsa ;;
    *) echo hs256 ;;
  esac
}
binary_for() {
  case $1 in
    bare-axum07 | jwt-authorizer-*) echo server07 ;;
    awslc-ours-*) echo server-awslc ;;
    jwt-awslc-*) echo jwt-awslc ;;
    *) echo server ;;
  esac
}

run_load() {
  local results=$OUT/load.tsv checks=$OUT/checks.tsv
  printf 'round\tvariant\trps\tp50_us\tp99_us\tnon2xx\tsockerr\tserver_cpu_pct\tcpu_us_per_req\tneighbours_cpu0_pct\tneighbours_cpu1_pct\thwm_kib\n' >"$results"
  printf 'variant\tgood\tbad-sig\tbad-iss\tbad-aud\texpired\tno-exp\tno-token\n' >"$checks"
  local round variant port alg token bin result
  for ((round = 1; round <= ROUNDS; round++)); do
    for variant in $VARIANTS; do
      bin=$(binary_for "$variant")
      if [[ $bin == server-awslc ]] && ((!HAS_AWS_LC)); then
        ((round == 1)) && log "skip $variant: the crate has no aws-lc feature"
        continue
      fi
      port=$(next_port)
      alg=$(token_for "$variant")
      token=$(cat "$KEYS/$alg.token")
      if ! start_server "$port" "${SERVER_PIN[@]}" "$BIN/$bin" "$variant"; then
        log "round $round $variant: server failed to start (see $OUT/servers.log)"
        stop_server
        continue
      fi
      local url=http://127.0.0.1:$port/me
      local code
      code=$(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $token" "$url")
      if [[ $code != 200 ]]; then
        log "round $round $variant: the benchmark token got $code, not 200: variant skipped"
        stop_server
        continue
      fi
      if ((round == 1)); then
        local row="$variant\t$code" kind
        for kind in bad-sig bad-iss bad-aud expired no-exp; do
          row+="\t$(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $(cat "$KEYS/$alg.$kind.token")" "$url")"
        done
        row+="\t$(curl -s -o /dev/null -w '%{http_code}' "$url")"
        printf "$row\n" >>"$checks"
      fi
      TOKEN=$token wrk_run "$url" "$LUA/bearer.lua" "$WARMUP" "$CONNS" "${LOAD_PIN[@]}" >/dev/null
      local cpu0 cpu1 t0 t1 busy0 busy1 lbusy0 lbusy1 wrk_cpu
      busy0=$(cpu_busy_ns "$SERVER_CPU"); lbusy0=$(cpu_busy_ns "$LOAD_CPU")
      cpu0=$(cpu_ns "$SERVER_PID"); t0=$(date +%s%N)
      result=$(TOKEN=$token WRK_TIME=$OUT/.wrk_time wrk_run "$url" "$LUA/bearer.lua" "$DURATION" "$CONNS" "${LOAD_PIN[@]}")
      busy1=$(cpu_busy_ns "$SERVER_CPU"); lbusy1=$(cpu_busy_ns "$LOAD_CPU")
      cpu1=$(cpu_ns "$SERVER_PID"); t1=$(date +%s%N)
      wrk_cpu=$(awk 'NR==1{printf "%.0f", ($1+$2)*1e9}' "$OUT/.wrk_time" 2>/dev/null || echo 0)
      local requests rps p50 p99 non2xx sockerr hwm
      requests=$(field requests "$result"); rps=$(field rps "$result")
      p50=$(field p50_us "$result"); p99=$(field p99_us "$result")
      non2xx=$(field non2xx "$result"); sockerr=$(field sockerr "$result")
      hwm=$(hwm_kib "$SERVER_PID")
      stop_server
      local cpu_pct per_req others
      cpu_pct=$(awk -v c=$((cpu1 - cpu0)) -v t=$((t1 - t0)) 'BEGIN{printf "%.1f", 100*c/t}')
      # What else ran meanwhile on the server's CPU (n0) and on the load generator's (n1): other
      # processes of this machine, in % of one CPU. With one CPU, n0 is the whole machine.
      local n0 n1
      n0=$(awk -v b=$((busy1 - busy0)) -v c=$((cpu1 - cpu0)) -v w="${wrk_cpu:-0}" -v t=$((t1 - t0)) \
        -v one="$([[ -z $SERVER_CPU ]] && echo 1 || echo 0)" \
        'BEGIN{o=b-c; if (one) o-=w; if (o<0) o=0; printf "%.1f", 100*o/t}')
      n1=$(awk -v b=$((lbusy1 - lbusy0)) -v w="${wrk_cpu:-0}" -v t=$((t1 - t0)) \
        -v one="$([[ -z $SERVER_CPU ]] && echo 1 || echo 0)" \
        'BEGIN{o=b-w; if (one||o<0) o=0; printf "%.1f", 100*o/t}')
      others="$n0\t$n1"
      per_req=$(awk -v c=$((cpu1 - cpu0)) -v n="${requests:-0}" 'BEGIN{if(n>0) printf "%.2f", c/n/1000; else print "nan"}')
      printf "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t$others\t%s\n" "$round" "$variant" "${rps:-0}" "${p50:-0}" "${p99:-0}" \
        "${non2xx:-0}" "${sockerr:-0}" "$cpu_pct" "$per_req" "$hwm" >>"$results"
      log "round $round $(printf '%-22s' "$variant") $(printf '%9s' "$rps") req/s  p50 ${p50}µs  p99 ${p99}µs  server cpu ${cpu_pct}%  neighbours ${n0}%/${n1}%  non2xx ${non2xx}"
    done
  done
}

# --- item 4 (and 5): logins ----------------------------------------------------------------------
run_login() {
  local results=$OUT/login.tsv
  printf 'round\tmedian_s\tmin_s\tmax_s\tn\tcores\n' >"$OUT/argon2.tsv"
  printf 'round\tvariant\tphase\trps\tp50_us\tp99_us\tnon2xx\tsockerr\thwm_kib\n' >"$results"
  local password
  password=$(head -c 18 /dev/urandom | base64 | tr '+/' '-_' | tr -d '=')
  local round variant port
  for ((round = 1; round <= LOGIN_ROUNDS; round++)); do
    # The ideal's unit, measured in this round, just before its login runs, with nothing else
    # of ours running.
    local a
    a=$("$BIN/argon2_time" "$ARGON2_N")
    printf '%s\t%s\t%s\t%s\t%s\t%s\n' "$round" "$(field median "$a")" "$(field min "$a")" \
      "$(field max "$a")" "$(field n "$a")" "$(field cores "$a")" >>"$OUT/argon2.tsv"
    log "round $round argon2: $a"
    for variant in pool inline pinned; do
      port=$(next_port)
      # The example's runtime: not pinned, one tokio worker per core, hashing pool per core.
      # `pinned`: the same pool server with all its threads on CPU 0 and every load generator
      # on CPU 1, so that /me's latency during a storm is the server's own, not the load
      # generators' competing for the same cores (its logins/s are one core's, not compared
      # with the ideal).
      local server_pre=("${NICE[@]}") load_pre=("${NICE[@]}") mode=$variant
      if [[ $variant == pinned ]]; then
        [[ ${#SERVER_PIN[@]} -gt ${#NICE[@]} ]] || continue
        server_pre=("${SERVER_PIN[@]}") load_pre=("${LOAD_PIN[@]}") mode=pool
      fi
      if ! JWT_SECRET=$(cat "$KEYS/hs256.secret") DEMO_PASSWORD=$password \
        start_server "$port" "${server_pre[@]}" "$BIN/login_server" "$mode"; then
        log "login_server $variant failed to start"; stop_server; continue
      fi
      local base=http://127.0.0.1:$port token
      token=$(curl -s -X POST "$base/login" -d grant_type=password -d username=demo \
        -d "password=$password" | sed -n 's/.*"access_token":"\([^"]*\)".*/\1/p')
      if [[ -z $token || $(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $token" "$base/me") != 200 ]]; then
        log "login_server $variant: login or /me failed"; stop_server; continue
      fi
      local r
      record() { # phase result
        printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$round" "$variant" "$1" "$(field rps "$2")" \
          "$(field p50_us "$2")" "$(field p99_us "$2")" "$(field non2xx "$2")" "$(field sockerr "$2")" \
          "$(hwm_kib "$SERVER_PID")" >>"$results"
        log "round $round login/$variant $(printf '%-12s' "$1") $(field rps "$2") req/s  p50 $(field p50_us "$2")µs  p99 $(field p99_us "$2")µs  non2xx $(field non2xx "$2")"
      }
      # Warm-up: logins and /me.
      DEMO_PASSWORD=$password wrk_run "$base/login" "$LUA/login.lua" "$WARMUP" "$LOGIN_CONNS" "${load_pre[@]}" >/dev/null
      TOKEN=$token wrk_run "$base/me" "$LUA/bearer.lua" "$WARMUP" "$CONNS" "${load_pre[@]}" >/dev/null
      # Logins only.
      r=$(DEMO_PASSWORD=$password wrk_run "$base/login" "$LUA/login.lua" "$DURATION" "$LOGIN_CONNS" "${load_pre[@]}")
      record login-only "$r"
      # The protected route, idle.
      r=$(TOKEN=$token wrk_run "$base/me" "$LUA/bearer.lua" "$DURATION" "$CONNS" "${load_pre[@]}")
      record me-idle "$r"
      # The protected route during a login storm (the storm starts 1 s before, ends 1 s after).
      local storm_out=$OUT/.storm.$$ storm_pid
      DEMO_PASSWORD=$password wrk_run "$base/login" "$LUA/login.lua" $((DURATION + 2)) "$LOGIN_CONNS" "${load_pre[@]}" >"$storm_out" &
      storm_pid=$!
      BG_PIDS=("$storm_pid")
      sleep 1
      r=$(TOKEN=$token wrk_run "$base/me" "$LUA/bearer.lua" "$DURATION" "$CONNS" "${load_pre[@]}")
      wait "$storm_pid" || true
      BG_PIDS=()
      record me-storm "$r"
      record storm-logins "$(cat "$storm_out")"
      rm -f "$storm_out"
      stop_server
    done
  done
}

[[ "${SKIP_LOAD:-0}" == 1 ]] || run_load
[[ "${SKIP_LOGIN:-0}" == 1 ]] || run_login

echo "loadavg_end=$(cut -d' ' -f1-3 /proc/loadavg)" >>"$OUT/machine.txt"
echo "build_s=$BUILD_SECS" >>"$OUT/machine.txt"
echo "run_s=$(($(date +%s) - START_TIME - BUILD_SECS))" >>"$OUT/machine.txt"
"$BIN/report" "$OUT" | tee "$OUT/report.md"
log "results in $OUT (report.md, load.tsv, login.tsv, checks.tsv, machine.txt)"
