#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
#
# Security properties of the plugins, which run as root on every node:
#  - no world-writable file or directory, even under umask 000;
#  - symlinks and FIFOs planted in the data dir (network dir, lock,
#    reservations, hints, temporaries), as CNI_NETNS or as resolvConf are
#    neither followed nor blocked on, and what they point to is untouched;
#  - a delegated (exec'd) IPAM plugin gets only fds 0-2 and runs in the
#    host netns; after ADD no process holds an fd of the container netns
#    and no socket was left in it;
#  - accept_ra=0 on every host-side link the interface plugins create;
#  - hostile container ids, ifnames, network names and plugin types are
#    rejected (code 4 / 7) with nothing written: no file, no link.
# Interface plugins that are not built are skipped (noted in the output).
. "$(dirname "$0")/lib.sh"

require cc ss
HL=$BIN/host-local
[ -x "$HL" ] || bail_out "$HL not built"

netns_new NODE node
netns_new CTR ctr
CNS=$(netns_path "$CTR")
IFACE_PLUGINS=()
for p in bridge ptp macvlan; do
	if [ -x "$BIN/$p" ]; then IFACE_PLUGINS+=("$p"); else diag "SKIPPED: $p not built"; fi
done
# macvlan's master: one end of a veth pair inside the node.
in_ns "$NODE" ip link add m0 type veth peer name m0p
in_ns "$NODE" ip link set m0 up
in_ns "$NODE" ip link set m0p up

# iface_conf PLUGIN NETNAME IPAM_JSON [EXTRA]: a config for an interface plugin.
iface_conf()
{
	local extra
	case $1 in
	bridge) extra=$(jq -nc --arg b "bs-${2:0:12}" '{bridge: $b, isGateway: true}') ;;
	macvlan) extra='{"master": "m0"}' ;;
	*) extra='{}' ;;
	esac
	jq -nc --arg t "$1" --arg n "$2" --argjson ipam "$3" --argjson x "$extra" --argjson y "${4:-{\}}" \
		'{cniVersion: "1.0.0", name: $n, type: $t, ipam: $ipam} + $x + $y'
}

hl_ipam() # DATADIR SUBNET4 SUBNET6
{
	jq -nc --arg d "$1" --arg s4 "$2" --arg s6 "$3" \
		'{type: "host-local", dataDir: $d, ranges: [[{subnet: $s4}], [{subnet: $s6}]]}'
}

hl_conf() # FILE NETNAME DATADIR [IPAM_EXTRA]
{
	jq -n --arg n "$2" --arg d "$3" --argjson x "${4:-{\}}" '{cniVersion: "1.0.0", name: $n,
		type: "host-local", ipam: ({type: "host-local", dataDir: $d,
		ranges: [[{subnet: "198.18.80.0/24"}]]} + $x)}' >"$1"
}

# timed CMD...: run, set MS to the wall time in ms.
timed()
{
	local t0
	t0=$(date +%s%N)
	"$@"
	MS=$((($(date +%s%N) - t0) / 1000000))
}

world_writable() { find "$@" -perm -o+w ! -type l 2>/dev/null; }

# ---- no world-writable files, even under umask 000 -----------------------------------

D=$T/umask/data/nested
hl_conf "$T/um.json" umnet "$D"
mkdir -p "$T/umask"
(umask 000 && cni "$NODE" "$HL" ADD um1 "$CNS" eth0 "$T/um.json" CNIC_LOG_FILE="$T/umask/cnic.log")
ok_if "host-local ADD under umask 000" test -n "$(ipam_files "$D/umnet")"
is "... creates nothing world-writable" "$(world_writable "$T/umask")" ""
is "... network dir 0755, lock 0750, reservation and hint 0600, log 0600" \
	"$(file_mode "$D/umnet") $(file_mode "$D/umnet/lock") $(file_mode "$D/umnet/198.18.80.2") $(file_mode "$D/umnet/last_reserved_ip.0") $(file_mode "$T/umask/cnic.log")" \
	"755 750 600 600 600"
cni "$NODE" "$HL" DEL um1 "$CNS" eth0 "$T/um.json"
n=0
for p in "${IFACE_PLUGINS[@]}"; do
	n=$((n + 1))
	netns_new C ctr
	iface_conf "$p" "um$p" "$(hl_ipam "$T/umask/$p" "198.18.8$n.0/24" "2001:db8:8$n::/64")" >"$T/um-$p.json"
	(umask 000 && cni "$NODE" "$BIN/$p" ADD "um-$p" "$(netns_path "$C")" eth0 "$T/um-$p.json")
	ok_if "$p ADD under umask 000" test -n "$(ipam_files "$T/umask/$p/um$p")"
	is "... creates nothing world-writable" "$(world_writable "$T/umask/$p")" ""
	cni "$NODE" "$BIN/$p" DEL "um-$p" "$(netns_path "$C")" eth0 "$T/um-$p.json"
done
is "binaries are not world-writable" "$(world_writable "$BIN")" ""

# ---- planted FIFOs and symlinks are neither followed nor blocked on ----------------------

DD=$T/plant
mkdir -p "$DD" "$T/outside"
printf 'victim\r\neth0' >"$T/outside/victim"
victim_ok() { cmp -s "$T/outside/victim" <(printf 'victim\r\neth0'); }
hl_conf "$T/pl.json" plnet "$DD"
hl() { CNI_TIMEOUT=10 timed cni "$NODE" "$HL" "$@"; }

# The network dir itself.
mkfifo "$DD/plnet"
hl ADD victim "$CNS" eth0 "$T/pl.json"
is_error "network dir is a FIFO: an error"
ok_if "... at once (${MS} ms), and the FIFO stays" test "$MS" -lt 3000 -a -p "$DD/plnet"
rm -f "$DD/plnet"
ln -s "$T/outside" "$DD/plnet"
hl ADD victim "$CNS" eth0 "$T/pl.json"
is_error "network dir is a symlink: refused"
is "... nothing created behind it" "$(ls -A "$T/outside")" victim
hl DEL victim "$CNS" eth0 "$T/pl.json"
ok_if "... DEL through it refuses cleanly or does nothing (rc=$RC)" test "$RC" -le 1 -a "$MS" -lt 3000
ok_if "... and leaves the target alone" victim_ok
rm -f "$DD/plnet"
mkdir -p "$DD/plnet"

# The lock.
mkfifo "$DD/plnet/lock"
hl ADD victim "$CNS" eth0 "$T/pl.json"
is_error "lock is a FIFO: an error"
ok_if "... at once (${MS} ms), nothing reserved" test "$MS" -lt 3000 -a -z "$(ipam_files "$DD/plnet" | grep -v '^lock$')"
rm -f "$DD/plnet/lock"

# Reservations, hint and temporaries.
mkfifo "$DD/plnet/198.18.80.2"
ln -s "$T/outside/victim" "$DD/plnet/198.18.80.3"
mkfifo "$DD/plnet/last_reserved_ip.0"
ln -s "$T/outside/victim" "$DD/plnet/.cnic-tmp.198.18.80.4"
hl ADD victim "$CNS" eth0 "$T/pl.json"
if [ "$RC" -eq 0 ]; then
	is "FIFO and symlink reservations count as taken: ADD gets .4" "$(json_get "$OUT" '.ips[0].address')" 198.18.80.4/24
else
	is_error "FIFO hint: a clean error"
fi
ok_if "... without blocking (${MS} ms)" test "$MS" -lt 3000
ok_if "... the FIFOs stay FIFOs" test -p "$DD/plnet/198.18.80.2" -a -p "$DD/plnet/last_reserved_ip.0"
hl DEL victim "$CNS" eth0 "$T/pl.json"
is_success "DEL of the owner the symlink target names"
ok_if "... does not remove or follow the symlink" test -L "$DD/plnet/198.18.80.3"
ok_if "... its target untouched" victim_ok
jq '.cniVersion = "1.1.0" | .["cni.dev/valid-attachments"] = []' "$T/pl.json" >"$T/gc.json"
hl GC "" "" "" "$T/gc.json"
is_success "GC with planted entries"
ok_if "... leaves FIFOs and symlinks, and the target" test -p "$DD/plnet/198.18.80.2" -a -L "$DD/plnet/198.18.80.3"
ok_if "... target still intact" victim_ok
rm -f "$DD/plnet/last_reserved_ip.0"
ln -s "$T/outside/victim" "$DD/plnet/last_reserved_ip.0"
hl ADD hint "$CNS" eth0 "$T/pl.json"
ok_if "a symlinked hint is not written through (ADD rc=$RC)" victim_ok
ok_if "... and stays a symlink" test -L "$DD/plnet/last_reserved_ip.0"
hl DEL hint "$CNS" eth0 "$T/pl.json"
rm -f "$DD/plnet/last_reserved_ip.0" "$DD/plnet/198.18.80.2" "$DD/plnet/198.18.80.3"

# A FIFO as the data dir, as CNI_NETNS, as resolvConf.
mkfifo "$T/fifo-data"
hl_conf "$T/fd.json" fdnet "$T/fifo-data"
hl ADD x "$CNS" eth0 "$T/fd.json"
is_error "dataDir is a FIFO: an error"
ok_if "... at once (${MS} ms)" test "$MS" -lt 3000
mkfifo "$T/fifo-netns"
# An IPAM plugin never opens CNI_NETNS (upstream's tests pass "/some/where"):
# a FIFO there is neither opened nor blocked on.
hl ADD x "$T/fifo-netns" eth0 "$T/pl.json"
is_success "CNI_NETNS is a FIFO: host-local never opens it"
ok_if "... at once (${MS} ms)" test "$MS" -lt 3000
hl DEL x "$T/fifo-netns" eth0 "$T/pl.json"
is_success "... and its DEL neither"
# An interface plugin does open it: refused at once, not blocked on.
jq -n '{cniVersion: "1.0.0", name: "lonet", type: "loopback"}' >"$T/lo.json"
CNI_TIMEOUT=10 timed cni "$NODE" "$BIN/loopback" ADD x "$T/fifo-netns" eth0 "$T/lo.json"
is_error_json "CNI_NETNS is a FIFO: loopback refuses it with code 4" 4
ok_if "... at once (${MS} ms)" test "$MS" -lt 3000
mkfifo "$T/fifo-resolv"
hl_conf "$T/rc.json" rcnet "$DD" "{\"resolvConf\": \"$T/fifo-resolv\"}"
hl ADD x "$CNS" eth0 "$T/rc.json"
is_error "resolvConf is a FIFO: an error"
ok_if "... at once (${MS} ms), nothing reserved" test "$MS" -lt 3000 -a -z "$(ipam_files "$DD/rcnet")"
hl DEL x "$CNS" eth0 "$T/rc.json"
assert_no_ipam_files "$DD/plnet" "$DD/rcnet"

# ---- fds: delegated plugins get 0-2 only, the container netns is let go ----------------

mkdir -p "$T/cnipath"
cat >"$T/fdlist.c" <<'EOF'
/* A fake IPAM plugin: records its fds and netns, answers like host-local would. */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int main(void)
{
	const char *cmd = getenv("CNI_COMMAND"), *log = getenv("FDLOG");
	char path[512], target[512], buf[4096];
	struct dirent *de;
	ssize_t n;
	FILE *out;
	DIR *d;

	while (fread(buf, 1, sizeof(buf), stdin) > 0)
		;
	d = opendir("/proc/self/fd");
	snprintf(path, sizeof(path), "%s.%s", log ? log : "/dev/null", cmd ? cmd : "none");
	out = fopen(path, "ae");
	if (!d || !out)
		return 2;
	while ((de = readdir(d))) {
		int fd = atoi(de->d_name);

		if (de->d_name[0] == '.' || fd == dirfd(d) || fd == fileno(out))
			continue;
		snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
		n = readlink(path, target, sizeof(target) - 1);
		target[n > 0 ? n : 0] = '\0';
		fprintf(out, "fd %d %s\n", fd, target);
	}
	n = readlink("/proc/self/ns/net", target, sizeof(target) - 1);
	target[n > 0 ? n : 0] = '\0';
	fprintf(out, "netns %s\n", target);
	fclose(out);
	if (cmd && strcmp(cmd, "ADD") == 0)
		printf("{\"cniVersion\":\"1.0.0\",\"ips\":[{\"address\":\"198.18.90.5/24\",\"gateway\":\"198.18.90.1\"}]}");
	return 0;
}
EOF
cc -O1 -o "$T/cnipath/fake-ipam" "$T/fdlist.c" || bail_out "cannot build the fake IPAM plugin"
NODE_NETNS=$(in_ns "$NODE" readlink /proc/self/ns/net)
ctr_ino() { stat -L -c %i "$1"; }
# holders NETNS_PATH: pids with an fd on that netns (other than the bind mount itself).
holders()
{
	local ino p
	ino=$(ctr_ino "$1")
	for p in /proc/[0-9]*/fd/*; do
		[ "$(readlink "$p" 2>/dev/null)" == "net:[$ino]" ] && echo "${p%/fd/*}"
	done | sort -u
}
nl_sockets() { in_ns "$1" ss -A netlink -a -n -p 2>/dev/null | grep -vc '^Recv-Q' || true; }

for p in "${IFACE_PLUGINS[@]}"; do
	netns_new C ctr
	CP=$(netns_path "$C")
	rm -f "$T/fd.$p".*
	iface_conf "$p" "fd$p" '{"type": "fake-ipam"}' >"$T/fd-$p.json"
	base_sockets=$(nl_sockets "$C")
	cni "$NODE" "$BIN/$p" ADD "fd-$p" "$CP" eth0 "$T/fd-$p.json" CNI_PATH="$T/cnipath:$BIN" FDLOG="$T/fd.$p"
	is_success "$p ADD with an exec'd IPAM plugin"
	is "... which had only fds 0-2" "$(grep '^fd' "$T/fd.$p.ADD" | awk '$2 > 2' | tr '\n' ' ')" ""
	is "... and ran in the host (node) netns" "$(sed -n 's/^netns //p' "$T/fd.$p.ADD")" "$NODE_NETNS"
	is "... afterwards no process holds the container netns" "$(holders "$CP")" ""
	is "... and no netlink socket is left in it" "$(nl_sockets "$C")" "$base_sockets"
	cni "$NODE" "$BIN/$p" CHECK "fd-$p" "$CP" eth0 \
		<(jq -c --argjson r "$OUT" '. + {prevResult: $r}' "$T/fd-$p.json") CNI_PATH="$T/cnipath:$BIN" FDLOG="$T/fd.$p"
	[ -f "$T/fd.$p.CHECK" ] && is "$p CHECK: the delegate had only fds 0-2" \
		"$(grep '^fd' "$T/fd.$p.CHECK" | awk '$2 > 2' | tr '\n' ' ')" ""
	cni "$NODE" "$BIN/$p" DEL "fd-$p" "$CP" eth0 "$T/fd-$p.json" CNI_PATH="$T/cnipath:$BIN" FDLOG="$T/fd.$p"
	is_success "$p DEL"
	is "... the delegate had only fds 0-2" "$(grep '^fd' "$T/fd.$p.DEL" 2>/dev/null | awk '$2 > 2' | tr '\n' ' ')" ""
	ok_if "... and was called" test -s "$T/fd.$p.DEL"
done

# The in-process IPAM path: after ADD nothing holds the container netns either.
for p in "${IFACE_PLUGINS[@]}"; do
	netns_new C ctr
	CP=$(netns_path "$C")
	iface_conf "$p" "in$p" "$(hl_ipam "$T/inproc" 198.18.91.0/24 2001:db8:91::/64)" >"$T/in-$p.json"
	cni "$NODE" "$BIN/$p" ADD "in-$p" "$CP" eth0 "$T/in-$p.json"
	is_success "$p ADD with host-local in-process"
	is "... no process holds the container netns" "$(holders "$CP")" ""
	cni "$NODE" "$BIN/$p" DEL "in-$p" "$CP" eth0 "$T/in-$p.json"
done

# ---- accept_ra=0 on host-side links -------------------------------------------------------

for p in bridge ptp; do
	[[ " ${IFACE_PLUGINS[*]} " == *" $p "* ]] || continue
	netns_new C ctr
	CP=$(netns_path "$C")
	before=$(links_in "$NODE" | sort)
	iface_conf "$p" "ra$p" "$(hl_ipam "$T/ra" 198.18.92.0/24 2001:db8:92::/64)" >"$T/ra-$p.json"
	cni "$NODE" "$BIN/$p" ADD "ra-$p" "$CP" eth0 "$T/ra-$p.json"
	is_success "$p ADD (dual stack)"
	new=$(comm -13 <(echo "$before") <(links_in "$NODE" | sort))
	ok_if "... created host-side links ($(tr '\n' ' ' <<<"$new"))" test -n "$new"
	bad=""
	for l in $new; do
		v=$(in_ns "$NODE" cat "/proc/sys/net/ipv6/conf/$l/accept_ra" 2>/dev/null)
		[ "$v" != 0 ] && bad+="$l=$v "
	done
	is "... accept_ra=0 on every host-side link it created" "$bad" ""
	cni "$NODE" "$BIN/$p" DEL "ra-$p" "$CP" eth0 "$T/ra-$p.json"
done

# ---- portmap: DNAT only for local destinations -----------------------------------------------

if [ -x "$BIN/portmap" ] && [ -x "$BIN/bridge" ] && command -v busybox >/dev/null; then
	# EXT -- uplink -- NODE -- farlink -- FAR; the container on a bridge in NODE.
	netns_new EXT ext
	netns_new FAR far
	netns_new PC ctr
	ip -n "$NODE" link add uplink type veth peer name eth0 netns "$EXT"
	ip -n "$NODE" link add farlink type veth peer name eth0 netns "$FAR"
	ip -n "$NODE" addr add 198.19.70.1/24 dev uplink
	ip -n "$NODE" addr add 198.19.71.1/24 dev farlink
	ip -n "$EXT" addr add 198.19.70.2/24 dev eth0
	ip -n "$FAR" addr add 198.19.71.2/24 dev eth0
	for l in uplink farlink; do ip -n "$NODE" link set "$l" up; done
	ip -n "$EXT" link set eth0 up
	ip -n "$FAR" link set eth0 up
	ip -n "$EXT" route add default via 198.19.70.1
	ip -n "$FAR" route add default via 198.19.71.1
	in_ns "$NODE" sysctl -qw net.ipv4.ip_forward=1
	jq -n --arg d "$T/pmipam" '{cniVersion: "1.0.0", name: "dnatnet", type: "bridge", bridge: "bs-dnat",
		isGateway: true, ipam: {type: "host-local", dataDir: $d, routes: [{dst: "0.0.0.0/0"}],
		ranges: [[{subnet: "198.19.72.0/24"}]]}}' >"$T/dn-br.json"
	cni "$NODE" "$BIN/bridge" ADD dnat "$(netns_path "$PC")" eth0 "$T/dn-br.json"
	printf '%s' "$OUT" >"$T/dn-br.out"
	jq -n --slurpfile r "$T/dn-br.out" '{cniVersion: "1.0.0", name: "dnatnet", type: "portmap",
		snat: true, prevResult: $r[0], runtimeConfig: {portMappings: [{hostPort: 8080, containerPort: 80}]}}' >"$T/dn-pm.json"
	cni "$NODE" "$BIN/portmap" ADD dnat "$(netns_path "$PC")" eth0 "$T/dn-pm.json"
	is_success "bridge + portmap 8080 -> 80"
	# nsenter execs nc in place: $! is the server itself, killed at exit (in_ns would
	# leave it running behind its subshell).
	nsenter --net="/run/netns/$PC" -- busybox nc -ll -p 80 -e echo container </dev/null >/dev/null 2>&1 &
	register_pid $!
	nsenter --net="/run/netns/$FAR" -- busybox nc -ll -p 8080 -e echo far </dev/null >/dev/null 2>&1 &
	register_pid $!
	hello() { in_ns "$EXT" busybox nc -w 2 "$1" "$2" </dev/null 2>/dev/null | head -1; }
	wait_for "servers up" 5 bash -c "[ \"\$(nsenter --net=/run/netns/$EXT busybox nc -w 1 198.19.71.2 8080 </dev/null)\" = far ]"
	is "to the node's own address: DNAT to the container" "$(hello 198.19.70.1 8080)" container
	is "to an address the node only routes (transit): not DNATed" "$(hello 198.19.71.2 8080)" far
	cni "$NODE" "$BIN/portmap" DEL dnat "$(netns_path "$PC")" eth0 "$T/dn-pm.json"
	is "after portmap DEL: no DNAT to the container any more" "$(hello 198.19.70.1 8080)" ""
	cni "$NODE" "$BIN/bridge" DEL dnat "$(netns_path "$PC")" eth0 "$T/dn-br.json"
	ip -n "$NODE" link del uplink
	ip -n "$NODE" link del farlink
else
	diag "SKIPPED: DNAT-only-local check (portmap, bridge or busybox missing)"
fi

# ---- hostile names: rejected, nothing written ----------------------------------------------

HD=$T/hostile
mkdir -p "$HD"
hostile_cids=("../../etc/x" "a/b" "-rf" ".hidden" "a b" $'a\nb' "a;b" "$(printf 'x%.0s' {1..1100})")
hostile_ifs=("../x" "a/b" "a:b" " eth0" "eth0 " "." ".." "abcdefghijklmnop" $'e\nth')
hostile_nets=("../../etc" "a/b" "." ".." $'n\nx' "-n" "$(printf 'n%.0s' {1..300})")
hostile_types=("../host-local" "/usr/lib/cni/host-local" "." ".." $'host\nlocal')
node_links=$(links_in "$NODE" | sort)
ctr_links=$(links_in "$CTR" | sort)
touch "$T/marker"
sleep 0.01
plugins=(host-local "${IFACE_PLUGINS[@]}")
[ -x "$BIN/loopback" ] && plugins+=(loopback)
[ -x "$BIN/portmap" ] && plugins+=(portmap)
cases=0 bad=()
for p in "${plugins[@]}"; do
	case $p in
	host-local) good=$(jq -c '.name = "hnet"' "$T/pl.json" | jq -c --arg d "$HD" '.ipam.dataDir = $d') ;;
	loopback) good='{"cniVersion": "1.0.0", "name": "hnet", "type": "loopback"}' ;;
	portmap) good='{"cniVersion": "1.0.0", "name": "hnet", "type": "portmap", "runtimeConfig":
		{"portMappings": [{"hostPort": 8081, "containerPort": 80}]}, "prevResult": {"cniVersion": "1.0.0",
		"interfaces": [{"name": "eth0", "sandbox": "/x"}], "ips": [{"address": "198.18.93.5/24", "interface": 0}]}}' ;;
	*) good=$(iface_conf "$p" hnet "$(hl_ipam "$HD" 198.18.93.0/24 2001:db8:93::/64)") ;;
	esac
	for c in "${hostile_cids[@]}"; do
		cases=$((cases + 1))
		cni_json "$NODE" "$BIN/$p" ADD "$c" "$CNS" eth0 "$good"
		[ "$RC" -eq 1 ] && [ "$(json_get "$OUT" .code 2>/dev/null)" == 4 ] || bad+=("$p cid '${c:0:20}': rc=$RC ${OUT:0:80}")
	done
	for i in "${hostile_ifs[@]}"; do
		cases=$((cases + 1))
		cni_json "$NODE" "$BIN/$p" ADD hostile "$CNS" "$i" "$good"
		[ "$RC" -eq 1 ] && [ "$(json_get "$OUT" .code 2>/dev/null)" == 4 ] || bad+=("$p ifname '$i': rc=$RC ${OUT:0:80}")
	done
	for n in "${hostile_nets[@]}"; do
		cases=$((cases + 1))
		cni_json "$NODE" "$BIN/$p" ADD hostile "$CNS" eth0 "$(jq -c --arg n "$n" '.name = $n' <<<"$good")"
		[ "$RC" -eq 1 ] && [ "$(json_get "$OUT" .code 2>/dev/null)" == 7 ] || bad+=("$p name '${n:0:20}': rc=$RC ${OUT:0:80}")
	done
	[ "$p" == loopback ] && continue
	for ty in "${hostile_types[@]}"; do
		cases=$((cases + 1))
		cni_json "$NODE" "$BIN/$p" ADD hostile "$CNS" eth0 "$(jq -c --arg t "$ty" '.ipam.type = $t' <<<"$good")"
		[ "$RC" -eq 1 ] && [ "$(json_get "$OUT" .code 2>/dev/null)" == 7 ] || bad+=("$p ipam.type '$ty': rc=$RC ${OUT:0:80}")
	done
done
is "$cases hostile ids, ifnames, network names and IPAM types rejected with code 4/7" "${bad[*]:-}" ""
ok_if "... and no nftables element either" bash -c "! nsenter --net=/run/netns/$NODE nft list ruleset | grep -Eq 'hnet:|:hostile:'"
is "... nothing written anywhere under the test dir" "$(find "$T" -newer "$T/marker" ! -name '.call.*' ! -name '.conf.*' ! -name '.okif.*' -print | grep -v "^$T$" | head)" ""
is "... no link created in the node" "$(links_in "$NODE" | sort)" "$node_links"
is "... nor in the container" "$(links_in "$CTR" | sort)" "$ctr_links"
diag "hostile-name cases tried: $cases"

# The plugins leave bridges (shared, as the reference) and our master: remove them, then
# nothing else may be left.
in_ns "$NODE" ip link del m0 2>/dev/null
for l in $(links_in "$NODE" | grep '^bs-'); do in_ns "$NODE" ip link del "$l"; done
assert_no_links "$NODE"
assert_no_links "$CTR"
assert_no_ipam_files "$D/umnet" "$T"/umask/{bridge,ptp,macvlan}/* "$T/inproc"/* "$HD"/*
done_testing
