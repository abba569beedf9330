#!/usr/bin/env bash
# Builds the lab's peers that come from the package registries rather than Debian, into
# $ISOLA_PEERS (default /var/cache/isola-peers, outside any clone): a second run finds them built
# and returns in seconds. A peer that cannot be built is reported here, its reason written to
# $ISOLA_PEERS/<peer>.skipped, and the lab reports it as skipped with that reason; this script
# does not fail for it.
#   youki 0.7.0        crates.io `youki`, with cgroup v1 support (its default features are v2
#                      only; these hosts are cgroup v1). About 4 min on 2 cores.
#   runwasi            crates/isola-lab/peers/containerd-shim-wasmtime: runwasi's published shim
#                      library (containerd-shim-wasm 1.0.1) with a minimal wasmtime engine, the
#                      e2e suite's `runwasi` handler. About 10 min on 2 cores; later runs only
#                      check it is current.
#   wasmer 7.4.2       crates.io `wasmer-cli` with its Cranelift backend (lab target
#                      `wasmer-cranelift`). About 35 min on 2 cores.
#   wasmer 7.4.2 LLVM  `wasmer-llvm`, the same with its LLVM backend: wasmer-compiler-llvm 7.4.2
#                      links LLVM 22 (inkwell's llvm22-1), which Debian 12 has in
#                      bookworm-security (llvm-22-dev); skipped, with that reason, where it
#                      has not. Another 35 min or so.
# Usage: scripts/peers.sh [youki|runwasi|wasmer ...]   (default: all; after scripts/setup.sh)
set -uo pipefail
peers="${ISOLA_PEERS:-/var/cache/isola-peers}"
mkdir -p "$peers"
wanted=("$@")
[ ${#wanted[@]} -gt 0 ] || wanted=(youki runwasi wasmer)
root="$(cd "$(dirname "$0")/.." && pwd)"

# build NAME VERSION_LINE BINARY TARGET_DIR cargo-install-arguments...
# Skips the build when BINARY prints VERSION_LINE (an empty one: always run cargo, which rebuilds
# only what changed); otherwise builds, and on failure records why.
build() {
    local name="$1" version_line="$2" binary="$3" target_dir="$4"
    shift 4
    # (Not a pipe into `grep -q`: under pipefail, the binary's SIGPIPE would fail the check.)
    local printed
    printed=$("$binary" --version 2>/dev/null)
    if [ -n "$version_line" ] && grep -qx "$version_line" <<<"$printed"; then
        echo "peers: $name already built ($binary)"
        rm -f "$peers/$name.skipped"
        return
    fi
    local started
    started=$(date +%s)
    if cargo install --locked "$@" --target-dir "$target_dir" >"$peers/$name.log" 2>&1; then
        echo "peers: built $name in $(( $(date +%s) - started )) s ($binary)"
        rm -f "$peers/$name.skipped"
    else
        echo "cargo install failed: $(grep -m1 '^error' "$peers/$name.log") (log: $peers/$name.log)" >"$peers/$name.skipped"
        echo "peers: $name: $(cat "$peers/$name.skipped")"
    fi
}

for peer in "${wanted[@]}"; do
    case "$peer" in
    youki)
        build youki "youki version: 0.7.0" "$peers/youki/bin/youki" "$peers/target" \
            youki --version 0.7.0 --features v1 --root "$peers/youki"
        ;;
    runwasi)
        # A path install: cargo rebuilds what changed (seconds when nothing did).
        build runwasi "" "$peers/runwasi/bin/containerd-shim-wasmtime-v1" "$peers/target-runwasi" \
            --path "$root/crates/isola-lab/peers/containerd-shim-wasmtime" --root "$peers/runwasi" --force
        ;;
    wasmer)
        build wasmer-cranelift "wasmer 7.4.2" "$peers/wasmer/bin/wasmer" "$peers/target" \
            wasmer-cli --version 7.4.2 --features cranelift --root "$peers/wasmer"
        # The LLVM backend: wasmer-compiler-llvm 7.4.2 needs LLVM 22; build it where Debian has it.
        if apt-cache show llvm-22-dev >/dev/null 2>&1; then
            DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends llvm-22-dev libpolly-22-dev >/dev/null
            LLVM_SYS_221_PREFIX=/usr/lib/llvm-22 build wasmer-llvm "wasmer 7.4.2" "$peers/wasmer-llvm/bin/wasmer" "$peers/target-llvm" \
                wasmer-cli --version 7.4.2 --features llvm --root "$peers/wasmer-llvm"
        else
            newest=$(apt-cache search --names-only '^llvm-[0-9]+-dev$' | sed 's/^llvm-\([0-9]*\)-dev.*/\1/' | sort -n | tail -1)
            echo "wasmer-compiler-llvm 7.4.2 links LLVM 22 (inkwell llvm22-1); Debian's newest here is llvm-${newest:-none}-dev" >"$peers/wasmer-llvm.skipped"
            echo "peers: wasmer-llvm skipped: $(cat "$peers/wasmer-llvm.skipped")"
        fi
        ;;
    *) echo "peers: unknown peer $peer (known: youki, runwasi, wasmer)"; exit 2 ;;
    esac
done
