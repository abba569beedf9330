#!/usr/bin/env bash
# Sets up the machine and runs every test: unit tests, and the integration suites that drive
# the real `isola` binary on real namespaces, cgroups, seccomp and wasmtime (needs root).
set -euo pipefail
cd "$(dirname "$0")/.."
[ "$(id -u)" -eq 0 ] || { echo "test: run as root (namespaces, cgroups)"; exit 1; }
./scripts/setup.sh
cargo test --release --locked --workspace
