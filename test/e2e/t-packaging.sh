#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
#
# Installing cnic where runtimes look: `make install` (and what it says about
# each runtime's plugin dir), `make deb`, `make dist`, and the version line a
# plugin prints without CNI_COMMAND.  Everything goes into temp roots: the
# package is installed with `dpkg --root` over a stand-in
# containernetworking-plugins package (built here), never onto this
# machine's /usr/lib/cni.  About 25 s (mostly make, strip and xz).
. "$(dirname "$0")/../integration/lib.sh"

require make dpkg dpkg-deb tar gzip sha256sum readelf
PLUGINS=$(find "$ROOT/bin" -maxdepth 1 -type f -perm -u+x -printf '%f\n' | sort)
[ -n "$PLUGINS" ] || bail_out "no plugins in $ROOT/bin"
VERSION=$(make -s -C "$ROOT" --no-print-directory --eval 'pv: ; @echo $(VERSION)' pv)
DEB_VERSION=$(make -s -C "$ROOT" --no-print-directory --eval 'pv: ; @echo $(DEB_VERSION)' pv)
like "make's VERSION is set" "$VERSION" '^[0-9]+\.[0-9]+\.[0-9]+'

# stripped FILE: no symbol table, no debug info.
stripped()
{
	! readelf -S "$1" | grep -qE '\.symtab|\.debug_info'
}

# ---- make install: where it went, which runtime runs what -------------------
# A stand-in node root: Debian's containerd (config.toml naming /usr/lib/cni),
# podman with its default search list, and the reference in /usr/lib/cni.
R=$T/node
mkdir -p "$R/etc/containerd" "$R/usr/bin" "$R/usr/lib/cni"
printf 'version = 2\n[plugins."io.containerd.grpc.v1.cri".cni]\n  bin_dir = "/usr/lib/cni"  # Debian\n  conf_dir = "/etc/cni/net.d"\n' \
	>"$R/etc/containerd/config.toml"
printf '#!/bin/sh\n' >"$R/usr/bin/containerd"
printf '#!/bin/sh\n' >"$R/usr/bin/podman"
printf '#!/bin/sh\n# github.com/containernetworking/plugins\necho reference\n' >"$R/usr/lib/cni/bridge"
chmod 0755 "$R/usr/bin/containerd" "$R/usr/bin/podman" "$R/usr/lib/cni/bridge"

make -s -C "$ROOT" --no-print-directory install DESTDIR="$R" PREFIX=/opt/cni/bin >"$T/inst.out" 2>"$T/inst.err"
is "make install PREFIX=/opt/cni/bin succeeds" "$?" 0
like "it says where it installed" "$(cat "$T/inst.out")" "installed $(wc -w <<<"$PLUGINS") plugins into /opt/cni/bin"
like "it warns that containerd does not search /opt/cni/bin" "$(cat "$T/inst.err")" \
	'warning: containerd searches /usr/lib/cni and not /opt/cni/bin'
like "it warns that podman finds the reference in /usr/lib/cni first" "$(cat "$T/inst.err")" \
	'warning: podman searches /usr/lib/cni before /opt/cni/bin, and /usr/lib/cni/bridge is the reference plugins'
n=0
for p in $PLUGINS; do
	[ -x "$R/opt/cni/bin/$p" ] && stripped "$R/opt/cni/bin/$p" && n=$((n + 1))
done
is "every plugin installed, stripped" "$n" "$(wc -w <<<"$PLUGINS")"
is "no temporary file left" "$(find "$R/opt/cni/bin" -name '.*' | wc -l)" 0

# The version line (make install rebuilt what an older version left in bin/).
out=$(env -i "$R/opt/cni/bin/bridge" </dev/null 2>&1)
rc=$?
is "bridge without CNI_COMMAND exits 0" "$rc" 0
like "and says it is cnic, with the version" "$out" "^CNI bridge plugin \\(cnic\\) ${VERSION//+/\\+}"$'\n'"CNI protocol versions supported: 0\\.1\\.0, .*1\\.1\\.0$"

make -s -C "$ROOT" --no-print-directory install DESTDIR="$R" PREFIX=/usr/lib/cni >"$T/inst.out" 2>"$T/inst.err"
is "make install PREFIX=/usr/lib/cni succeeds" "$?" 0
like "then containerd runs cnic" "$(cat "$T/inst.out")" 'containerd will run the plugins from /usr/lib/cni'
like "and podman too" "$(cat "$T/inst.out")" 'podman will run the plugins from /usr/lib/cni'
is "and nothing is warned about" "$(cat "$T/inst.err")" ""
like "the reference's bridge was replaced" "$(env -i "$R/usr/lib/cni/bridge" </dev/null 2>&1)" '\(cnic\)'

# ---- make deb ------------------------------------------------------------------
PKG=$T/pkg
make -s -C "$ROOT" --no-print-directory deb PKGDIR="$PKG" >"$T/deb.out" 2>&1
is "make deb succeeds" "$?" 0
ARCH=$(dpkg --print-architecture)
DEB=$PKG/cnic_${DEB_VERSION}_$ARCH.deb
ok_if "it wrote cnic_<version>_<arch>.deb" test -s "$DEB"
is "Package" "$(dpkg-deb -f "$DEB" Package 2>&1)" cnic
is "Version" "$(dpkg-deb -f "$DEB" Version 2>&1)" "$DEB_VERSION"
like "Provides containernetworking-plugins" "$(dpkg-deb -f "$DEB" Provides 2>&1)" '(^|, )containernetworking-plugins(,|$)'
is "Conflicts" "$(dpkg-deb -f "$DEB" Conflicts 2>&1)" containernetworking-plugins
is "Replaces" "$(dpkg-deb -f "$DEB" Replaces 2>&1)" containernetworking-plugins
dpkg-deb --contents "$DEB" >"$T/deb.list" 2>&1
want=$(for p in $PLUGINS; do echo "./usr/lib/cni/$p"; done)
is "every plugin is in /usr/lib/cni" \
	"$(awk '$1 ~ /^-/ {print $6}' "$T/deb.list" | grep '^\./usr/lib/cni/' | sort)" "$want"
is "files only in /usr/lib/cni and /usr/share/doc/cnic" \
	"$(awk '$1 ~ /^-/ {print $6}' "$T/deb.list" | grep -vE '^\./usr/(lib/cni|share/doc/cnic)/[^/]+$' || true)" ""
is "everything owned by root" "$(awk '$2 != "root/root"' "$T/deb.list")" ""
is "plugins are mode 0755" "$(awk '$6 ~ /^\.\/usr\/lib\/cni\/./ && $1 != "-rwxr-xr-x"' "$T/deb.list")" ""

# Installed into a temp root over a stand-in containernetworking-plugins.
D=$T/root
mkdir -p "$D/var/lib/dpkg/info" "$D/var/lib/dpkg/updates" "$D/var/lib/dpkg/triggers" "$T/ref/DEBIAN" "$T/ref/usr/lib/cni"
: >"$D/var/lib/dpkg/status"
: >"$D/var/lib/dpkg/available"
printf 'Package: containernetworking-plugins\nVersion: 1.1.1+ds1-3\nArchitecture: %s\nMaintainer: test <t@localhost>\nDescription: stand-in for the reference plugins\n' \
	"$ARCH" >"$T/ref/DEBIAN/control"
for p in bridge portmap host-local; do
	printf '#!/bin/sh\necho reference %s\n' "$p" >"$T/ref/usr/lib/cni/$p"
	chmod 0755 "$T/ref/usr/lib/cni/$p"
done
dpkg-deb --root-owner-group --build "$T/ref" "$T/ref.deb" >/dev/null 2>&1 || bail_out "cannot build the stand-in package"
dpkgr()
{
	dpkg --root="$D" --log=/dev/null --force-script-chrootless "$@"
}
pkg_status()
{
	dpkg-query --admindir="$D/var/lib/dpkg" -W -f='${Status}' "$1" 2>/dev/null
}
ok_if "the stand-in reference package installs" dpkgr -i "$T/ref.deb"
is "its bridge is in /usr/lib/cni" "$("$D/usr/lib/cni/bridge")" "reference bridge"
ok_if "dpkg -i cnic's package over it" dpkgr -i "$DEB"
is "cnic is installed" "$(pkg_status cnic)" "install ok installed"
isnt "containernetworking-plugins was removed" "$(pkg_status containernetworking-plugins)" "install ok installed"
like "/usr/lib/cni/bridge is cnic's" "$(env -i "$D/usr/lib/cni/bridge" </dev/null 2>&1)" \
	"^CNI bridge plugin \\(cnic\\) ${VERSION//+/\\+}"
n=0
for p in $PLUGINS; do
	[ -x "$D/usr/lib/cni/$p" ] && n=$((n + 1))
done
is "every plugin is in the root's /usr/lib/cni" "$n" "$(wc -w <<<"$PLUGINS")"
ok_if "and back: dpkg -r cnic" dpkgr -r cnic
is "no plugin left in /usr/lib/cni" "$(find "$D/usr/lib/cni" -type f 2>/dev/null | wc -l)" 0
ok_if "the reference package installs again" dpkgr -i "$T/ref.deb"
is "and its bridge is back" "$("$D/usr/lib/cni/bridge")" "reference bridge"

# ---- make dist ------------------------------------------------------------------
make -s -C "$ROOT" --no-print-directory dist PKGDIR="$PKG" >"$T/dist.out" 2>&1
is "make dist succeeds" "$?" 0
TGZ=$PKG/cni-plugins-linux-$ARCH-v$DEB_VERSION.tgz
ok_if "it wrote cni-plugins-linux-<arch>-v<version>.tgz" test -s "$TGZ"
ok_if "with a .sha256 that checks" sh -c "cd '$PKG' && sha256sum -c '${TGZ##*/}.sha256'"
ok_if "and a .sha512 that checks" sh -c "cd '$PKG' && sha512sum -c '${TGZ##*/}.sha512'"
is "the binaries, LICENSE and README.md at the top level, nothing else" \
	"$(tar -tzf "$TGZ" | grep -vx './' | sort)" \
	"$( (echo ./LICENSE; echo ./README.md; for p in $PLUGINS; do echo "./$p"; done) | sort)"
is "owned by 0/0" "$(tar -tvzf "$TGZ" | awk '$2 != "0/0"')" ""
mkdir -p "$T/x"
tar -C "$T/x" -xzf "$TGZ"
like "an extracted bridge says it is cnic" "$(env -i "$T/x/bridge" </dev/null 2>&1)" '^CNI bridge plugin \(cnic\)'
ok_if "extracted plugins are stripped" stripped "$T/x/bridge"
cp "$TGZ" "$T/first.tgz"
make -s -C "$ROOT" --no-print-directory dist PKGDIR="$PKG" >/dev/null 2>&1
ok_if "make dist is reproducible" cmp "$T/first.tgz" "$TGZ"

done_testing
