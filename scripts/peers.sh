#!/usr/bin/env bash
# Builds the lab's peers that come from the package registries rather than Debian, into
# $ISOLA_PEERS (default /var/cache/isola-peers, outside any clone): a second run finds them built
# and returns in seconds. A peer that cannot be built is reported here and, by the lab, as
# skipped with the reason; this script does not fail for it.
#   youki 0.7.0   crates.io `youki`, cargo install --locked, with cgroup v1 support (its default
#                 features are v2 only; these hosts are cgroup v1). About 4 min on 2 cores.
# Usage: scripts/peers.sh            (after scripts/setup.sh, which installs libseccomp-dev)
set -uo pipefail
peers="${ISOLA_PEERS:-/var/cache/isola-peers}"
mkdir -p "$peers"

youki_version=0.7.0
youki="$peers/youki/bin/youki"
if "$youki" --version 2>/dev/null | grep -q "^youki version: $youki_version$"; then
    echo "peers: youki $youki_version already built ($youki)"
else
    started=$(date +%s)
    if cargo install youki --version "$youki_version" --locked --features v1 \
        --root "$peers/youki" --target-dir "$peers/target" >"$peers/youki.log" 2>&1; then
        echo "peers: built youki $youki_version in $(( $(date +%s) - started )) s ($youki)"
    else
        echo "peers: youki $youki_version did not build (the lab reports it as skipped); log: $peers/youki.log"
        tail -5 "$peers/youki.log"
    fi
fi
