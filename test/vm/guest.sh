#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
#
# Stage 2 of the VM rig: PID 1 inside the VM, on the overlay root (host / +
# tmpfs) that init.sh set up, run by the initramfs's static busybox (kept in
# /run/cnic-vm/) as  busybox sh guest.sh REPO RUNDIR.  POSIX sh: bash from the
# host would cost ~0.4 s more to start under TCG.
#
# Runs every script listed in RUNDIR/scripts (RUNDIR/env is sourced first) with
# the host's bash, in the repo, under timeout, and reports on ttyS1, which the
# host (run.sh) reads:
#
#   @@CNIC-VM BOOTED <uptime> <kernel release>   before the first script
#   @@CNIC-VM BEGIN <script>                     then the script's stdout+stderr
#   @@CNIC-VM END <status> <script>
#   @@CNIC-VM DONE                               after the last one
#
# then ends the VM.  If this script dies the kernel panics (PID 1 exited) and,
# with panic=-1 and qemu -no-reboot, the VM ends as well.

REPO=$1
RUN=$2
BB=/run/cnic-vm/busybox

export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
export HOME=/root TERM=dumb LANG=C.UTF-8 TMPDIR=/tmp
export CNIC_IN_VM=1
cd /

exec 3>/dev/ttyS1

# qemu runs with -no-reboot, so a reset ends the VM, whatever the firmware and
# ACPI do.
poweroff_now()
{
	$BB sync
	$BB reboot -f
	echo b >/proc/sysrq-trigger
	$BB sleep 10
}

[ -f "$RUN/env" ] && . "$RUN/env"
timeout_s=${CNIC_VM_SCRIPT_TIMEOUT:-900}
# coreutils' (exit 124 on timeout), not busybox's applet, which this shell
# would prefer.
TIMEOUT=/usr/bin/timeout
[ -x $TIMEOUT ] || TIMEOUT=/bin/timeout

read -r up _ </proc/uptime
echo "@@CNIC-VM BOOTED $up $($BB uname -r)" >&3

while IFS= read -r s; do
	[ -n "$s" ] || continue
	echo "@@CNIC-VM BEGIN $s" >&3
	rc=0
	if [ -x "$s" ]; then
		(cd "$REPO" && exec $TIMEOUT -k 5 "$timeout_s" "$s") </dev/null >&3 2>&1 || rc=$?
	else
		(cd "$REPO" && exec $TIMEOUT -k 5 "$timeout_s" bash "$s") </dev/null >&3 2>&1 || rc=$?
	fi
	echo "@@CNIC-VM END $rc $s" >&3
done <"$RUN/scripts"

echo "@@CNIC-VM DONE" >&3
poweroff_now
