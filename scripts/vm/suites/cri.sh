#!/bin/sh
# VM suite `cri`: the CRI end-to-end suite (a private containerd 1.6 from Debian, isola installed
# into its config by `isola install`, pods through the CRI) on cgroup v2 under systemd, with
# containerd's systemd cgroup driver (`SystemdCgroup = true`, as kubeadm sets it; isola then gets
# --systemd-cgroup and slice:prefix:name paths) and with cgroupfs paths. The suite asserts its
# own teardown (processes, cgroups, mounts, links, CNI state and, under systemd, units).
# needs-tests: cri
echo "guest up $(cut -d" " -f1 /proc/uptime) s when the suite started"
set -u
echo "kernel $(uname -r), cgroup $(stat -fc %T /sys/fs/cgroup), systemd $(systemctl --version | head -1 | cut -d' ' -f2), $(containerd --version)"
# Under TCG emulation every wall-clock bound of the suite is scaled (isola_e2e::scaled).
if [ "$(cat /isola-run/accel 2>/dev/null)" = tcg ]; then
    export ISOLA_TEST_TIME_SCALE=10
fi
# The guest's journal and process tree, refreshed in the share every 20 s while the suite runs.
(while sleep 20; do
    journalctl -b --no-pager -n 300 > /isola-run/journal-live.log 2>&1
    ps -eo pid,ppid,stat,etime,args --forest > /isola-run/ps-live.log 2>&1
    tail -n 300 /tmp/isola-e2e.*/containerd.log > /isola-run/containerd-live.log 2>&1
    for f in $(find /tmp/isola-e2e.* -name log.json 2>/dev/null); do echo "== $f"; tail -n 40 "$f"; done > /isola-run/runtime-live.log 2>&1
done) &
watcher=$!
failed=0
for driver in systemd cgroupfs; do
    while read -r name path; do
        started=$(date +%s)
        # Written to the host's share as it runs (a hung case can be watched from outside).
        ISOLA_E2E_CGROUP_DRIVER=$driver "$path" --nocapture > "/isola-run/$name-$driver.log" 2>&1
        rc=$?
        cp "/isola-run/$name-$driver.log" /tmp/
        echo "[$driver] $name: rc $rc in $(( $(date +%s) - started )) s: $(grep '^test result:' "/tmp/$name-$driver.log" | tail -1)"
        grep -E '^(case |harness up|suite took)' "/tmp/$name-$driver.log" | head -40
        if [ "$rc" -ne 0 ]; then
            failed=1
            tail -60 "/tmp/$name-$driver.log"
        fi
    done < /isola-run/tests.list
done
kill "$watcher" 2>/dev/null
left=$(systemctl list-units --all --no-legend 'isolae2e*' 'isola-*.scope' | tr -s ' ')
[ -z "$left" ] || { echo "FAIL: units left: $left"; failed=1; }
exit $failed
