#!/usr/bin/env bash
# Runs every test of the project on a fresh machine: installs what the tests need
# (npm packages for the real socket.io-client tests), then runs the Rust unit, doc and
# integration tests and the end-to-end tests with the official client.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
root=$(pwd)

echo "==> installing the JavaScript test dependencies (tests/js)"
(cd tests/js && npm ci --no-audit --no-fund --loglevel=error)
(cd examples/chat/web && npm ci --no-audit --no-fund --loglevel=error)

echo "==> redis-server (Redis adapter tests; installed from Debian when missing)"
if [ -z "${REDIS_SERVER_BIN:-}" ] && ! command -v redis-server >/dev/null 2>&1; then
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  $SUDO apt-get update -qq
  $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends redis-server
fi
export REDIS_SERVER_BIN="${REDIS_SERVER_BIN:-$(command -v redis-server)}"

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
