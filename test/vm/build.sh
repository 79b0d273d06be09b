#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
#
# Build (or reuse) the boot artefacts of the VM rig under build/vm/<kver>/:
#
#   vmlinux        the stock kernel, uncompressed, when it has a PVH entry point
#   bzImage        a copy of /boot/vmlinuz-<kver> when it has none (slower boot)
#   initramfs.cpio busybox-static + the modules needed to mount 9p and overlay + init.sh
#
# Prints shell assignments for run.sh to eval:
#   VM_KVER=... VM_KERNEL=... VM_BOOT=pvh|bzimage VM_INITRD=...
#
# The kernel version is the newest /boot/vmlinuz-* whose /lib/modules/<kver>
# exists, or $CNIC_VM_KVER.  Everything is rebuilt when an input changes
# (kernel image, modules.dep, busybox, init.sh, this script).
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
OUTBASE=${CNIC_VM_BUILD:-$ROOT/build/vm}

# Loaded in this order by init.sh (dependencies are resolved from modules.dep).
MODULES=(virtio_pci 9pnet_virtio 9p overlay)

die()
{
	echo "vm/build: $*" >&2
	exit 1
}

pick_kver()
{
	local f v best=""
	if [ -n "${CNIC_VM_KVER:-}" ]; then
		printf '%s\n' "$CNIC_VM_KVER"
		return
	fi
	for f in /boot/vmlinuz-*; do
		[ -e "$f" ] || continue
		v=${f#/boot/vmlinuz-}
		[ -f "/lib/modules/$v/modules.dep" ] || continue
		best=$(printf '%s\n%s\n' "$best" "$v" | sed '/^$/d' | sort -V | tail -n 1)
	done
	[ -n "$best" ] || die "no /boot/vmlinuz-* with matching /lib/modules (install linux-image-amd64)"
	printf '%s\n' "$best"
}

# Byte offsets of a magic string inside a file (grep -b on binary data).
magic_offsets()
{
	LC_ALL=C grep -obUaP "$2" "$1" 2>/dev/null | cut -d: -f1
}

# extract_vmlinux BZIMAGE OUT: find the compressed payload (xz, zstd, gzip, lz4)
# and decompress it; the first candidate that yields an ELF file wins.
extract_vmlinux()
{
	local img=$1 out=$2 off
	local -a kinds=(
		'\xfd7zXZ\x00|xz -dc --single-stream'
		'\x28\xb5\x2f\xfd|zstd -dcq'
		'\x1f\x8b\x08|gzip -dc'
		'\x02\x21\x4c\x18|lz4 -dc'
	)
	local k magic cmd
	for k in "${kinds[@]}"; do
		magic=${k%%|*}
		cmd=${k#*|}
		command -v "${cmd%% *}" >/dev/null 2>&1 || continue
		for off in $(magic_offsets "$img" "$magic" | head -n 8); do
			# Trailing data after the stream is expected; judge the output, not the status.
			tail -c +$((off + 1)) "$img" | $cmd >"$out.tmp" 2>/dev/null || true
			if [ "$(head -c 4 "$out.tmp" | od -An -tx1 | tr -d ' \n')" = 7f454c46 ]; then
				mv "$out.tmp" "$out"
				return 0
			fi
		done
	done
	rm -f "$out.tmp"
	return 1
}

# has_pvh VMLINUX: the Xen ELF note XEN_ELFNOTE_PHYS32_ENTRY (type 18) is what
# qemu's -kernel looks for to boot an ELF kernel through PVH.
has_pvh()
{
	readelf -nW "$1" 2>/dev/null | grep -Eq '^[[:space:]]*Xen[[:space:]].*\(0x0*12\)'
}

# Module file paths (relative to /lib/modules/<kver>) for the names given, each
# after its dependencies, no duplicates.
resolve_modules()
{
	local kver=$1
	shift
	awk -v want="$*" '
		function base(p,  b) { b = p; sub(/.*\//, "", b); sub(/\.ko(\.[a-z]+)?$/, "", b); gsub(/-/, "_", b); return b }
		function add(p,  i, n, d) {
			if (p in seen) return
			seen[p] = 1
			n = split(deps[p], d, " ")
			for (i = n; i >= 1; i--) add(d[i])
			print p
		}
		{ p = $1; sub(/:$/, "", p); deps[p] = ""; for (i = 2; i <= NF; i++) deps[p] = deps[p] " " $i; byname[base(p)] = p }
		END {
			n = split(want, w, " ")
			for (i = 1; i <= n; i++) {
				m = w[i]; gsub(/-/, "_", m)
				if (!(m in byname)) { print "missing module " w[i] > "/dev/stderr"; exit 1 }
				add(byname[m])
			}
		}' "/lib/modules/$kver/modules.dep"
}

KVER=$(pick_kver)
IMG=/boot/vmlinuz-$KVER
MODDIR=/lib/modules/$KVER
[ -r "$IMG" ] || die "cannot read $IMG"
[ -f "$MODDIR/modules.dep" ] || die "no $MODDIR/modules.dep"
BUSYBOX=$(command -v busybox || true)
[ -n "$BUSYBOX" ] || die "busybox not found (install busybox-static)"
for t in cpio readelf; do
	command -v "$t" >/dev/null || die "missing tool: $t"
done
! readelf -lW "$BUSYBOX" 2>/dev/null | grep -q INTERP || die "$BUSYBOX is not static (install busybox-static)"

OUT=$OUTBASE/$KVER
mkdir -p "$OUT"
exec 9>"$OUT/.lock"
flock -w 300 9 || die "timeout waiting for $OUT/.lock"

stamp=$(
	stat -Lc '%n %s %Y' "$IMG" "$MODDIR/modules.dep" "$BUSYBOX" "$HERE/init.sh" "$HERE/build.sh"
	echo "${MODULES[*]}"
)

if [ ! -f "$OUT/stamp" ] || [ "$(cat "$OUT/stamp")" != "$stamp" ]; then
	rm -f "$OUT/vmlinux" "$OUT/bzImage" "$OUT/initramfs.cpio" "$OUT/stamp"

	# Kernel: prefer the PVH entry of the uncompressed ELF (qboot, ~10x faster
	# than SeaBIOS + the bzImage decompressor under TCG).
	if extract_vmlinux "$IMG" "$OUT/vmlinux" && has_pvh "$OUT/vmlinux"; then
		:
	else
		echo "vm/build: $IMG: no PVH entry (or no decompressible payload); falling back to bzImage + SeaBIOS (slower)" >&2
		rm -f "$OUT/vmlinux"
		cp "$IMG" "$OUT/bzImage"
	fi

	# Initramfs.
	stage=$(mktemp -d "$OUT/stage.XXXXXX")
	trap 'rm -rf "$stage"' EXIT
	mkdir -p "$stage"/{bin,dev,proc,sys,lower,rw,newroot,lib/modules}
	cp "$BUSYBOX" "$stage/bin/busybox"
	install -m 0755 "$HERE/init.sh" "$stage/init"
	mods=$(resolve_modules "$KVER" "${MODULES[@]}") || die "cannot resolve modules"
	: >"$stage/modules.list"
	for m in $mods; do
		dst=$stage/lib/modules/$(basename "$m")
		case $m in
		*.ko) cp "$MODDIR/$m" "$dst" ;;
		# The stock kernel may lack in-kernel module decompression; insmod gets plain .ko.
		*.ko.xz) xz -dc "$MODDIR/$m" >"${dst%.xz}"; dst=${dst%.xz} ;;
		*.ko.zst) zstd -dcq "$MODDIR/$m" >"${dst%.zst}"; dst=${dst%.zst} ;;
		*.ko.gz) gzip -dc "$MODDIR/$m" >"${dst%.gz}"; dst=${dst%.gz} ;;
		*) die "unknown module file $m" ;;
		esac
		basename "$dst" >>"$stage/modules.list"
	done
	(cd "$stage" && find . -mindepth 1 | LC_ALL=C sort | cpio -o -H newc --quiet -R 0:0) \
		>"$OUT/initramfs.cpio.tmp"
	mv "$OUT/initramfs.cpio.tmp" "$OUT/initramfs.cpio"
	rm -rf "$stage"
	trap - EXIT
	printf '%s\n' "$stamp" >"$OUT/stamp"
fi

if [ -f "$OUT/vmlinux" ]; then
	printf 'VM_KVER=%q VM_KERNEL=%q VM_BOOT=pvh VM_INITRD=%q\n' "$KVER" "$OUT/vmlinux" "$OUT/initramfs.cpio"
else
	printf 'VM_KVER=%q VM_KERNEL=%q VM_BOOT=bzimage VM_INITRD=%q\n' "$KVER" "$OUT/bzImage" "$OUT/initramfs.cpio"
fi
