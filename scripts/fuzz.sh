#!/usr/bin/env bash
# Runs every fuzz target in fuzz/ for SECONDS each (sequentially), after one build, and prints
# per target: execs, execs/s and final coverage (libFuzzer's cov/ft). Exits non-zero if any target
# crashed, hung or failed to start; the reproducer is in fuzz/artifacts/<target>/.
#
#   scripts/fuzz.sh 30                 # CI: every target for 30 s
#   scripts/fuzz.sh 300 plan           # one target for 5 min
#   FUZZ_LIGHT=1 scripts/fuzz.sh 30    # only the targets that do not link wasmtime/libcontainer
#                                      # (plan node_config annotations image install): a short build
#   FUZZ_DEV=1 scripts/fuzz.sh 30 state module_check module_run
#                                      # unoptimised build (about half the build time of wasmtime
#                                      # with coverage, slower execs): what CI runs the heavy
#                                      # targets with
#   FUZZ_TARGET_DIR=DIR                # where the instrumented build goes (default fuzz/target);
#                                      # CI keeps one outside its clone so later runs reuse it
#
# The committed seeds are fuzz/corpus/<target>/ (read only); what a run discovers goes to
# fuzz/corpus-run/<target>/ (not in git), which later runs reuse. Needs the nightly toolchain.
set -euo pipefail

secs="${1:-30}"
shift || true
root="$(cd "$(dirname "$0")/.." && pwd)"
fuzz="$root/fuzz"
cd "$fuzz"

if ! rustup toolchain list | grep -q '^nightly'; then
    rustup toolchain install nightly --profile minimal
fi
if ! command -v cargo-fuzz >/dev/null; then
    cargo install cargo-fuzz --locked
fi

# No sanitizer: the code under test is safe Rust (ASan would only slow the build and the run);
# -a keeps debug assertions and overflow checks on, so an overflow is a crash.
target_dir="${FUZZ_TARGET_DIR:-$fuzz/target}"
if [ -n "${FUZZ_DEV:-}" ]; then
    flags=(--dev -a -s none)
    bin_dir="$target_dir/x86_64-unknown-linux-gnu/debug"
else
    flags=(-O -a -s none)
    bin_dir="$target_dir/x86_64-unknown-linux-gnu/release"
fi
light_targets=(plan node_config annotations image install)
if [ -n "${FUZZ_LIGHT:-}" ]; then
    flags+=(--no-default-features)
fi
started=$(date +%s)
cargo +nightly fuzz build "${flags[@]}" --target-dir "$target_dir"
echo "build: $(( $(date +%s) - started )) s"

if [ "$#" -gt 0 ]; then
    targets=("$@")
elif [ -n "${FUZZ_LIGHT:-}" ]; then
    targets=("${light_targets[@]}")
else
    mapfile -t targets < <(cargo +nightly fuzz list)
fi
logs="$(mktemp -d)"
# Targets make scratch directories (a module cache, image outputs); keep them in one place.
scratch="$(mktemp -d)"
trap 'rm -rf "$logs" "$scratch"' EXIT

failed=0
rows=()
for t in "${targets[@]}"; do
    mkdir -p "corpus-run/$t" "artifacts/$t" "corpus/$t"
    status=ok
    TMPDIR="$scratch" "$bin_dir/$t" "corpus-run/$t" "corpus/$t" \
        -max_total_time="$secs" -timeout=20 -rss_limit_mb=3072 -print_final_stats=1 \
        -artifact_prefix="artifacts/$t/" >"$logs/$t.log" 2>&1 || status="FAIL($?)"
    if [ "$status" != ok ]; then
        failed=1
        echo "== $t: $status; last lines of its log:" >&2
        tail -n 30 "$logs/$t.log" >&2
    fi
    execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$logs/$t.log" | tail -n1)
    rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$logs/$t.log" | tail -n1)
    last=$(grep -E '^#[0-9]+' "$logs/$t.log" | tail -n1 || true)
    cov=$(sed -n 's/.* cov: \([0-9]*\).*/\1/p' <<<"$last")
    ft=$(sed -n 's/.* ft: \([0-9]*\).*/\1/p' <<<"$last")
    corp=$(sed -n 's/.* corp: \([0-9]*\).*/\1/p' <<<"$last")
    rows+=("$(printf '%-14s %6s %10s %8s %7s %7s %6s  %s' "$t" "$secs" "${execs:--}" "${rate:--}" "${cov:--}" "${ft:--}" "${corp:--}" "$status")")
done

printf '%-14s %6s %10s %8s %7s %7s %6s  %s\n' target secs execs execs/s cov ft corp result
printf '%s\n' "${rows[@]}"
exit "$failed"
