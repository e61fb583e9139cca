#!/usr/bin/env bash
# Browser test of the example server's /docs page (Swagger UI): headless Chromium (Debian's
# package, installed when missing) driven by playwright-core (npm, pinned in package-lock.json)
# logs in through the Authorize dialog and calls GET /me. See docs.spec.mjs for the steps.
#
#   bash tests/browser/run.sh
#
# Screenshots go to target/browser-artifacts/ (ARTIFACTS overrides). The example is built with
# every feature, as `cargo test --all-features` builds it (a no-op after that command);
# BROWSER_FEATURES=axum,login,sqlite,openapi builds less. Under CI=true anything missing fails
# the run; elsewhere a missing browser or node skips it, saying so.
set -euo pipefail
cd "$(dirname "$0")/../.."
ROOT=$PWD
ARTIFACTS=${ARTIFACTS:-$ROOT/target/browser-artifacts}

unavailable() {
  if [ "${CI:-}" = true ]; then
    echo "browser test: $1, and CI=true: it cannot be skipped" >&2
    exit 1
  fi
  echo "browser test SKIPPED: $1" >&2
  exit 0
}

as_root() {
  if [ "$(id -u)" = 0 ]; then "$@"; else sudo -n "$@"; fi
}

CHROMIUM=${CHROMIUM:-$(command -v chromium || true)}
if [ -z "$CHROMIUM" ]; then
  echo "== installing chromium (Debian package)"
  export DEBIAN_FRONTEND=noninteractive
  (as_root apt-get update -qq && as_root apt-get install -y -qq chromium) >&2 ||
    unavailable "chromium is not installed and apt-get could not install it"
  CHROMIUM=$(command -v chromium || true)
  [ -n "$CHROMIUM" ] || unavailable "chromium is still missing after apt-get"
fi
command -v node >/dev/null && command -v npm >/dev/null ||
  unavailable "node and npm are required (node >= 20)"
node -e 'process.exit(Number(process.versions.node.split(".")[0]) >= 20 ? 0 : 1)' ||
  unavailable "node $(node --version) is older than 20"

echo "== npm ci (playwright-core; no browser download)"
PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm ci --prefix tests/browser --no-audit --no-fund --silent

echo "== building the example server"
if [ -n "${BROWSER_FEATURES:-}" ]; then
  cargo build --quiet --example axum_server --features "$BROWSER_FEATURES"
else
  cargo build --quiet --example axum_server --all-features
fi
SERVER=$(cargo metadata --format-version 1 --no-deps |
  node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>console.log(JSON.parse(s).target_directory))')/debug/examples/axum_server

WORK=$(mktemp -d)
SERVER_PID=
cleanup() {
  if [ -n "$SERVER_PID" ]; then
    kill "$SERVER_PID" 2>/dev/null || true
    wait "$SERVER_PID" 2>/dev/null || true
  fi
  rm -rf "$WORK"
}
trap cleanup EXIT

DEMO_PASSWORD="browser-test-$(od -An -N8 -tx1 /dev/urandom | tr -d ' \n')"
export DEMO_USER=demo DEMO_PASSWORD
# Port 0: the server picks a free port and prints it.
BIND_ADDR=127.0.0.1:0 DATABASE_URL="sqlite://$WORK/browser.db" RUST_LOG=info \
  "$SERVER" >"$WORK/server.out" 2>"$WORK/server.err" &
SERVER_PID=$!
BASE_URL=
for _ in $(seq 1 120); do
  BASE_URL=$(sed -n 's/^listening on \(http:\/\/127\.0\.0\.1:[0-9]*\).*/\1/p' "$WORK/server.out")
  [ -n "$BASE_URL" ] && break
  kill -0 "$SERVER_PID" 2>/dev/null || break
  sleep 0.5
done
if [ -z "$BASE_URL" ]; then
  cat "$WORK/server.out" "$WORK/server.err" >&2
  echo "browser test: the example server did not start" >&2
  exit 1
fi
echo "== example server at $BASE_URL"

echo "== driving /docs in headless chromium ($("$CHROMIUM" --version 2>/dev/null | head -n1))"
mkdir -p "$ARTIFACTS"
rm -f "$ARTIFACTS"/*.png
status=0
BASE_URL=$BASE_URL ARTIFACTS=$ARTIFACTS CHROMIUM=$CHROMIUM \
  timeout 240 node tests/browser/docs.spec.mjs || status=$?
if [ "$status" != 0 ]; then
  echo "-- server log (last 40 lines)" >&2
  tail -n 40 "$WORK/server.err" >&2
fi
exit "$status"
