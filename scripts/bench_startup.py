#!/usr/bin/env python3
"""Startup benchmark: one program, whole `run` from command to exit, interleaved by run.

Targets: isola (Linux container), isola-wasm (warm module cache), runc, crun (through the
hybrid-cgroup workaround these VMs need, when the host is hybrid), and plain exec. Prints medians, p10/p90 and the
ratios isola/crun and isola-wasm/crun. Usage: scripts/bench_startup.py [RUNS] (as root);
BENCH_CGROUP_DRIVER=systemd runs every runtime with --systemd-cgroup (needs systemd).
"""
import json, os, shutil, statistics, subprocess, sys, tempfile, time

RUNS = int(sys.argv[1]) if len(sys.argv) > 1 else 100
REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
ISOLA = os.path.join(REPO, "target/release/isola")
HELLO_C = r'''
#include <stdio.h>
int main(void) { puts("hello"); return 0; }
'''

def sh(*args, **kw):
    return subprocess.run(args, check=True, **kw)

def bundle(root, name, args, annotations=None):
    b = os.path.join(root, name)
    os.makedirs(os.path.join(b, "rootfs/bin"))
    shutil.copy("/bin/busybox", os.path.join(b, "rootfs/bin/busybox"))
    spec = {
        "ociVersion": "1.0.2",
        "process": {"terminal": False, "user": {"uid": 0, "gid": 0}, "args": args,
                    "env": ["PATH=/bin"], "cwd": "/", "noNewPrivileges": True,
                    "capabilities": {k: ["CAP_KILL"] for k in ("bounding", "effective", "permitted")}},
        "root": {"path": "rootfs", "readonly": True},
        "mounts": [{"destination": "/proc", "type": "proc", "source": "proc"},
                   {"destination": "/dev", "type": "tmpfs", "source": "tmpfs", "options": ["nosuid", "mode=755"]}],
        "linux": {"namespaces": [{"type": t} for t in ("pid", "network", "ipc", "uts", "mount")],
                  "maskedPaths": ["/proc/kcore"], "readonlyPaths": ["/proc/sys"]},
    }
    if annotations:
        spec["annotations"] = annotations
    with open(os.path.join(b, "config.json"), "w") as f:
        json.dump(spec, f)
    return b

def main():
    if os.geteuid() != 0:
        sys.exit("bench: run as root")
    work = tempfile.mkdtemp(prefix="isola-bench-")
    try:
        src = os.path.join(work, "hello.c")
        open(src, "w").write(HELLO_C)
        native = bundle(work, "native", ["/hello"])
        sh("clang", "-O2", "-static", src, "-o", os.path.join(native, "rootfs/hello"))
        wasm = bundle(work, "wasm", ["/hello.wasm"], {"module.wasm.image/variant": "compat"})
        sh("clang", "--target=wasm32-wasi", "-O2", src, "-o", os.path.join(wasm, "rootfs/hello.wasm"))
        policy = os.path.join(work, "policy.toml")
        open(policy, "w").write(f'[wasm]\nmodule-cache = "{work}/modules"\n')
        # crun cannot run on a hybrid v1 host with a cgroup2 mount at /sys/fs/cgroup/unified
        # (these VMs); on a v2-only node (scripts/vm.sh startup) it runs as it is.
        crun = ["crun"]
        if os.path.ismount("/sys/fs/cgroup/unified"):
            crun = ["unshare", "-m", "--propagation", "private", "sh", "-c",
                    'umount /sys/fs/cgroup/unified && exec crun "$@"', "crun"]
        # BENCH_CGROUP_DRIVER=systemd: every runtime manages cgroups through systemd (a
        # transient scope per container), as on a kubeadm node; the default is cgroupfs.
        systemd = os.environ.get("BENCH_CGROUP_DRIVER") == "systemd"
        flag = ["--systemd-cgroup"] if systemd else []
        if systemd:
            print("cgroup driver: systemd (--systemd-cgroup for isola, runc and crun)")
        targets = {
            "plain exec": lambda i: [os.path.join(native, "rootfs/hello")],
            "isola": lambda i: [ISOLA, *flag, "--root", f"{work}/isola", "run", "--bundle", native, f"n{i}"],
            "isola-wasm": lambda i: [ISOLA, *flag, "--config", policy, "--root", f"{work}/isola", "run", "--bundle", wasm, f"w{i}"],
            "crun": lambda i: crun + [*flag, "--root", f"{work}/crun", "run", "--bundle", native, f"c{i}"],
            "runc": lambda i: ["runc", *flag, "--root", f"{work}/runc", "run", "--bundle", native, f"r{i}"],
        }
        times = {t: [] for t in targets}
        for i in range(-5, RUNS):  # five warm-up rounds, then measured rounds
            for name, cmd in targets.items():
                t0 = time.perf_counter_ns()
                r = subprocess.run(cmd(i + 10), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
                dt = (time.perf_counter_ns() - t0) / 1e6
                if r.returncode != 0:
                    sys.exit(f"bench: {name} failed: {r.stderr.decode().strip()}")
                if i >= 0:
                    times[name].append(dt)
        def q(v, p):
            return statistics.quantiles(v, n=10)[0 if p == 10 else 8]
        med = {t: statistics.median(v) for t, v in times.items()}
        print(f"startup of a static hello, {RUNS} interleaved runs per target (ms)")
        print(f"{'target':<12} {'median':>8} {'p10':>8} {'p90':>8}")
        for t, v in times.items():
            print(f"{t:<12} {med[t]:>8.2f} {q(v, 10):>8.2f} {q(v, 90):>8.2f}")
        print(f"ratio isola/crun      = {med['isola'] / med['crun']:.2f}")
        print(f"ratio isola-wasm/crun = {med['isola-wasm'] / med['crun']:.2f}")
        print(f"ratio isola/runc      = {med['isola'] / med['runc']:.2f}")
    finally:
        shutil.rmtree(work, ignore_errors=True)

if __name__ == "__main__":
    main()
