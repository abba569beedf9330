#!/usr/bin/env bash
# The main job: sets up this machine, builds isola and its lab, then runs the attack suite and
# every benchmark suite side by side against every isolation target found here, and writes
# the report (JSON, Markdown summary, HTML with charts). Extra arguments go to `isola-lab all`
# (e.g. --full for publication-size runs).
set -euo pipefail
cd "$(dirname "$0")/.."
[ "$(id -u)" -eq 0 ] || { echo "lab: run as root (namespaces, cgroups)"; exit 1; }
./scripts/setup.sh
./scripts/peers.sh
cargo build --release --locked -p isola-lab -p isola-cli -p isola-e2e -p isola-shim
exec target/release/isola-lab all --isola target/release/isola "$@"
