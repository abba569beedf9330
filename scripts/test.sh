#!/usr/bin/env bash
# Sets up the machine and runs every test: unit tests, and the integration suites that drive
# the real `isola` binary on real namespaces, cgroups, seccomp and wasmtime (needs root).
set -euo pipefail
cd "$(dirname "$0")/.."
[ "$(id -u)" -eq 0 ] || { echo "test: run as root (namespaces, cgroups)"; exit 1; }
./scripts/setup.sh
cargo test --release --locked --workspace
# The CRI suite again against containerd 2.x (Debian unstable's build, unpacked by
# scripts/containerd2.sh; a version 3 config, both handlers written by `isola install`).
ISOLA_E2E_CONTAINERD="$(./scripts/containerd2.sh)" cargo test --release --locked -p isola-e2e --test cri
