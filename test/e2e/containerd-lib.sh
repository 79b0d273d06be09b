# shellcheck shell=bash
# SPDX-License-Identifier: Apache-2.0
#
# A private containerd 1.6 (CRI plugin) for tests and benchmarks, sourced after
# test/integration/lib.sh (it uses $T, in_ns, netns_path, register_pid, at_exit,
# wait_for, bail_out).  Used by test/e2e/t-containerd.sh and
# test/bench/runtimes.sh; several instances may live side by side, each named
# by its own directory P:
#  - containerd runs inside a "node" netns through `nsenter --net` (`ip netns
#    exec` remounts /sys and breaks runc's cgroup detection), with a private
#    root, state, socket and config under P; restrict_oom_score_adj (root here
#    may not lower its OOM score); the native snapshotter; runc with cgroupfs;
#  - its CRI plugin takes plugins from a given dir and the conflist from P/net.d
#    (network renamed: host-local's state lives in /var/lib/cni/networks/NAME);
#  - the sandbox ("pause") image is built from busybox-static and imported with
#    `ctr -n k8s.io images import`: no registry.  Its process is busybox httpd,
#    so the pod itself answers on port 80.
#
#	ctrd_init P NODE CNI_BIN_DIR CONFLIST NET CGPARENT   set up P (cleanup at exit)
#	ctrd_start P / ctrd_stop P                           containerd up (CRI answers) / down
#	ctrd_import P                                        the pause image into its store
#	cri_at P ARGS...                                     test/e2e/cri/client.py; sets OUT ERR RC
#	ctrd_cleanup P                                       everything P made, also half way
#
# CTRD_IMG names the sandbox image; CTRD_NETNS collects pod netns paths the
# caller learnt, removed at cleanup if containerd left them.

CTRD_HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
CTRD_IMG=localhost/cnic-pause:e2e
CTRD_NETNS=()
# /run/containerd/s (the shims' sockets, a path containerd 1.6 fixes) is
# removed at cleanup when we made it and it is empty.
CTRD_RUNDIRS=()
for _d in /run/containerd /run/containerd/s; do
	[ -e "$_d" ] || CTRD_RUNDIRS=("$_d" "${CTRD_RUNDIRS[@]}")
done
unset _d

# ctrd_init P NODE CNI_BIN_DIR CONFLIST NET CGPARENT: config, conflist and image
# tarball under P; the pods' cgroups go under CGPARENT (removed at cleanup).
ctrd_init()
{
	local P=$1 node=$2 bindir=$3 conflist=$4 net=$5 cgparent=$6 diffid cfgid
	mkdir -p "$P/net.d" "$P/root" "$P/state" "$P/img/rootfs/bin" "$P/img/rootfs/www" "$P/stubs" ||
		bail_out "cannot make $P"
	printf '%s\n' "$node" >"$P/node"
	printf '%s\n' "$net" >"$P/net"
	printf '%s\n' "$cgparent" >"$P/cgparent"
	at_exit "ctrd_cleanup '$P'"
	jq --arg n "$net" '.name = $n' "$conflist" >"$P/net.d/10-containerd-net.conflist" ||
		bail_out "cannot write the conflist"
	cat >"$P/config.toml" <<EOF
version = 2
root = "$P/root"
state = "$P/state"
oom_score = 0
disabled_plugins = ["io.containerd.snapshotter.v1.aufs", "io.containerd.snapshotter.v1.btrfs",
	"io.containerd.snapshotter.v1.devmapper", "io.containerd.snapshotter.v1.zfs",
	"io.containerd.snapshotter.v1.overlayfs", "io.containerd.tracing.processor.v1.otlp"]

[grpc]
  address = "$P/containerd.sock"
[ttrpc]
  address = "$P/containerd.sock.ttrpc"
[debug]
  address = "$P/debug.sock"
  level = "info"
[metrics]
  address = ""

[plugins."io.containerd.internal.v1.opt"]
  path = "$P/opt"
[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "$CTRD_IMG"
  restrict_oom_score_adj = true
  disable_apparmor = true
  disable_cgroup = false
  enable_selinux = false
  stream_server_address = "127.0.0.1"
  stream_server_port = "0"
  [plugins."io.containerd.grpc.v1.cri".containerd]
    snapshotter = "native"
    default_runtime_name = "runc"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
        BinaryName = "$(command -v runc)"
        Root = "$P/runc"
        SystemdCgroup = false
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "$bindir"
    conf_dir = "$P/net.d"
    max_conf_num = 1
EOF
	# The sandbox image: busybox httpd as the pod's process.
	cp "$(command -v busybox)" "$P/img/rootfs/bin/busybox"
	for c in sh httpd sleep; do ln -s busybox "$P/img/rootfs/bin/$c"; done
	echo "hello from cnic" >"$P/img/rootfs/www/index.html"
	tar -C "$P/img/rootfs" -cf "$P/img/layer.tar" . || bail_out "cannot tar the rootfs"
	diffid=$(sha256sum "$P/img/layer.tar" | cut -d' ' -f1)
	jq -n --arg d "sha256:$diffid" '{architecture: "amd64", os: "linux",
		config: {Entrypoint: ["/bin/busybox", "httpd", "-f", "-p", "80", "-h", "/www"], WorkingDir: "/"},
		rootfs: {type: "layers", diff_ids: [$d]}}' >"$P/img/config.json"
	cfgid=$(sha256sum "$P/img/config.json" | cut -d' ' -f1)
	mv "$P/img/config.json" "$P/img/$cfgid.json"
	jq -n --arg c "$cfgid.json" --arg t "$CTRD_IMG" '[{Config: $c, RepoTags: [$t], Layers: ["layer.tar"]}]' \
		>"$P/img/manifest.json"
	tar -C "$P/img" -cf "$P/image.tar" manifest.json "$cfgid.json" layer.tar || bail_out "cannot tar the image"
}

# ctrd_start P: containerd in P's node netns; waits (bounded) for its CRI.
ctrd_start()
{
	local P=$1 pid
	nsenter --net="$(netns_path "$(<"$P/node")")" -- containerd --config "$P/config.toml" \
		>>"$P/containerd.log" 2>&1 &
	pid=$!
	printf '%s\n' "$pid" >"$P/pid"
	register_pid "$pid"
	wait_for "containerd's CRI answering" 30 cri_at "$P" version
}

# ctrd_stop P: SIGTERM and a bounded wait for it to exit.
ctrd_stop()
{
	local P=$1 pid
	[ -s "$P/pid" ] || return 0
	pid=$(<"$P/pid")
	kill -TERM "$pid" 2>/dev/null
	wait_for "containerd exiting" 20 sh -c "! kill -0 $pid 2>/dev/null" || kill -KILL "$pid" 2>/dev/null
	wait "$pid" 2>/dev/null
	rm -f "$P/pid"
}

# ctrd_import P: the sandbox image into containerd's k8s.io namespace.
ctrd_import()
{
	in_ns "$(<"$1/node")" ctr --address "$1/containerd.sock" -n k8s.io images import \
		--snapshotter native "$1/image.tar"
}

# cri_at P ARGS...: the CRI client on P's socket; sets OUT ERR RC.
# CRI_TIMEOUT bounds the whole call (default 90 s).
cri_at()
{
	local P=$1 f="$T/.cri.$BASHPID"
	shift
	RC=0
	timeout -k 5 "${CRI_TIMEOUT:-90}" /usr/bin/python3 "$CTRD_HERE/cri/client.py" --socket "$P/containerd.sock" \
		--stubs "$P/stubs" "$@" >"$f.out" 2>"$f.err" || RC=$?
	OUT=$(<"$f.out")
	# shellcheck disable=SC2034 # read by the callers
	ERR=$(<"$f.err")
	rm -f "$f.out" "$f.err"
	return "$RC"
}

# ctrd_cleanup P: whatever P's containerd made goes, even after a failure half
# way: the pods (through CRI while containerd lives), containerd, the shims it
# started for this root (found by our socket path on their command line), its
# mounts, the pods' netns, the network's host-local and cache state, the
# cgroup parent.  Safe to call twice.
ctrd_cleanup()
{
	local P=$1 p ns d net cgp
	[ -d "$P" ] || return 0
	net=$(<"$P/net")
	cgp=$(<"$P/cgparent")
	if [ -s "$P/pid" ] && kill -0 "$(<"$P/pid")" 2>/dev/null; then
		CRI_TIMEOUT=600 cri_at "$P" purge && mapfile -t -O "${#CTRD_NETNS[@]}" CTRD_NETNS < <(jq -r '.[]' <<<"$OUT")
	fi
	ctrd_stop "$P"
	for p in /proc/[0-9]*; do
		if tr '\0' ' ' <"$p/cmdline" 2>/dev/null | grep -qF -- "-address $P/containerd.sock "; then
			kill -KILL "${p#/proc/}" 2>/dev/null
		fi
	done
	grep -o "${P}[^ ]*" /proc/mounts 2>/dev/null | sort -r | while read -r m; do umount -l "$m"; done
	for ns in "${CTRD_NETNS[@]}"; do
		if [ -e "$ns" ]; then
			umount -l "$ns" 2>/dev/null
			rm -f "$ns"
		fi
	done
	[ -n "$net" ] && rm -rf "/var/lib/cni/networks/$net" /var/lib/cni/results/"$net"-*
	if [ -n "$cgp" ]; then
		for d in /sys/fs/cgroup/*"$cgp" /sys/fs/cgroup/*/*"$cgp"; do
			[ -d "$d" ] && rmdir "$d" 2>/dev/null
		done
	fi
	for d in "${CTRD_RUNDIRS[@]}"; do
		# A shim that died hard (killed above, or under heavy load) leaves its
		# socket; in a dir we made, one that nobody listens on any more is ours.
		[ "$d" == /run/containerd/s ] && ctrd_stale_sockets "$d"
		rmdir "$d" 2>/dev/null
	done
	rm -rf "$P"
}

# ctrd_stale_sockets DIR: remove the unix sockets in DIR that refuse a connection.
ctrd_stale_sockets()
{
	[ -d "$1" ] || return 0
	timeout -k 2 30 /usr/bin/python3 -c '
import os, socket, sys
for n in os.listdir(sys.argv[1]):
    p = os.path.join(sys.argv[1], n)
    s = socket.socket(socket.AF_UNIX)
    s.settimeout(2)
    try:
        s.connect(p)
    except ConnectionRefusedError:
        os.unlink(p)
    except OSError:
        pass
    finally:
        s.close()' "$1"
}
