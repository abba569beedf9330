#!/bin/sh
# VM suite `smoke`: on cgroup v2 under systemd, one Linux and one wasm container through isola's
# runc command line with --systemd-cgroup, each with a memory and pids limit; checks the scope
# systemd made, the limits in it, the exit status, and that delete leaves no unit and no cgroup.
echo "guest up $(cut -d" " -f1 /proc/uptime) s when the suite started"
set -eu
isola="$ISOLA_REPO/target/release/isola"
work=$(mktemp -d)
fail() { echo "FAIL: $*"; exit 1; }
check() { echo "ok: $*"; }

[ "$(stat -fc %T /sys/fs/cgroup)" = cgroup2fs ] || fail "/sys/fs/cgroup is not cgroup2"
check "cgroup v2 only: $(cat /sys/fs/cgroup/cgroup.controllers)"
[ "$(cat /proc/1/comm)" = systemd ] || fail "PID 1 is not systemd"
check "systemd $(systemctl --version | head -1 | cut -d' ' -f2) is PID 1"
echo "kernel $(uname -r), $(nproc) CPUs; isola: $($isola --version)"

# A bundle: busybox for the Linux container, a WASI module compiled here for the wasm one.
bundle() {  # bundle DIR ARGS-JSON [ANNOTATIONS-JSON]
    mkdir -p "$1/rootfs/bin" "$1/rootfs/proc" "$1/rootfs/dev" "$1/rootfs/sys" "$1/rootfs/tmp"
    cp /bin/busybox "$1/rootfs/bin/busybox"
    ln -sf busybox "$1/rootfs/bin/sh"
    (cd "$1" && runc spec)
    python3 - "$1/config.json" "$2" "$3" "$4" <<'PY'
import json, sys
path, args, annotations, cgpath = sys.argv[1], json.loads(sys.argv[2]), json.loads(sys.argv[3]), sys.argv[4]
c = json.load(open(path))
c["process"]["args"] = args
c["process"]["terminal"] = False
c["root"]["readonly"] = False
c["annotations"] = annotations
if cgpath:
    c["linux"]["cgroupsPath"] = cgpath
else:
    c["linux"].pop("cgroupsPath", None)
c["linux"]["resources"] = {"memory": {"limit": 64 << 20}, "pids": {"limit": 32}}
json.dump(c, open(path, "w"))
PY
}
cat > "$work/hello.c" <<'C'
#include <stdio.h>
int main(void) { puts("hello from wasm"); return 7; }
C
clang --target=wasm32-wasi -O2 -o "$work/hello.wasm" "$work/hello.c"

one() {  # one NAME ARGS-JSON ANNOTATIONS-JSON WANT-EXIT WANT-OUTPUT CGROUPS-PATH
    name=$1
    b="$work/$name"
    bundle "$b" "$2" "$3" "$6"
    [ "$name" = wasm ] && cp "$work/hello.wasm" "$b/rootfs/hello.wasm"
    $isola --systemd-cgroup create --bundle "$b" "$name" > "$work/$name.out" 2>&1 || fail "$name: create: $(cat "$work/$name.out")"
    pid=$($isola --systemd-cgroup state "$name" | python3 -c 'import json,sys; print(json.load(sys.stdin)["pid"])')
    cg=$(sed -n 's/^0:://p' "/proc/$pid/cgroup")
    [ "$cg" = "/system.slice/isola-$name.scope" ] || fail "$name: init in cgroup $cg, want /system.slice/isola-$name.scope"
    check "$name: created in $cg"
    systemctl is-active --quiet "isola-$name.scope" || fail "$name: scope isola-$name.scope not active"
    [ "$(cat /sys/fs/cgroup$cg/memory.max)" = $((64 << 20)) ] || fail "$name: memory.max $(cat /sys/fs/cgroup$cg/memory.max)"
    [ "$(cat /sys/fs/cgroup$cg/pids.max)" = 32 ] || fail "$name: pids.max $(cat /sys/fs/cgroup$cg/pids.max)"
    check "$name: scope active, memory.max 64 MiB and pids.max 32 in it"
    $isola --systemd-cgroup start "$name" || fail "$name: start"
    for _ in $(seq 100); do
        [ "$($isola --systemd-cgroup state "$name" | python3 -c 'import json,sys; print(json.load(sys.stdin)["status"])')" = stopped ] && break
        sleep 0.1
    done
    out=$(cat "$work/$name.out")
    [ "$out" = "$5" ] || fail "$name: output '$out', want '$5'"
    check "$name: printed '$out'"
    $isola --systemd-cgroup delete "$name" || fail "$name: delete"
    [ ! -d "/sys/fs/cgroup$cg" ] || fail "$name: cgroup $cg left after delete"
    systemctl list-units --all --no-legend "isola-$name.scope" | grep -q . && fail "$name: unit isola-$name.scope left"
    check "$name: delete left no cgroup and no unit"
    rc=0
    $isola --systemd-cgroup run --bundle "$b" "$name-run" > "$work/$name.out" 2>&1 || rc=$?
    [ "$rc" = "$4" ] || fail "$name: run exited $rc, want $4 ($(cat "$work/$name.out"))"
    left=$(systemctl list-units --all --no-legend 'isola-*.scope' | tr -s ' ')
    [ -z "$left" ] || fail "$name: units left after run: $left"
    check "$name: run exited $rc and left no unit"
}
# The Linux container names its scope; the wasm one gives no cgroupsPath (the default scope).
one linux '["sh","-c","echo hello from linux; exit 3"]' '{}' 3 "hello from linux" system.slice:isola:linux
one wasm '["/hello.wasm"]' '{"module.wasm.image/variant":"compat"}' 7 "hello from wasm" ""

# The cgroupfs driver on v2: the intermediate process is cloned straight into the container's
# cgroup (CLONE_INTO_CGROUP, so nothing writes itself into cgroup.procs), as isola's debug log says.
b="$work/cgroupfs"
bundle "$b" '["sh","-c","exit 5"]' '{}' /isola-smoke/cgroupfs
$isola --debug --log "$work/cgroupfs.log" create --bundle "$b" cgroupfs > "$work/cgroupfs.out" 2>&1 || fail "cgroupfs: create: $(cat "$work/cgroupfs.out")"
pid=$($isola state cgroupfs | python3 -c 'import json,sys; print(json.load(sys.stdin)["pid"])')
cg=$(sed -n 's/^0:://p' "/proc/$pid/cgroup")
[ "$cg" = /isola-smoke/cgroupfs ] || fail "cgroupfs: init in cgroup $cg, want /isola-smoke/cgroupfs"
[ "$(cat /sys/fs/cgroup$cg/memory.max)" = $((64 << 20)) ] || fail "cgroupfs: memory.max $(cat /sys/fs/cgroup$cg/memory.max)"
check "cgroupfs driver: created in $cg, memory.max 64 MiB"
grep -q "cloned into its cgroup (CLONE_INTO_CGROUP)" "$work/cgroupfs.log" || fail "cgroupfs: no CLONE_INTO_CGROUP in isola's debug log: $(grep -i clone "$work/cgroupfs.log" | head -3)"
check "cgroupfs driver: the container's first process was cloned into its cgroup"
$isola start cgroupfs || fail "cgroupfs: start"
for _ in $(seq 100); do
    [ "$($isola state cgroupfs | python3 -c 'import json,sys; print(json.load(sys.stdin)["status"])')" = stopped ] && break
    sleep 0.1
done
$isola delete cgroupfs || fail "cgroupfs: delete"
[ ! -d /sys/fs/cgroup/isola-smoke/cgroupfs ] || fail "cgroupfs: cgroup left after delete"
check "cgroupfs driver: delete left no cgroup"
rmdir /sys/fs/cgroup/isola-smoke 2>/dev/null || true
echo "smoke: all checks passed"
