# shellcheck shell=bash
# SPDX-License-Identifier: Apache-2.0
#
# A private podman 4.3 (CNI network backend) for tests and benchmarks, sourced
# after test/integration/lib.sh (it uses $T, in_ns, netns_path, register_pid,
# at_exit, bail_out).  Used by test/e2e/t-podman.sh and test/bench/runtimes.sh;
# several instances may live side by side, each named by its own directory P:
#  - podman runs inside a "node" netns through `nsenter --net` (not `ip netns
#    exec`, which remounts /sys and breaks runc's cgroup detection);
#  - containers.conf is docs/examples/podman/containers.conf with its plugin
#    and config dirs pointed at the given plugin dir and P/net.d, plus what
#    this host needs (runtime runc: crun refuses the host's cgroup layout;
#    cgroupfs; ulimits within root's limits, since root here lacks
#    CAP_SYS_RESOURCE);
#  - storage (vfs), run and tmp dirs live under P; the image is a
#    busybox-static rootfs brought in with `podman import`: no registry.
#
#	pm_init P NODE CNI_DIR   set up P (cleanup at exit)
#	pm_at P ARGS...          podman in P's node netns with P's configuration
#	pm_import P              the busybox image as $PM_IMG
#	pm_track P NAME          a running container's conmon, pid, netns for cleanup
#	pm_cleanup P             containers, their netns, networks, state; safe twice

PM_EX=$(cd "$(dirname "${BASH_SOURCE[0]}")/../../docs/examples/podman" && pwd)
PM_IMG=localhost/cnic-busybox:e2e
PM_NETNS=()

# pm_init P NODE CNI_DIR: P's configuration; podman's default network gets a
# name of P's own (pm-default-<pid>) and 198.18.33.0/24.
pm_init()
{
	local P=$1 node=$2 cnidir=$3 nofile nproc
	mkdir -p "$P/net.d" "$P/storage" "$P/run" "$P/tmp" "$P/rootfs/bin" "$P/rootfs/www" ||
		bail_out "cannot make $P"
	printf '%s\n' "$node" >"$P/node"
	at_exit "pm_cleanup '$P'"
	nofile=$(ulimit -Hn)
	nproc=$(ulimit -Hu)
	[ "$nofile" == unlimited ] && nofile=1048576
	[ "$nproc" == unlimited ] && nproc=65536
	[ "$nofile" -gt 4096 ] && nofile=4096
	[ "$nproc" -gt 4096 ] && nproc=4096
	sed -e "s|\"/opt/cni/bin\"|\"$cnidir\"|" -e "s|\"/etc/cni/net.d\"|\"$P/net.d\"|" \
		"$PM_EX/containers.conf" >"$P/containers.conf"
	cat >>"$P/containers.conf" <<EOF
default_network = "pm-default-$$"
default_subnet = "198.18.33.0/24"

[containers]
default_ulimits = ["nofile=$nofile:$nofile", "nproc=$nproc:$nproc"]
log_driver = "k8s-file"

[engine]
runtime = "runc"
cgroup_manager = "cgroupfs"
events_logger = "none"
tmp_dir = "$P/tmp"
EOF
	cat >"$P/storage.conf" <<EOF
[storage]
driver = "vfs"
graphroot = "$P/storage"
runroot = "$P/run"
EOF
	printf 'unqualified-search-registries = []\n' >"$P/registries.conf"
	grep -q 'network_backend = "cni"' "$P/containers.conf" || bail_out "bad $PM_EX/containers.conf"
	grep -q "$P/net.d" "$P/containers.conf" || bail_out "network_config_dir not rewritten"
}

# pm_at P ARGS...: podman inside P's node netns, with P's configuration.
# PM_TIMEOUT bounds the call (default 60 s).
pm_at()
{
	local P=$1
	shift
	in_ns "$(<"$P/node")" env CONTAINERS_CONF="$P/containers.conf" \
		CONTAINERS_STORAGE_CONF="$P/storage.conf" \
		CONTAINERS_REGISTRIES_CONF="$P/registries.conf" \
		XDG_CONFIG_HOME="$P/xdg" TMPDIR="$P/tmp" \
		timeout -k 5 "${PM_TIMEOUT:-60}" podman "$@"
}

# pm_import P: busybox-static with a page to serve, imported as $PM_IMG.
pm_import()
{
	local P=$1 c
	cp "$(command -v busybox)" "$P/rootfs/bin/busybox" || return 1
	for c in sh ip cat nc httpd sleep grep true; do ln -sf busybox "$P/rootfs/bin/$c"; done
	echo "hello from cnic" >"$P/rootfs/www/index.html"
	tar -C "$P/rootfs" -c . | pm_at "$P" import - "$PM_IMG"
}

# pm_track P NAME: register a running container's conmon, pid and netns for cleanup.
pm_track()
{
	local s conmon pid ns
	s=$(pm_at "$1" inspect --format '{{.State.ConmonPid}} {{.State.Pid}} {{.NetworkSettings.SandboxKey}}' "$2" 2>/dev/null) ||
		return 0
	read -r conmon pid ns <<<"$s"
	[ "${conmon:-0}" -gt 0 ] && register_pid "$conmon"
	[ "${pid:-0}" -gt 0 ] && register_pid "$pid"
	[ -n "${ns:-}" ] && PM_NETNS+=("$ns")
	return 0
}

# pm_cleanup P: whatever P's podman made is undone, even when a caller failed
# half way: containers (their conmon and netns too: the netns of those still
# there are looked up first), every network in P/net.d with its host-local and
# cache state, the image store.
pm_cleanup()
{
	local P=$1 ns id net f
	[ -d "$P" ] || return 0
	for id in $(pm_at "$P" ps -aq 2>/dev/null); do
		ns=$(pm_at "$P" inspect --format '{{.NetworkSettings.SandboxKey}}' "$id" 2>/dev/null) &&
			[ -n "$ns" ] && PM_NETNS+=("$ns")
	done
	PM_TIMEOUT=300 pm_at "$P" rm -a -f -t 0 >/dev/null 2>&1
	for ns in "${PM_NETNS[@]}"; do
		[ -e "$ns" ] && ip netns del "${ns##*/}" 2>/dev/null
	done
	for f in "$P"/net.d/*.conflist; do
		[ -e "$f" ] || continue
		net=$(jq -r .name "$f" 2>/dev/null)
		pm_at "$P" network rm -f "$net" >/dev/null 2>&1
		[ -n "$net" ] && rm -rf "/var/lib/cni/networks/$net" /var/lib/cni/results/"$net"-*
	done
	# vfs has no mounts of its own; podman's shm mounts go with rm.
	grep -o "${P}[^ ]*" /proc/mounts 2>/dev/null | sort -r | while read -r m; do umount -l "$m"; done
	rm -rf "$P"
}
