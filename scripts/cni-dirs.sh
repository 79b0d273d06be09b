#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
#
# cni-dirs.sh INSTALL_DIR [ROOT]: after `make install`, say where the
# plugins went and, per runtime found under ROOT (default /), which
# directory it takes a plugin from.  Runtimes take the first directory of
# their list that holds the plugin, so a copy of the reference plugins in a
# directory searched before INSTALL_DIR (Debian's containernetworking-plugins
# in /usr/lib/cni) keeps being the one that runs: that, and a runtime that
# does not search INSTALL_DIR at all, get a warning on stderr.
#
# Search lists (docs/runtimes.md says the same):
#   containerd  [plugins."io.containerd.grpc.v1.cri".cni] bin_dir in
#               /etc/containerd/config.toml, default /opt/cni/bin (Debian's
#               package ships a config.toml saying /usr/lib/cni)
#   podman      cni_plugin_dirs in containers.conf (/etc/containers, then
#               /usr/share/containers), default /usr/local/libexec/cni,
#               /usr/libexec/cni, /usr/local/lib/cni, /usr/lib/cni, /opt/cni/bin
#   CRI-O       plugin_dirs in /etc/crio/crio.conf (and crio.conf.d), default
#               /opt/cni/bin
# Only reads files; exit status 0 (warnings are advice, not failures).
set -u

dir=${1:?usage: cni-dirs.sh INSTALL_DIR [ROOT]}
root=${2:-/}
root=${root%/}
dir=${dir%/}
n=$(find "$root$dir" -maxdepth 1 -type f -perm -u+x 2>/dev/null | wc -l)
echo "cnic: installed $n plugins into $dir"

# impl FILE: "cnic" or what else a plugin binary is.
impl()
{
	if grep -aq 'plugin (cnic)' "$1" 2>/dev/null; then
		echo cnic
	elif grep -aq 'github.com/containernetworking/plugins' "$1" 2>/dev/null; then
		echo "the reference plugins (containernetworking-plugins)"
	else
		echo "another implementation"
	fi
}

# toml_list KEY FILE...: the strings of the last `KEY = [...]` or `KEY = "..."`
# in the files (comments skipped), one a line.
toml_list()
{
	k=$1
	shift
	cat "$@" 2>/dev/null | sed -e 's/#.*//' | tr '\n' ' ' |
		sed -n "s/.*[[:space:]]${k}[[:space:]]*=[[:space:]]*\(\[[^]]*\]\|\"[^\"]*\"\).*/\1/p" |
		grep -o '"[^"]*"' | tr -d '"'
}

# check RUNTIME DIR...: the runtime's search order.
check()
{
	rt=$1
	shift
	first=""
	for d in "$@"; do
		d=${d%/}
		if [ -x "$root$d/bridge" ]; then
			first=$d
			break
		fi
	done
	searched=0
	for d in "$@"; do
		[ "${d%/}" = "$dir" ] && searched=1
	done
	if [ "$searched" = 0 ]; then
		echo "cnic: warning: $rt searches $(echo "$@" | sed 's/ /, /g') and not $dir:" \
			"install with PREFIX=${1%/} (or \`make deb\`), or add $dir to its plugin dirs" >&2
	elif [ -n "$first" ] && [ "$first" != "$dir" ]; then
		echo "cnic: warning: $rt searches $first before $dir, and $first/bridge is" \
			"$(impl "$root$first/bridge"): $rt keeps running that one." \
			"Install with PREFIX=$first (or \`make deb\`), or remove it" >&2
	else
		echo "cnic: $rt will run the plugins from $dir"
	fi
}

# containerd
if [ -x "$root/usr/bin/containerd" ] || [ -f "$root/etc/containerd/config.toml" ]; then
	d=$(toml_list bin_dir "$root/etc/containerd/config.toml" | head -1)
	check containerd "${d:-/opt/cni/bin}"
fi

# podman (CNI backend; podman 4)
if [ -x "$root/usr/bin/podman" ]; then
	l=""
	for f in "$root/etc/containers/containers.conf" "$root/usr/share/containers/containers.conf"; do
		l=$(toml_list cni_plugin_dirs "$f")
		[ -n "$l" ] && break
	done
	[ -n "$l" ] || l="/usr/local/libexec/cni /usr/libexec/cni /usr/local/lib/cni /usr/lib/cni /opt/cni/bin"
	# shellcheck disable=SC2086
	check podman $l
fi

# CRI-O
if [ -x "$root/usr/bin/crio" ] || [ -f "$root/etc/crio/crio.conf" ]; then
	l=$(toml_list plugin_dirs "$root/etc/crio/crio.conf" "$root"/etc/crio/crio.conf.d/*.conf)
	# shellcheck disable=SC2086
	check CRI-O ${l:-/opt/cni/bin}
fi
exit 0
