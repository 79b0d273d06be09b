#!/bin/busybox sh
# shellcheck shell=dash
# SPDX-License-Identifier: Apache-2.0
#
# /init of the VM rig's initramfs (busybox sh, PID 1).  Loads the modules the
# stock kernel needs for virtio/9p/overlay, builds the root
#
#   /          overlay: lower = host / (9p "hostroot", read-only), upper = tmpfs
#   <repo>     the host's repo (9p "repo", read-write), same path as on the host
#   /proc /sys /dev /dev/pts /dev/shm /tmp /run /sys/fs/cgroup, and empty
#   /var/lib/cni and /etc/cni/net.d (tmpfs)
#
# and switch_roots into <repo>/test/vm/guest.sh (busybox sh).
# Parameters come from /proc/cmdline (cnic.repo=, cnic.run=, cnic.msize=).
# Any failure is reported on ttyS1 (the host's result channel) and the VM
# powers off: it never waits for input.

/bin/busybox mkdir -p /proc /sys /dev /bin
/bin/busybox --install -s /bin
export PATH=/bin

mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev

# qemu runs with -no-reboot: a reset ends it, whatever the firmware and ACPI do.
stop()
{
	sync
	reboot -f
	echo b >/proc/sysrq-trigger
}

fatal()
{
	echo "cnic-vm-init: $*" >/dev/console
	echo "@@CNIC-VM FATAL init: $*" >/dev/ttyS1
	stop
}

repo=
run=
msize=512000
for kv in $(cat /proc/cmdline); do
	case $kv in
	cnic.repo=*) repo=${kv#cnic.repo=} ;;
	cnic.run=*) run=${kv#cnic.run=} ;;
	cnic.msize=*) msize=${kv#cnic.msize=} ;;
	esac
done
[ -n "$repo" ] && [ -n "$run" ] || fatal "cnic.repo= and cnic.run= are required on the kernel command line"

stty -F /dev/ttyS1 raw -echo 2>/dev/null

# Progress marks in the kernel log (console.log) show where boot time goes.
mark() { echo "<4>cnic-vm-init: $*" >/dev/kmsg; }
mark "modules"
for m in $(cat /modules.list); do
	insmod "/lib/modules/$m" || fatal "insmod $m failed"
done

mark "root"
# The host / does not change while the VM runs: let the guest cache it (loose).
mount -t 9p -o ro,trans=virtio,version=9p2000.L,msize="$msize",cache=loose hostroot /lower ||
	fatal "cannot mount the host root over 9p"
mount -t tmpfs -o mode=0755 tmpfs /rw || fatal "cannot mount tmpfs"
mkdir -p /rw/upper /rw/work
mount -t overlay -o lowerdir=/lower,upperdir=/rw/upper,workdir=/rw/work overlay /newroot ||
	fatal "cannot mount the overlay root"

mark "mounts"
# Everything else is mounted here too, by the static busybox: under TCG every
# exec of a dynamically linked host binary costs ~0.1-0.2 s, busybox a tenth.
r=/newroot
mount -t proc proc $r/proc || fatal "mount /proc"
mount -t sysfs sysfs $r/sys || fatal "mount /sys"
mount -t devtmpfs devtmpfs $r/dev || fatal "mount /dev"
mount -t tmpfs -o mode=1777 tmpfs $r/tmp || fatal "mount /tmp"
mount -t tmpfs -o mode=0755 tmpfs $r/run || fatal "mount /run"
mkdir -p $r/dev/pts $r/dev/shm $r/run/netns $r/run/lock
mount -t devpts -o newinstance,ptmxmode=0666 devpts $r/dev/pts
mount -t tmpfs -o mode=1777 tmpfs $r/dev/shm
mount -t cgroup2 cgroup2 $r/sys/fs/cgroup 2>/dev/null
# The host's CNI state and configs would show through the overlay: give the
# tests empty, private ones.
for d in /var/lib/cni /etc/cni/net.d; do
	[ -L "$r$d" ] && continue
	mkdir -p "$r$d" && mount -t tmpfs -o mode=0755 tmpfs "$r$d"
done
# After /tmp and /run, so that a repo living there is not hidden.  The repo is
# written by both sides: no data caching, but mmap (ld.so maps binaries) works.
mkdir -p "$r$repo"
mount -t 9p -o rw,trans=virtio,version=9p2000.L,msize="$msize",cache=mmap repo "$r$repo" ||
	fatal "cannot mount the repo over 9p at $repo"
[ -f "$r$repo/test/vm/guest.sh" ] || fatal "no $repo/test/vm/guest.sh"
hostname cnic-vm
ip link set lo up
echo /sbin/modprobe >/proc/sys/kernel/modprobe

# Stage 2 runs on this static busybox too (kept on the new root's /run).
mkdir -p $r/run/cnic-vm
cp /bin/busybox $r/run/cnic-vm/busybox
mark "switch_root"
# shellcheck disable=SC2093 # exec fails only when switch_root cannot run
exec switch_root /newroot /run/cnic-vm/busybox sh "$repo/test/vm/guest.sh" "$repo" "$run"
fatal "switch_root failed"
