#!/bin/sh
# VM suite `tests`: isola's integration suites on cgroup v2 under systemd, through the runc
# command line, once with cgroupfs paths (no flag) and once with --systemd-cgroup
# (ISOLA_TEST_CGROUP_DRIVER=systemd, read by tests/common). Then checks that no isola scope or
# cgroup is left in systemd's tree.
# needs-tests: lifecycle limits wasm hostile hostile_corpus fault
echo "guest up $(cut -d" " -f1 /proc/uptime) s when the suite started"
set -u
echo "kernel $(uname -r), $(nproc) CPUs, cgroup $(stat -fc %T /sys/fs/cgroup), systemd $(systemctl --version | head -1 | cut -d' ' -f2)"
# Under TCG emulation the guest runs several times slower than the host: every wall-clock bound
# of the tests is scaled (tests/common: time_scale).
if [ "$(cat /isola-run/accel 2>/dev/null)" = tcg ]; then
    export ISOLA_TEST_TIME_SCALE=10
fi
filter=$(cat /isola-run/filter 2>/dev/null)
failed=0
for driver in cgroupfs systemd; do
    while read -r name path; do
        started=$(date +%s)
        if [ "$driver" = systemd ]; then
            ISOLA_TEST_CGROUP_DRIVER=systemd "$path" --test-threads=2 $filter > "/tmp/$name.log" 2>&1
        else
            "$path" --test-threads=2 $filter > "/tmp/$name.log" 2>&1
        fi
        rc=$?
        cp "/tmp/$name.log" "/isola-run/$name-$driver.log"
        summary=$(grep '^test result:' "/tmp/$name.log" | tail -1)
        echo "[$driver] $name: rc $rc in $(( $(date +%s) - started )) s: $summary"
        if [ "$rc" -ne 0 ]; then
            failed=1
            grep -E '^test .* FAILED$|panicked at' "/tmp/$name.log" | head -20
            sed -n '/^failures:$/,/^failures:$/p' "/tmp/$name.log" | head -80
        fi
    done < /isola-run/tests.list
done
left=$(systemctl list-units --all --no-legend 'isola-*.scope' | tr -s ' ')
[ -z "$left" ] || { echo "FAIL: units left: $left"; failed=1; }
cgleft=$(find /sys/fs/cgroup -mindepth 1 -type d \( -path '*/isola/*' -o -name 'isola-*.scope' \) | head)
[ -z "$cgleft" ] || { echo "FAIL: cgroups left: $cgleft"; failed=1; }
exit $failed
