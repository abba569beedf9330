#!/bin/sh
# Inside the VM (scripts/vm.sh): mounts the run's share and the host checkout (at the host's path,
# so the test binaries' compiled-in paths resolve), runs suite.sh, records its exit status and,
# on failure, the journal; then powers the guest off whatever happened.
repo=$(sed -n 's/.*isola\.repo=\([^ ]*\).*/\1/p' /proc/cmdline)
mkdir -p /isola-run "$repo"
mount -t 9p -o trans=virtio,version=9p2000.L,msize=524288 isola-run /isola-run
mount -t 9p -o trans=virtio,version=9p2000.L,msize=524288,cache=loose isola-repo "$repo"
cd "$repo"
rc=0
ISOLA_REPO="$repo" sh /isola-run/suite.sh > /isola-run/output.log 2>&1 || rc=$?
if [ "$rc" -ne 0 ]; then
    journalctl -b --no-pager > /isola-run/journal.log 2>&1
fi
echo "$rc" > /isola-run/rc
sync
cd /
umount "$repo" /isola-run
systemctl poweroff --force
