#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
#
# package.sh deb|dist VERSION BINDIR OUTDIR: the release artefacts `make deb`
# and `make dist` build from the plugins in BINDIR (stripped copies).
#
#   deb   OUTDIR/cnic_<VERSION>_<arch>.deb: the plugins in /usr/lib/cni, the
#         directory Debian's runtimes search (containerd's packaged
#         config.toml names it; podman searches it before /opt/cni/bin), in
#         place of Debian's containernetworking-plugins: Provides, Conflicts
#         and Replaces it, so `apt install ./cnic_*.deb` switches a node and
#         `apt install containernetworking-plugins` switches it back.  Built
#         with dpkg-deb alone (no debhelper), owned by root, reproducible
#         (file times from SOURCE_DATE_EPOCH, default: the last commit).
#   dist  OUTDIR/cni-plugins-linux-<arch>-v<VERSION>.tgz, laid out like the
#         reference's release tarball (./bridge, ./portmap, ... at the top
#         level, with LICENSE and README.md), plus its .sha256 and .sha512.
#
# VERSION must be a Debian upstream version (digits first; + . ~ allowed).
set -eu

what=${1:?usage: package.sh deb|dist VERSION BINDIR OUTDIR}
version=${2:?}
bindir=${3:?}
out=${4:?}
top=$(cd "$(dirname "$0")/.." && pwd)
case $version in
[0-9]*) ;;
*) echo "package.sh: version '$version' must start with a digit" >&2; exit 1 ;;
esac
: "${SOURCE_DATE_EPOCH:=$(git -C "$top" log -1 --format=%ct 2>/dev/null || date +%s)}"
export SOURCE_DATE_EPOCH
arch=$(dpkg --print-architecture 2>/dev/null || echo amd64)
plugins=$(find "$bindir" -maxdepth 1 -type f -perm -u+x -printf '%f\n' | sort)
[ -n "$plugins" ] || { echo "package.sh: no plugins in $bindir" >&2; exit 1; }
mkdir -p "$out"
stage=$(mktemp -d "${TMPDIR:-/tmp}/cnic-pkg.XXXXXX")
trap 'rm -rf "$stage"' EXIT

# put DIR: stripped plugins into DIR, mode 0755.
put()
{
	install -d -m 0755 "$1"
	for p in $plugins; do
		install -m 0755 -s "$bindir/$p" "$1/$p"
	done
}

case $what in
deb)
	root=$stage/root
	put "$root/usr/lib/cni"
	doc=$root/usr/share/doc/cnic
	install -d -m 0755 "$doc"
	install -m 0644 "$top/README.md" "$doc/README.md"
	install -m 0644 "$top/docs/licensing.md" "$doc/licensing.md"
	cat >"$doc/copyright" <<EOF
Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/
Upstream-Name: cnic
Comment: The plugins are linked statically: each also contains copies of
 glibc (LGPL-2.1+), json-c (MIT), libnl-3 (LGPL-2.1) and, in bridge, ptp,
 portmap and firewall, libnftnl (GPL-2.0+), each under its own license.
 licensing.md in this directory says what that means for redistribution.

Files: *
License: Apache-2.0
 On Debian systems the full text is in /usr/share/common-licenses/Apache-2.0.
EOF
	chmod 0644 "$doc/copyright"
	install -d -m 0755 "$root/DEBIAN"
	size=$(du -sk --exclude=DEBIAN "$root" | cut -f1)
	cat >"$root/DEBIAN/control" <<EOF
Package: cnic
Version: $version
Architecture: $arch
Maintainer: cnic developers <cnic@localhost>
Installed-Size: $size
Section: net
Priority: optional
Provides: containernetworking-plugins, container-network-stack (= 1)
Conflicts: containernetworking-plugins
Replaces: containernetworking-plugins
Homepage: https://www.cni.dev/
Description: CNI plugins in C, a drop-in for the reference plugins
 bridge, ptp, macvlan, ipvlan, loopback, portmap, tuning, firewall and the
 host-local and static IPAM plugins, statically linked, installed in
 /usr/lib/cni where Debian's containerd and podman look for CNI plugins.
 Same binary names, configuration keys, results and on-disk state as
 containernetworking-plugins, which this package replaces.
EOF
	(cd "$root" && find usr -type f -exec md5sum {} + | sort -k2) >"$root/DEBIAN/md5sums"
	chmod 0644 "$root/DEBIAN/control" "$root/DEBIAN/md5sums"
	find "$root" -exec touch -h -d "@$SOURCE_DATE_EPOCH" {} +
	deb=$out/cnic_${version}_$arch.deb
	dpkg-deb --root-owner-group -Zxz --build "$root" "$deb" >/dev/null
	echo "$deb"
	;;
dist)
	d=$stage/dist
	put "$d"
	install -m 0644 "$top/README.md" "$d/README.md"
	install -m 0644 "$top/LICENSE" "$d/LICENSE"
	tgz=$out/cni-plugins-linux-$arch-v$version.tgz
	tar -C "$d" --sort=name --owner=0 --group=0 --numeric-owner --mtime="@$SOURCE_DATE_EPOCH" \
		-cf - . | gzip -9n >"$tgz"
	(cd "$out" && sha256sum "${tgz##*/}" >"${tgz##*/}.sha256" && sha512sum "${tgz##*/}" >"${tgz##*/}.sha512")
	echo "$tgz"
	;;
*)
	echo "package.sh: unknown artefact '$what' (deb or dist)" >&2
	exit 1
	;;
esac
