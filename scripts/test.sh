#!/usr/bin/env bash
# Runs every test of the project on a fresh machine: installs what the tests need
# (npm packages for the real socket.io-client tests and the chat's front end, redis-server
# and Chromium from Debian), then runs the Rust unit, doc and integration tests, the
# end-to-end tests with the official client, and the front end in headless Chromium.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
root=$(pwd)

echo "==> installing the JavaScript test dependencies (tests/js)"
(cd tests/js && npm ci --no-audit --no-fund --loglevel=error)
echo "==> the chat's front end (examples/chat/web): npm packages, type-check and build"
(cd examples/chat/web && npm ci --no-audit --no-fund --loglevel=error && npm run build --silent)

# Installs Debian package $1 when command $2 is missing and $3 (an env override) is unset.
debian_install() {
  if [ -z "${!3:-}" ] && ! command -v "$2" >/dev/null 2>&1; then
    SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
    $SUDO apt-get update -qq
    $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$1"
  fi
}

echo "==> redis-server (Redis adapter tests; installed from Debian when missing)"
debian_install redis-server redis-server REDIS_SERVER_BIN
export REDIS_SERVER_BIN="${REDIS_SERVER_BIN:-$(command -v redis-server)}"

echo "==> openssl (certificates for the Redis TLS tests; installed from Debian when missing)"
debian_install openssl openssl OPENSSL_BIN

echo "==> Chromium (the front end's browser test; installed from Debian when missing)"
debian_install chromium chromium CHROMIUM_BIN
export CHROMIUM_BIN="${CHROMIUM_BIN:-$(command -v chromium)}"

echo "==> building the servers under test"
cargo build --workspace --bins --examples

echo "==> Rust tests"
cargo test --workspace

echo "==> the fuzz targets still build (their corpus is replayed by the Rust tests above)"
(cd fuzz && CARGO_TARGET_DIR="$root/target/fuzz-check" cargo check --quiet)

echo "==> micro-benchmarks, each run once (they check what they measure)"
cargo test --workspace --bench '*'

echo "==> end-to-end tests with the official socket.io-client"
cd tests/js
E2E_SERVER_BIN="$root/target/debug/e2e_server" \
CONFORMANCE_BIN="$root/target/debug/examples/conformance" \
GATEWAY_SERVER_BIN="$root/target/debug/gateway_server" \
CHAT_BIN="$root/target/debug/examples/chat" \
REDIS_NODE_SERVER_BIN="$root/target/debug/redis_node_server" \
  node --test --test-concurrency=1
