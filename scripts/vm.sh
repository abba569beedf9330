#!/usr/bin/env bash
# Runs a suite of isola's tests inside a Debian 12 VM that boots with cgroup v2 only and systemd
# (the node most Kubernetes clusters run), under QEMU: KVM when the host offers it, TCG otherwise.
# Usage: scripts/vm.sh SUITE        (as root; SUITE is one of scripts/vm/suites/*.sh, e.g. smoke)
#
# The guest image (systemd, the Debian kernel, containerd, runc, crun, clang and wasi-libc for the
# tests' payloads) is built once with mmdebstrap and cached under $ISOLA_VM_CACHE (default
# /var/cache/isola-vm), keyed by its package list and this script's image recipe. Each run boots a
# throw-away overlay of it, shares this checkout into the guest at the same path (9p), runs the
# suite there, brings back its output (and the guest's journal when it fails), and always powers
# the guest off. The guest needs no network.
#
# Suites: smoke (one Linux and one wasm container with --systemd-cgroup, checked from outside),
# tests (lifecycle, limits, wasm, hostile, hostile_corpus, fault with cgroupfs paths and with
# --systemd-cgroup), cri (the CRI end-to-end suite with containerd's systemd driver and with
# cgroupfs), startup (scripts/bench_startup.py in the guest).
# Knobs: ISOLA_VM_CPUS (2), ISOLA_VM_MEM (3072 MiB), ISOLA_VM_TIMEOUT (3000 s), ISOLA_VM_RUNS
# (startup runs, 30), ISOLA_VM_FILTER (test name filter of the `tests` suite), ISOLA_VM_TCG=1 (never KVM), ISOLA_VM_RESULTS (where the guest's logs go,
# target/vm-results/SUITE), ISOLA_VM_CACHE.
set -euo pipefail
cd "$(dirname "$0")/.."
repo="$(pwd)"
suite="${1:-}"
[ -n "$suite" ] && [ -f "scripts/vm/suites/$suite.sh" ] || {
    echo "usage: scripts/vm.sh SUITE   (SUITE: $(cd scripts/vm/suites && ls *.sh | sed 's/\.sh$//' | tr '\n' ' '))" >&2
    exit 2
}
[ "$(id -u)" -eq 0 ] || { echo "vm: run as root (mmdebstrap, 9p passthrough)" >&2; exit 1; }

host_packages=(qemu-system-x86 qemu-utils mmdebstrap e2fsprogs)
# Two rounds: on machines with a backported qemu-utils, installing Debian 12's qemu-system-x86
# removes it (and with it qemu-img); the second round installs the matching one.
for round in 1 2; do
    missing=()
    for p in "${host_packages[@]}"; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
    done
    [ ${#missing[@]} -gt 0 ] || break
    echo "vm: installing ${missing[*]}"
    [ "$round" = 1 ] && DEBIAN_FRONTEND=noninteractive apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}"
done
command -v qemu-img >/dev/null || { echo "vm: qemu-img is missing after installing qemu-utils" >&2; exit 1; }

# ---- the image -------------------------------------------------------------------------------
guest_packages=(
    systemd systemd-sysv udev dbus kmod linux-image-amd64        # the node: systemd owns cgroup v2
    containerd runc crun containernetworking-plugins iproute2    # the CRI suite and the peers
    libseccomp2 busybox-static procps util-linux psmisc          # isola and its tests' bundles
    clang lld wasi-libc libclang-rt-dev-wasm32 wabt              # the tests compile their C payloads
    python3 hyperfine                                            # the startup benchmark
)
recipe="$(printf '%s\n' "${guest_packages[@]}"; sed -n '/^# ---- recipe/,/^# ---- end recipe/p' "$0"; cat scripts/vm/isola-vm.service scripts/vm/guest-run.sh)"
key="$(printf '%s' "$recipe" | sha256sum | cut -c1-16)"
cache="${ISOLA_VM_CACHE:-/var/cache/isola-vm}/$key"
if [ ! -f "$cache/ready" ]; then
    echo "vm: building the guest image $key (mmdebstrap, Debian 12; once per package list)"
    started=$SECONDS
    rm -rf "$cache"
    mkdir -p "$cache"
    tree="$cache/tree"
    export ISOLA_REPO="$repo"
# ---- recipe (hashed into the cache key: edit freely, the image is rebuilt) ----
    mmdebstrap --quiet --variant=apt --include="$(IFS=,; echo "${guest_packages[*]}")" \
        --customize-hook='echo isola-vm > "$1/etc/hostname"' \
        --customize-hook='passwd --root "$1" -d root' \
        --customize-hook='echo "/dev/vda / ext4 rw,relatime 0 1" > "$1/etc/fstab"' \
        --customize-hook='printf "9p\n9pnet\n9pnet_virtio\n" > "$1/etc/modules-load.d/isola-vm.conf"' \
        --customize-hook='chroot "$1" systemctl disable containerd.service' \
        --customize-hook='chroot "$1" systemctl mask apt-daily.timer apt-daily-upgrade.timer e2scrub_all.timer fstrim.timer man-db.timer systemd-networkd-wait-online.service' \
        --customize-hook='mkdir -p "$1/isola-vm"' \
        --customize-hook='cp "$ISOLA_REPO/scripts/vm/isola-vm.service" "$1/etc/systemd/system/isola-vm.service"' \
        --customize-hook='cp "$ISOLA_REPO/scripts/vm/guest-run.sh" "$1/usr/local/sbin/isola-vm-run"; chmod 0755 "$1/usr/local/sbin/isola-vm-run"' \
        --customize-hook='chroot "$1" systemctl enable isola-vm.service' \
        bookworm "$tree" http://deb.debian.org/debian
# ---- end recipe ----
    cp "$tree"/boot/vmlinuz-* "$cache/vmlinuz"
    cp "$tree"/boot/initrd.img-* "$cache/initrd.img"
    mkfs.ext4 -q -L isola-vm -d "$tree" "$cache/root.img" 8G
    rm -rf "$tree"
    touch "$cache/ready"
    # Images of older recipes are not used again.
    find "$(dirname "$cache")" -mindepth 1 -maxdepth 1 -type d ! -name "$key" -exec rm -rf {} +
    echo "vm: image built in $((SECONDS - started)) s ($(du -sh --apparent-size "$cache/root.img" | cut -f1) sparse, $(du -sh "$cache/root.img" | cut -f1) used)"
fi

# ---- one run ---------------------------------------------------------------------------------
run="$(mktemp -d /var/tmp/isola-vm-run.XXXXXX)"
qemu_pid=""
cleanup() {
    [ -n "$qemu_pid" ] && kill "$qemu_pid" 2>/dev/null && wait "$qemu_pid" 2>/dev/null
    rm -rf "$run"
}
trap cleanup EXIT
mkdir -p "$run/share"
cp "scripts/vm/suites/$suite.sh" "$run/share/suite.sh"
# A suite that runs test binaries names them on a `# needs-tests: NAME...` line (integration
# test targets of any crate); they come from the workspace's test build (the one
# scripts/test.sh makes, so a warm target/ is reused) and are listed for the guest as
# `NAME PATH` lines.
needs_tests="$(sed -n 's/^# needs-tests: //p' "scripts/vm/suites/$suite.sh")"
if [ -n "$needs_tests" ]; then
    cargo test --release --locked --workspace --no-run --message-format=json 2>"$run/build.log" |
        python3 -c '
import json, sys
want = sys.argv[1].split()
found = {}
for line in sys.stdin:
    m = json.loads(line)
    if m.get("reason") == "compiler-artifact" and m.get("executable") and m["profile"]["test"] \
            and m["target"]["kind"] == ["test"] and m["target"]["name"] in want:
        found[m["target"]["name"]] = m["executable"]
for name in want:
    if name not in found:
        sys.exit(f"vm: no integration test named {name}")
    print(name, found[name])' "$needs_tests" > "$run/share/tests.list" ||
        { tail -30 "$run/build.log" >&2; echo "vm: building the tests of suite '$suite' failed" >&2; exit 1; }
else
    cargo build --release --locked -p isola-cli 2>"$run/build.log" || { tail -30 "$run/build.log" >&2; echo "vm: building isola failed" >&2; exit 1; }
fi
qemu-img create -q -f qcow2 -F raw -b "$cache/root.img" "$run/overlay.qcow2"

# KVM only when the CPU exposes virtualisation (here /dev/kvm exists without vmx, and a KVM
# guest hangs in its firmware); otherwise TCG with every feature QEMU can emulate.
if [ -w /dev/kvm ] && grep -qE '\b(vmx|svm)\b' /proc/cpuinfo && [ -z "${ISOLA_VM_TCG:-}" ]; then
    accel=(-accel kvm -cpu host)
    accel_name=kvm
else
    accel=(-accel tcg,thread=multi -cpu max)
    accel_name=tcg
fi
echo "$accel_name" > "$run/share/accel"
echo "${ISOLA_VM_RUNS:-30}" > "$run/share/runs"
echo "${ISOLA_VM_FILTER:-}" > "$run/share/filter"
smp="${ISOLA_VM_CPUS:-2}"
mem="${ISOLA_VM_MEM:-3072}"
timeout_s="${ISOLA_VM_TIMEOUT:-3000}"
echo "vm: booting ($accel_name, $smp CPUs, $mem MiB) to run suite '$suite' (at most $timeout_s s)"
started=$SECONDS
qemu-system-x86_64 "${accel[@]}" -smp "$smp" -m "$mem" -nodefaults -no-reboot \
    -display none -serial "file:$run/console.log" \
    -kernel "$cache/vmlinuz" -initrd "$cache/initrd.img" \
    -append "root=/dev/vda rw console=ttyS0 quiet systemd.show_status=0 isola.repo=$repo" \
    -drive "file=$run/overlay.qcow2,format=qcow2,if=virtio,cache=unsafe" \
    -virtfs "local,path=$run/share,mount_tag=isola-run,security_model=passthrough,id=run" \
    -virtfs "local,path=$repo,mount_tag=isola-repo,security_model=passthrough,id=repo" \
    -device virtio-rng-pci &
qemu_pid=$!
rc=0
timeout "$timeout_s" tail --pid="$qemu_pid" -f /dev/null || rc=$?
if [ "$rc" -ne 0 ]; then
    echo "vm: the guest did not power off within $timeout_s s; stopping it" >&2
    kill "$qemu_pid" 2>/dev/null || true
fi
wait "$qemu_pid" 2>/dev/null || true
qemu_pid=""
elapsed=$((SECONDS - started))
[ -f "$run/share/output.log" ] && cat "$run/share/output.log"
suite_rc="$(cat "$run/share/rc" 2>/dev/null || echo none)"
# What the guest wrote (its output, each test's full log, the journal on failure) is kept.
results="${ISOLA_VM_RESULTS:-$repo/target/vm-results/$suite}"
rm -rf "$results"
mkdir -p "$results"
cp "$run/console.log" "$run/share/"*.log "$results/" 2>/dev/null || true
echo "vm: the guest's logs are in $results"
if [ "$suite_rc" != 0 ]; then
    echo "vm: suite '$suite' failed (rc $suite_rc); the guest's console and journal follow" >&2
    tail -n 60 "$run/console.log" >&2 || true
    [ -f "$run/share/journal.log" ] && tail -n 100 "$run/share/journal.log" >&2
    exit 1
fi
echo "vm: suite '$suite' passed in the guest ($accel_name); boot, run and power-off took ${elapsed} s"
