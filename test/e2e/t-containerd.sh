#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
#
# containerd end to end: Debian's containerd 1.6 and its CRI plugin run
# cnic's plugins for pods the way a kubelet asks for them.  A small CRI
# client (test/e2e/cri/client.py: python3-grpcio, stubs generated at run time
# from a minimal runtime.v1 proto) plays the kubelet.  Everything stays in
# throwaway namespaces and a temp dir:
#  - containerd runs inside a "node" netns through `nsenter --net` (`ip netns
#    exec` remounts /sys and breaks runc's cgroup detection), with a private
#    root, state, socket and config; restrict_oom_score_adj (root here may not
#    lower its OOM score); the native snapshotter; runc with cgroupfs;
#  - its CRI plugin takes plugins from $BIN and conflists from a temp conf dir
#    holding docs/examples/containerd/10-containerd-net.conflist (network
#    renamed: host-local's state lives in /var/lib/cni/networks/NAME);
#  - the sandbox ("pause") image is built here from busybox-static and
#    imported with `ctr -n k8s.io images import`: no registry.  Its process
#    is busybox httpd, so the pod itself answers on port 80.
# Checked: RunPodSandbox with hostPorts (IPv4, IPv6, one bound to a hostIP)
# gives the pod its IPv4 and IPv6 addresses, each host port answers from an
# external netns and from the node; a second pod asking for a taken host
# port is refused and leaves nothing; after a containerd restart the pod is
# still ready and reachable; StopPodSandbox and RemovePodSandbox leave no
# link, nft element, IPAM reservation, cached result or netns behind.
# About 12 s.
. "$(dirname "$0")/../integration/lib.sh"

require containerd ctr runc containerd-shim-runc-v2 busybox curl nft /usr/bin/python3
/usr/bin/python3 -c 'import grpc, grpc_tools' 2>/dev/null || bail_out "python3-grpcio / python3-grpc-tools missing"
for p in bridge portmap host-local loopback; do
	[ -x "$BIN/$p" ] || bail_out "$BIN/$p not built"
done
HERE=$(cd "$(dirname "$0")" && pwd)

netns_new NODE node
netns_new EXT ext
in_ns "$NODE" sysctl -qw net.ipv4.ip_forward=1 net.ipv6.conf.all.forwarding=1
ip -n "$NODE" link add up0 type veth peer name eth0 netns "$EXT"
ip -n "$NODE" addr add 198.18.30.1/24 dev up0
ip -n "$NODE" addr add 2001:db8:30::1/64 dev up0 nodad
ip -n "$NODE" link set up0 up
ip -n "$EXT" addr add 198.18.30.2/24 dev eth0
ip -n "$EXT" addr add 2001:db8:30::2/64 dev eth0 nodad
ip -n "$EXT" link set eth0 up
ip -n "$EXT" route add default via 198.18.30.1
ip -n "$EXT" -6 route add default via 2001:db8:30::1

NET=cnic-ctrd-e2e-$$
P=$T/ctrd
SOCK=$P/containerd.sock
mkdir -p "$P/net.d" "$P/root" "$P/state" "$P/img/rootfs/bin" "$P/img/rootfs/www" "$P/stubs"
jq --arg n "$NET" '.name = $n' "$ROOT/docs/examples/containerd/10-containerd-net.conflist" \
	>"$P/net.d/10-containerd-net.conflist" || bail_out "cannot write the conflist"
IMG=localhost/cnic-pause:e2e
# The pod's cgroups go under a parent of this test's own (removed at exit);
# /run/containerd/s (the shims' sockets, a path containerd 1.6 fixes) is
# removed at exit when this test made it and it is empty.
CGPARENT=/cnic-ctrd-e2e-$$
RUNDIRS=()
for d in /run/containerd /run/containerd/s; do
	[ -e "$d" ] || RUNDIRS=("$d" "${RUNDIRS[@]}")
done

cat >"$P/config.toml" <<EOF
version = 2
root = "$P/root"
state = "$P/state"
oom_score = 0
disabled_plugins = ["io.containerd.snapshotter.v1.aufs", "io.containerd.snapshotter.v1.btrfs",
	"io.containerd.snapshotter.v1.devmapper", "io.containerd.snapshotter.v1.zfs",
	"io.containerd.snapshotter.v1.overlayfs", "io.containerd.tracing.processor.v1.otlp"]

[grpc]
  address = "$SOCK"
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
  sandbox_image = "$IMG"
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
    bin_dir = "$BIN"
    conf_dir = "$P/net.d"
    max_conf_num = 1
EOF

CTRD_PID=""
# start_containerd: containerd in the node netns; waits (bounded) for its CRI.
start_containerd()
{
	nsenter --net="$(netns_path "$NODE")" -- containerd --config "$P/config.toml" \
		>>"$P/containerd.log" 2>&1 &
	CTRD_PID=$!
	register_pid "$CTRD_PID"
	wait_for "containerd's CRI answering" 30 cri version
}

# stop_containerd: SIGTERM and a bounded wait for it to exit.
stop_containerd()
{
	[ -n "$CTRD_PID" ] || return 0
	kill -TERM "$CTRD_PID" 2>/dev/null
	wait_for "containerd exiting" 20 sh -c "! kill -0 $CTRD_PID 2>/dev/null" || kill -KILL "$CTRD_PID" 2>/dev/null
	wait "$CTRD_PID" 2>/dev/null
	CTRD_PID=""
}

# cri ARGS...: the CRI client on our socket; sets OUT ERR RC.
cri()
{
	local f="$T/.cri.$BASHPID"
	RC=0
	timeout -k 5 90 /usr/bin/python3 "$HERE/cri/client.py" --socket "$SOCK" --stubs "$P/stubs" \
		"$@" >"$f.out" 2>"$f.err" || RC=$?
	OUT=$(<"$f.out")
	ERR=$(<"$f.err")
	rm -f "$f.out" "$f.err"
	return "$RC"
}

# Whatever containerd made goes at exit, even after a failure half way: the
# pods (through CRI while containerd lives), containerd, the shims it started
# for this root (found by our socket path on their command line), its mounts,
# the pods' netns, and the network's host-local and cache state.
POD_NETNS=()
ctrd_cleanup()
{
	local id p ns
	if [ -n "$CTRD_PID" ]; then
		for id in $(cri list 2>/dev/null && jq -r '.[].id' <<<"$OUT"); do
			cri status "$id" && ns=$(jq -r '.netns // empty' <<<"$OUT") && [ -n "$ns" ] &&
				POD_NETNS+=("$ns")
			cri stop "$id"
			cri rm "$id"
		done
	fi
	stop_containerd
	for p in /proc/[0-9]*; do
		if tr '\0' ' ' <"$p/cmdline" 2>/dev/null | grep -qF -- "-address $SOCK "; then
			kill -KILL "${p#/proc/}" 2>/dev/null
		fi
	done
	grep -o "${P}[^ ]*" /proc/mounts 2>/dev/null | sort -r | while read -r m; do umount -l "$m"; done
	for ns in "${POD_NETNS[@]}"; do
		if [ -e "$ns" ]; then
			umount -l "$ns" 2>/dev/null
			rm -f "$ns"
		fi
	done
	rm -rf "/var/lib/cni/networks/$NET" /var/lib/cni/results/"$NET"-*
	for d in /sys/fs/cgroup/*"$CGPARENT" /sys/fs/cgroup/*/*"$CGPARENT"; do
		[ -d "$d" ] && rmdir "$d" 2>/dev/null
	done
	for d in "${RUNDIRS[@]}"; do
		rmdir "$d" 2>/dev/null
	done
	rm -rf "$P"
}
at_exit ctrd_cleanup

# ---- the sandbox image: busybox httpd as the pod's process ------------------
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
jq -n --arg c "$cfgid.json" --arg t "$IMG" '[{Config: $c, RepoTags: [$t], Layers: ["layer.tar"]}]' \
	>"$P/img/manifest.json"
tar -C "$P/img" -cf "$P/image.tar" manifest.json "$cfgid.json" layer.tar || bail_out "cannot tar the image"

# ---- containerd ----------------------------------------------------------------
start_containerd || bail_out "containerd did not start: $(tail -5 "$P/containerd.log")"
ok_jq "CRI answers: containerd 1.6" "$OUT" '.runtime_name == "containerd" and (.runtime_version | test("^v?1\\.6"))'
ok_if "ctr -n k8s.io images import (busybox pause image)" in_ns "$NODE" \
	ctr --address "$SOCK" -n k8s.io images import --snapshotter native "$P/image.tar"

# ---- a pod with host ports -----------------------------------------------------
cri run web --cgroup-parent "$CGPARENT" --port 18500:80 --port 198.18.30.1:18501:80/tcp --port '[2001:db8:30::1]:18502:80/tcp'
is "RunPodSandbox with hostPorts succeeds" "$RC" 0
[ "$RC" -eq 0 ] || diag "$ERR
$(grep -i 'error' "$P/containerd.log" | tail -5)"
POD=$(jq -r '.id // empty' <<<"$OUT" 2>/dev/null)
cri status "${POD:-none}"
ok_jq "the pod is ready with an IPv4 address in 198.18.40.0/24" "$OUT" \
	'.state == "SANDBOX_READY" and (.ip | startswith("198.18.40."))'
ok_jq "and an IPv6 address in 2001:db8:40::/64" "$OUT" '.additional_ips | any(startswith("2001:db8:40::"))'
PODIP=$(jq -r '.ip // empty' <<<"$OUT" 2>/dev/null)
PODIP6=$(jq -r '.additional_ips[0] // empty' <<<"$OUT" 2>/dev/null)
PODNS=$(jq -r '.netns // empty' <<<"$OUT" 2>/dev/null)
[ -n "$PODNS" ] && POD_NETNS+=("$PODNS")
ok_if "the pod has its own netns with eth0" sh -c "[ -n '$PODNS' ] && nsenter --net='$PODNS' ip -o link show eth0"

# answers "desc" NS URL: curl from NS gets the pod's page (bounded retries).
answers()
{
	local desc=$1 ns=$2 url=$3
	if [ -z "$PODIP" ]; then
		fail "$desc" "no pod"
	elif wait_for "$desc" 10 in_ns "$ns" curl -sf -m 2 -g "$url"; then
		like "$desc" "$(in_ns "$ns" curl -sS -m 5 -g "$url" 2>&1)" 'hello from cnic'
	else
		fail "$desc" "$(in_ns "$ns" curl -sS -m 5 -g "$url" 2>&1)"
	fi
}
# refused "desc" NS URL: nothing answers there.
refused()
{
	if [ -z "$PODIP" ]; then
		fail "$1" "no pod"
	elif in_ns "$2" curl -sf -m 2 -g "$3" >/dev/null 2>&1; then
		fail "$1" "$3 answered"
	else
		pass "$1"
	fi
}
# check_reach WHEN: the pod and each host port, from outside and from the node.
check_reach()
{
	local when=$1
	answers "$when: the pod answers on $PODIP from the node" "$NODE" "http://${PODIP:-198.18.40.254}/"
	answers "$when: hostPort 18500 from the external netns (IPv4)" "$EXT" "http://198.18.30.1:18500/"
	answers "$when: hostPort 18500 from the external netns (IPv6)" "$EXT" "http://[2001:db8:30::1]:18500/"
	answers "$when: hostPort 18500 from the node" "$NODE" "http://198.18.30.1:18500/"
	answers "$when: hostPort 18501 on its hostIP 198.18.30.1" "$EXT" "http://198.18.30.1:18501/"
	refused "$when: hostPort 18501 not on the bridge address" "$EXT" "http://198.18.40.1:18501/"
	answers "$when: hostPort 18502 on its hostIP 2001:db8:30::1" "$EXT" "http://[2001:db8:30::1]:18502/"
	refused "$when: hostPort 18502 not over IPv4" "$EXT" "http://198.18.30.1:18502/"
}
check_reach "running"

# A second pod asking for a host port the first one holds: cnic refuses the
# conflict (code 110, portmap.md) where the reference lets the newer rule
# shadow the older.  containerd then tears the half-made network down (DEL
# after a failed ADD): that must succeed, or containerd keeps the sandbox
# as unknown and its address, veth and netns leak (issue 11).
ipam_before=$(ipam_files "/var/lib/cni/networks/$NET" | wc -l)
links_before=$(links_in "$NODE" | wc -l)
cri run web2 --cgroup-parent "$CGPARENT" --port 18500:80
isnt "RunPodSandbox with a host port already taken fails" "$RC" 0
like "with portmap's conflict error" "$ERR" 'portmap.*(conflict|already)'
cri list
is "containerd keeps no sandbox for it" "$(jq -c '[.[] | select(.name == "web2")] | length' <<<"$OUT" 2>/dev/null)" 0
is "no IPAM reservation leaked" "$(ipam_files "/var/lib/cni/networks/$NET" | wc -l)" "$ipam_before"
is "no link leaked" "$(links_in "$NODE" | wc -l)" "$links_before"
is "containerd logged no failed teardown" "$(grep -c 'Failed to destroy network' "$P/containerd.log" || true)" 0
answers "the first pod still answers on hostPort 18500" "$EXT" "http://198.18.30.1:18500/"

# ---- containerd restarts; the pod stays ------------------------------------------
stop_containerd
answers "containerd stopped: the pod still answers through hostPort 18500" "$EXT" "http://198.18.30.1:18500/"
start_containerd
is "containerd restarted" "$RC" 0
cri status "${POD:-none}"
ok_jq "after the restart the pod is still ready with the same address" "$OUT" \
	".state == \"SANDBOX_READY\" and .ip == \"$PODIP\""
check_reach "after restart"

# ---- stop and remove: nothing left ---------------------------------------------
cri stop "${POD:-none}"
is "StopPodSandbox succeeds" "$RC" 0
[ "$RC" -eq 0 ] || diag "$ERR"
refused "hostPort 18500 closed once the pod is stopped" "$EXT" "http://198.18.30.1:18500/"
cri rm "${POD:-none}"
is "RemovePodSandbox succeeds" "$RC" 0
[ "$RC" -eq 0 ] || diag "$ERR"
cri list
is "no pod left" "$(jq -c 'length' <<<"$OUT" 2>/dev/null)" 0
links=$(links_in "$NODE" | grep -vxF -e lo -e up0 -e cni0 || true)
is "no links left in the node but its bridge" "$links" ""
is "no nft set elements left" "$(nft_attachment_elems "$NODE")" 0
for a in "$PODIP" "$PODIP6"; do
	[ -n "$a" ] || continue
	is "no nft rule or element names $a" "$(in_ns "$NODE" nft list ruleset 2>/dev/null | grep -cF "$a" || true)" 0
done
is "no IPAM reservation left" "$(ipam_files "/var/lib/cni/networks/$NET")" ""
is "no cached result left" "$(ls /var/lib/cni/results 2>/dev/null | grep -c "^$NET-" || true)" 0
ok_if "the pod's netns is gone" test -n "$PODNS" -a ! -e "$PODNS"
errs=$(grep 'level=error.*\(cni\|CNI\|network\)' "$P/containerd.log" | grep -v 'web2\|RunPodSandbox.*failed' || true)
is "containerd logged no other network error" "$errs" ""

done_testing
