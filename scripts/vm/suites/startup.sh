#!/bin/sh
# VM suite `startup`: the startup benchmark (scripts/bench_startup.py: isola, isola-wasm, runc,
# crun and a plain exec, interleaved run by run) on the cgroup v2 + systemd node, with cgroupfs
# paths (as the benchmark runs on the host), then with every runtime on systemd's driver. TCG emulation slows everything several times over,
# so read the ratios; the plain exec's time, against the host's, says how much.
# RUNS: $ISOLA_VM_RUNS on the host (default 30).
echo "guest up $(cut -d" " -f1 /proc/uptime) s when the suite started"
set -eu
echo "kernel $(uname -r), cgroup $(stat -fc %T /sys/fs/cgroup), $(runc --version | head -1), $(crun --version | head -1)"
runs=$(cat /isola-run/runs 2>/dev/null || echo 30)
python3 "$ISOLA_REPO/scripts/bench_startup.py" "$runs"
echo
BENCH_CGROUP_DRIVER=systemd python3 "$ISOLA_REPO/scripts/bench_startup.py" "$runs"
left=$(systemctl list-units --all --no-legend 'isola-*.scope' 'runc-*.scope' 'crun-*.scope' | tr -s ' ')
[ -z "$left" ] || { echo "FAIL: units left: $left"; exit 1; }
