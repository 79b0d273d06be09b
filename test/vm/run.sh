#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
#
# test/vm/run.sh [SCRIPT...]
#
# Boot Debian's stock kernel once under qemu (TCG) and run every test/vm/t-*.sh,
# then the SCRIPTs given, inside it.  The VM's root is the host's / (9p,
# read-only) under a tmpfs overlay; the repo is shared read-write at its host
# path.  Prints the scripts' TAP renumbered into one stream, then "1..N" and
# "N passed, N failed, N skipped"; exits 1 if anything failed or the VM did
# not finish.  (Not prove, as the unit and integration runners: the scripts
# run inside the guest and the host sees one serial stream, which the awk
# filter below splits by the guest's @@CNIC-VM markers.)
#
# Environment:
#   CNIC_VM_TIMEOUT=S         whole VM run, seconds (default 2000: under run-all's 2100)
#   CNIC_VM_SCRIPT_TIMEOUT=S  one script inside the VM (default 900)
#   CNIC_VM_MEM=MiB           guest memory (default 1536)
#   CNIC_VM_SMP=N             guest CPUs (default 1: TCG on a busy 2-CPU host is faster so)
#   CNIC_VM_KVER=VER          kernel version to boot (default: newest installed)
#   CNIC_VM_KEEP=1            keep build/vm/run.<pid>/ (console log) after success
#   CNIC_VM_ONLY=1            run only the SCRIPTs given, not test/vm/t-*.sh
#   CNIC_VM_BOOT=bzimage      boot /boot/vmlinuz via SeaBIOS even if PVH works (slow path)
#   CNIC_VM_APPEND="..."      extra kernel parameters (e.g. loglevel=7 to debug the boot)
# Passed into the VM: TEST_VERBOSE, VALGRIND, CNI_TIMEOUT, SANITIZE, BIN, REF.
set -uo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)

die()
{
	echo "Bail out! vm: $*"
	echo "0 passed, 1 failed"
	exit 1
}

now_ms()
{
	echo $(($(date +%s%N) / 1000000))
}

[ "$(id -u)" = 0 ] || die "the VM suite needs root (9p passthrough of / keeps ownership)"
command -v qemu-system-x86_64 >/dev/null || die "qemu-system-x86_64 missing (install qemu-system-x86)"
case $ROOT in
*[[:space:]]*) die "repo path '$ROOT' contains whitespace" ;;
esac

t_start=$(now_ms)
build_env=$("$HERE/build.sh") || die "cannot build the VM image (test/vm/build.sh)"
eval "$build_env"
if [ "${CNIC_VM_BOOT:-}" = bzimage ]; then
	VM_KERNEL=/boot/vmlinuz-$VM_KVER VM_BOOT=bzimage
fi
t_built=$(now_ms)

# Scripts: absolute paths (the guest sees the host's / and the repo at the
# same paths), test/vm/t-*.sh first.
scripts=()
if [ "${CNIC_VM_ONLY:-0}" != 1 ]; then
	for s in "$HERE"/t-*.sh; do
		[ -f "$s" ] && scripts+=("$s")
	done
fi
for s in "$@"; do
	[ -f "$s" ] || die "no such script: $s"
	s=$(realpath "$s")
	case $s in
	*[[:space:]]*) die "script path '$s' contains whitespace" ;;
	esac
	case $s in
	/tmp/* | /run/* | /dev/* | /proc/* | /sys/*)
		case $s in
		"$ROOT"/*) ;;
		*) die "$s: /tmp, /run, /dev, /proc and /sys are the guest's own; put the script elsewhere" ;;
		esac
		;;
	esac
	scripts+=("$s")
done
[ ${#scripts[@]} -gt 0 ] || die "no test scripts"

# Leftovers of earlier runs (kept for their logs) whose run.sh is gone.
for d in "$ROOT"/build/vm/run.*; do
	[ -d "$d" ] || continue
	kill -0 "${d##*.}" 2>/dev/null || rm -rf "$d"
done

# Anything a VM test builds with a compiler is built here, natively: the same
# go build under TCG takes minutes.
if grep -qs need_cnitool "${scripts[@]}"; then
	(. "$ROOT/test/integration/lib.sh" && need_cnitool && _done=1) >/dev/null 2>&1 ||
		echo "# vm: could not pre-build cnitool on the host"
fi

RUN=$ROOT/build/vm/run.$$
rm -rf "$RUN"
mkdir -p "$RUN"
printf '%s\n' "${scripts[@]}" >"$RUN/scripts"
{
	for v in TEST_VERBOSE VALGRIND CNI_TIMEOUT SANITIZE BIN REF CNIC_VM_SCRIPT_TIMEOUT; do
		[ -n "${!v+x}" ] && printf 'export %s=%q\n' "$v" "${!v}"
	done
	printf 'export CNIC_VM_KVER=%q\n' "$VM_KVER"
} >"$RUN/env"

smp=${CNIC_VM_SMP:-1}
[ "$smp" -gt "$(nproc)" ] && smp=$(nproc)
msize=512000
# console=ttyS0 (kernel + init messages) goes to a file; ttyS1 is the result channel.
cmdline="console=ttyS0 loglevel=5 panic=-1 oops=panic rdinit=/init 8250.nr_uarts=2"
# Under TCG the crypto self-tests cost ~0.5 s of boot.  ACPI stays on (~0.3 s):
# without it there is no HPET/PM timer, the TSC cannot be calibrated and the
# guest clock falls back to jiffies (coarse, and it lags on a busy host).
cmdline+=" cryptomgr.notests=1 mitigations=off random.trust_cpu=on no_timer_check tsc=reliable"
cmdline+=" cnic.repo=$ROOT cnic.run=$RUN cnic.msize=$msize ${CNIC_VM_APPEND:-}"

# shellcheck disable=SC2054 # commas are qemu's
qemu=(qemu-system-x86_64 -M pc,accel=tcg -cpu "${CNIC_VM_CPU:-max}" -smp "$smp" -m "${CNIC_VM_MEM:-1536}"
	-nodefaults -no-user-config -display none -vga none -nic none -no-reboot -monitor none
	-kernel "$VM_KERNEL" -initrd "$VM_INITRD" -append "$cmdline"
	-fsdev "local,id=fsroot,path=/,security_model=passthrough,readonly=on,multidevs=remap"
	-device virtio-9p-pci,fsdev=fsroot,mount_tag=hostroot
	-fsdev "local,id=fsrepo,path=$ROOT,security_model=passthrough,multidevs=remap"
	-device virtio-9p-pci,fsdev=fsrepo,mount_tag=repo
	-chardev "file,id=con,path=$RUN/console.log" -serial chardev:con
	-chardev stdio,id=out,signal=off -serial chardev:out)
if [ "$VM_BOOT" = pvh ]; then
	qemu+=(-bios /usr/share/qemu/qboot.rom)
	[ -f /usr/share/qemu/qboot.rom ] || die "/usr/share/qemu/qboot.rom missing (install qemu-system-data)"
fi

echo "# vm: kernel $VM_KVER, $VM_BOOT boot, smp $smp, image ready in $((t_built - t_start)) ms"
if [ "$VM_BOOT" != pvh ] && [ "${CNIC_VM_BOOT:-}" != bzimage ]; then
	echo "# vm: WARNING: the kernel has no PVH entry; booting the bzImage via SeaBIOS (slower)"
fi

# mawk reads pipes in blocks: make it pass lines on as they come.
awk=(awk)
awk -W version 2>&1 | grep -q mawk && awk=(awk -W interactive)

# qemu and the TAP filter run in the background, joined by a fifo, so that a
# signal to this script (Ctrl-C, a parent's timeout) is handled at once: the
# trap stops qemu (timeout forwards the TERM) instead of leaving it running.
mkfifo "$RUN/out"
qpid=
apid=
# shellcheck disable=SC2317 # called by the trap
stop_vm()
{
	[ -n "$qpid" ] && kill -TERM "$qpid" 2>/dev/null
	[ -n "$apid" ] && wait "$apid" 2>/dev/null
	echo "Bail out! vm: interrupted"
	exit 130
}
trap stop_vm INT TERM HUP

t_boot=$(now_ms)
timeout -k 10 "${CNIC_VM_TIMEOUT:-2000}" "${qemu[@]}" </dev/null >"$RUN/out" 2>"$RUN/qemu.err" &
qpid=$!
"${awk[@]}" -v t0="$t_boot" -v console="$RUN/console.log" -v counts="$RUN/counts" '
	function now(  c, t) { c = "date +%s%N"; c | getline t; close(c); return int(t / 1000000) }
	# A SKIP or TODO directive counts as skipped, as test/run-all.sh counts it.
	function emit(ok, desc) {
		n++
		if (desc ~ /#[ \t]*(SKIP|skip|TODO|todo)/) skipped++
		else if (ok) pass++
		else { failed++; cur_fail++ }
		printf "%s %d - %s\n", ok ? "ok" : "not ok", n, desc
		fflush()
	}
	function base(p) { sub(/.*\//, "", p); return p }
	{ sub(/\r+$/, "") }
	/^@@CNIC-VM BOOTED / {
		booted = now()
		printf "# vm: booted in %d ms (guest uptime %ss, kernel %s)\n", booted - t0, $3, $4
		fflush(); next
	}
	/^@@CNIC-VM BEGIN / { cur = base($3); cur_ok = 0; cur_fail = 0; plan = -1; printf "# ---- %s\n", cur; fflush(); next }
	/^@@CNIC-VM END / {
		rc = $3; ran = cur_ok + cur_fail
		if (rc == 124 || rc == 137) emit(0, cur ": timed out inside the VM")
		else if (rc != 0 && cur_fail == 0) emit(0, cur ": exited with status " rc)
		else if (ran == 0 && plan != 0) emit(0, cur ": printed no test result")
		else if (plan > 0 && plan != ran) emit(0, cur ": planned " plan " tests, ran " ran)
		else if (ran == 0 && plan == 0) emit(1, cur " # SKIP " skipwhy)
		cur = ""; next
	}
	/^@@CNIC-VM DONE/ { done = 1; next }
	/^@@CNIC-VM FATAL / { sub(/^@@CNIC-VM FATAL /, ""); emit(0, "VM setup: " $0); next }
	cur != "" && /^(not )?ok([ \t]|$)/ {
		ok = ($1 == "ok"); line = $0
		sub(/^(not )?ok[ \t]*[0-9]*[ \t]*(-[ \t]*)?/, "", line)
		if (ok) cur_ok++
		emit(ok, cur ": " line)
		next
	}
	cur != "" && /^1\.\.[0-9]+/ {
		plan = $1; sub(/^1\.\./, "", plan); plan += 0
		skipwhy = $0; if (!sub(/.*# *[Ss][Kk][Ii][Pp] */, "", skipwhy)) skipwhy = ""
		printf "#   (%s plan %s)\n", cur, $0; fflush(); next
	}
	/^[0-9]+ passed, [0-9]+ failed/ { printf "#   (%s: %s)\n", cur, $0; fflush(); next }
	/^Bail out!/ { emit(0, cur ": " $0); next }
	/^#/ { print; fflush(); next }
	{ printf "# %s\n", $0; fflush() }
	END {
		if (!done) {
			emit(0, "VM finished every script (it did not: timeout, crash or setup failure; see " console ")")
			# The kernel log: its alarming lines, then its last lines.
			while ((getline l < console) > 0) {
				tail[++nl] = l
				if (l ~ /Kernel panic|BUG:|Oops|cnic-vm-init|Call Trace|segfault|error/ && nk < 15) key[++nk] = l
			}
			for (i = 1; i <= nk; i++) printf "# console: %s\n", key[i]
			if (nk) print "# console: ..."
			for (i = (nl > 12 ? nl - 12 : 1); i <= nl; i++) printf "# console: %s\n", tail[i]
		}
		printf "# vm: total %d ms (boot+tests)\n", now() - t0
		printf "%d %d %d %d %d\n", n, pass, failed, skipped, done > counts
	}' <"$RUN/out" &
apid=$!
# wait returns early on a trapped signal; stop_vm then ends the script.
wait "$apid"
apid=
wait "$qpid"
qemu_rc=$?
qpid=
trap - INT TERM HUP
n=0 pass=0 failed=1 skipped=0 finished=0
[ -f "$RUN/counts" ] && read -r n pass failed skipped finished <"$RUN/counts"
if [ "$qemu_rc" -ne 0 ]; then
	sed 's/^/# qemu: /' "$RUN/qemu.err" | head -n 20
	n=$((n + 1)) failed=$((failed + 1))
	echo "not ok $n - qemu exited with status $qemu_rc$([ "$qemu_rc" = 124 ] && echo ' (CNIC_VM_TIMEOUT reached)')"
fi
echo "1..$n"
echo "$pass passed, $failed failed, $skipped skipped"
if [ "$failed" -eq 0 ] && [ "$finished" = 1 ]; then
	[ "${CNIC_VM_KEEP:-0}" = 1 ] || rm -rf "$RUN"
	exit 0
fi
echo "# vm: kept $RUN (console.log: kernel and init messages)" >&2
exit 1
