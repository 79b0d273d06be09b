#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
#
# Syscall error sweeps, the way SQLite tests its I/O errors: for each
# scenario (a plugin and a config) and verb (ADD, DEL, CHECK, GC), list the
# plugin's syscalls of the kinds that can fail in production (netlink
# send/receive, file open/read/write/sync/rename/link, flock, socket, setns,
# ...) from one plain call, then for each (syscall, k) make the k-th call of
# that syscall fail with an errno that fits it, in two modes:
#   once  only the k-th call fails (the error path from there);
#   on    the k-th and every later call of that syscall fail, so the
#         rollback that follows fails too (the rollback's own error path).
# Every injected run must end without a signal or a time-out and print
# exactly one JSON value (a result or an error object with a code and a
# message; nothing for a successful DEL/CHECK/GC).  Then the runtime's
# cleanup (DEL, plainly) runs, and the node, the container and the plugins'
# files must be exactly as after a plain ADD + DEL: no link, address, route,
# nftables object or element, reservation, hint, backup or temporary file.
#
# Usage: test/faults/sweep.sh            the whole sweep (`make faults-sweep`)
#        FAULT_SAMPLE=N sweep.sh         at most N injections per scenario and
#                                        verb, spread evenly (the CI subset)
#        FAULT_SCENARIOS="bridge ptp"    only these scenarios
#        FAULT_VERBS="ADD DEL"           only these verbs
# A TAP stream with one result per scenario and verb (failures listed as
# diagnostics) and the figures.
. "$(dirname "$0")/../integration/lib.sh"

[ "${VALGRIND:-0}" == 1 ] && skip_all "error sweeps count the plugins' own syscalls; memcheck changes them"
require strace nft

# A private copy of the plugins: a rebuild during the sweep must not swap them.
mkdir -p "$T/bin" && cp -p "$BIN"/* "$T/bin/" 2>/dev/null
BIN=$T/bin

SAMPLE=${FAULT_SAMPLE:-0}
SCENARIOS=${FAULT_SCENARIOS:-bridge ptp macvlan portmap firewall tuning host-local static}
VERBS=${FAULT_VERBS:-ADD DEL CHECK GC}
# The syscalls made to fail, and the errno each gets: what the kernel or a
# full disk really returns there.
declare -A ERRNO=(
	[sendmsg]=ENOBUFS [sendto]=ENOBUFS [recvmsg]=ENOBUFS [recvfrom]=EAGAIN
	[socket]=EMFILE [bind]=EADDRINUSE [setns]=ENOMEM [setsockopt]=ENOMEM
	[openat]=EMFILE [read]=EIO [write]=ENOSPC [pwrite64]=ENOSPC
	[fsync]=EIO [fdatasync]=EIO [renameat]=ENOSPC [renameat2]=ENOSPC
	[linkat]=ENOSPC [unlinkat]=EIO [mkdirat]=ENOSPC [flock]=ENOLCK
	[ftruncate]=EIO [getdents64]=EIO [fstat]=EIO [newfstatat]=EIO
)

netns_new NODE fnode
netns_new CTR fctr
CNS=$(netns_path "$CTR")
SYSPATH="PATH=/usr/sbin:/usr/bin:/sbin:/bin"
DATA=$T/ipam
TDATA=$T/tuning
CID=fault
INJECTED=0
SCEN_N=0

in_ns "$NODE" ip link add m0 type veth peer name m0p
in_ns "$NODE" ip link set m0 up
in_ns "$NODE" ip link set m0p up
in_ns "$NODE" sysctl -qw net.ipv4.ip_forward=1 net.ipv6.conf.all.forwarding=1

hl_ipam() # dual-stack host-local
{
	jq -nc --arg d "$DATA" '{type: "host-local", dataDir: $d,
		ranges: [[{subnet: "198.18.120.0/24"}], [{subnet: "2001:db8:120::/64"}]]}'
}

# base_conf SCENARIO: the interface plugin's config (chained scenarios ride on bridge).
base_conf()
{
	local i
	i=$(hl_ipam)
	case $1 in
	ptp) jq -nc --argjson i "$i" '{cniVersion: "1.0.0", name: "fnet", type: "ptp", ipMasq: true, ipam: $i}' ;;
	macvlan) jq -nc --argjson i "$i" '{cniVersion: "1.0.0", name: "fnet", type: "macvlan", master: "m0", ipam: $i}' ;;
	host-local) jq -nc --argjson i "$i" '{cniVersion: "1.0.0", name: "fnet", type: "host-local", ipam: $i}' ;;
	static) jq -nc '{cniVersion: "1.0.0", name: "fnet", type: "static",
		ipam: {type: "static", addresses: [{address: "198.18.121.5/24", gateway: "198.18.121.1"},
			{address: "2001:db8:121::5/64"}], routes: [{dst: "0.0.0.0/0"}]}}' ;;
	*) jq -nc --argjson i "$i" '{cniVersion: "1.0.0", name: "fnet", type: "bridge",
		bridge: "fbr0", isGateway: true, ipMasq: true, macspoofchk: true, ipam: $i}' ;;
	esac
}

# chained_conf SCENARIO PREVRESULT_FILE: the chained plugin's config.
chained_conf()
{
	local pr
	pr=$(cat "$2")
	case $1 in
	portmap) jq -nc --argjson r "$pr" '{cniVersion: "1.0.0", name: "fnet", type: "portmap",
		snat: true, prevResult: $r, runtimeConfig: {portMappings: [
			{hostPort: 18080, containerPort: 80, protocol: "tcp"},
			{hostPort: 18053, containerPort: 53, protocol: "udp"},
			{hostPort: 18081, containerPort: 81, protocol: "tcp", hostIP: "198.18.120.1"}]}}' ;;
	firewall) jq -nc --argjson r "$pr" '{cniVersion: "1.0.0", name: "fnet", type: "firewall",
		prevResult: $r}' ;;
	tuning) jq -nc --argjson r "$pr" --arg d "$TDATA" '{cniVersion: "1.0.0", name: "fnet",
		type: "tuning", dataDir: $d, prevResult: $r, mtu: 1400, promisc: true,
		sysctl: {"net.ipv4.conf.eth0.arp_notify": "1", "net.ipv6.conf.eth0.accept_dad": "0"}}' ;;
	esac
}

is_chained() { case $1 in portmap | firewall | tuning) return 0 ;; esac; return 1; }
plugin_of() { if is_chained "$1"; then echo "$1"; else base_conf "$1" | jq -r .type; fi; }

# raw PLUGIN VERB CONF_FILE [strace args...]: one call in the node; RC, OUT, ERR.
raw()
{
	local plugin=$1 verb=$2 conf=$3
	shift 3
	local pre=()
	[ $# -gt 0 ] && pre=(strace -qq -o /dev/null "$@")
	RC=0
	in_ns "$NODE" env -i "$SYSPATH" CNI_COMMAND="$verb" CNI_CONTAINERID=$CID CNI_NETNS="$CNS" \
		CNI_IFNAME=eth0 CNI_PATH="$BIN" timeout -k 2 10 "${pre[@]}" "$BIN/$plugin" \
		<"$conf" >"$T/out" 2>"$T/err" || RC=$?
	OUT=$(<"$T/out")
	ERR=$(<"$T/err")
}

# The files a verb reads, per scenario: $T/<s>.base (interface plugin's ADD/DEL
# config), $T/<s>.add (the plugin under test's ADD/DEL config), $T/<s>.check
# (with the ADD's result as prevResult), $T/<s>.gc (every attachment stale).
prepare()
{
	local s=$1
	base_conf "$s" >"$T/$s.base"
	if is_chained "$s"; then
		raw bridge ADD "$T/$s.base"
		[ "$RC" -eq 0 ] || return 1
		cp "$T/out" "$T/$s.prev"
		chained_conf "$s" "$T/$s.prev" >"$T/$s.add"
	else
		cp "$T/$s.base" "$T/$s.add"
	fi
	local p
	p=$(plugin_of "$s")
	raw "$p" ADD "$T/$s.add"
	[ "$RC" -eq 0 ] || return 1
	jq -c --slurpfile r "$T/out" '. + {cniVersion: "1.0.0", prevResult: $r[0]}' "$T/$s.add" >"$T/$s.check"
	jq -c '. + {cniVersion: "1.1.0", "cni.dev/valid-attachments": []} | del(.prevResult)' \
		"$T/$s.add" >"$T/$s.gc"
	raw "$p" DEL "$T/$s.add"
	is_chained "$s" && raw bridge DEL "$T/$s.base"
	return 0
}

# Bring the state a verb starts from, and clean it up as a runtime would.
setup_for()
{
	local s=$1 verb=$2 p
	p=$(plugin_of "$s")
	is_chained "$s" && raw bridge ADD "$T/$s.base"
	[ "$verb" == ADD ] || raw "$p" ADD "$T/$s.add"
	# CHECK compares against this ADD's result (its MAC, its address).
	if [ "$verb" == CHECK ] && [ "$RC" -eq 0 ]; then
		jq -c --slurpfile r "$T/out" '. + {cniVersion: "1.0.0", prevResult: $r[0]}' \
			"$T/$s.add" >"$T/$s.check"
	fi
}
# cleanup_for S [VERB]: DEL; after a GC, the runtime's next GC too (a failed GC is
# retried, and network-wide state is GC's to remove).
cleanup_for()
{
	local s=$1 p
	p=$(plugin_of "$s")
	raw "$p" DEL "$T/$s.add"
	local rc1=$RC out1=$OUT
	if [ "${2:-}" == GC ]; then
		raw "$p" GC "$T/$s.gc"
		[ "$rc1" -eq 0 ] && { rc1=$RC; out1=$OUT; }
	fi
	is_chained "$s" && raw bridge DEL "$T/$s.base"
	[ "$rc1" -eq 0 ] || { RC=$rc1; OUT=$out1; }
}
conf_for_verb()
{
	case $2 in
	CHECK) echo "$T/$1.check" ;;
	GC) echo "$T/$1.gc" ;;
	*) echo "$T/$1.add" ;;
	esac
}

# Everything the sweep's plugins can leave behind; MACs, indexes, counters
# and IPv6 link-local state (asynchronous) left out.
snapshot()
{
	nsenter --net="/run/netns/$NODE" bash -c '
		ip -o link show | awk -F": " "{ sub(/@.*/, \"\", \$2); print \"node link\", \$2 }" | sort
		ip -o addr show | awk "{ print \"node addr\", \$2, \$3, \$4 }" | grep -v " fe80:" | sort
		ip route show table all | grep -Ev "^(local|multicast|broadcast|anycast)|fe80::" |
			sed "s/ linkdown//; s/^/node route /" | sort
		nft list ruleset | grep -v "^\s*$" | sed "s/^/nft /"' 2>/dev/null
	links_in "$CTR" 2>/dev/null | sort | sed 's/^/container link /'
	find "$DATA" "$TDATA" -mindepth 1 \( -name lock -o -name 'last_reserved_ip.*' \) -prune -o \
		-printf 'file %P\n' 2>/dev/null | sort
}

# syscalls S VERB: "name k" for each failable syscall of one plain call.
syscalls()
{
	local s=$1 verb=$2 p conf
	p=$(plugin_of "$s")
	conf=$(conf_for_verb "$s" "$verb")
	setup_for "$s" "$verb"
	in_ns "$NODE" env -i "$SYSPATH" CNI_COMMAND="$verb" CNI_CONTAINERID=$CID CNI_NETNS="$CNS" \
		CNI_IFNAME=eth0 CNI_PATH="$BIN" strace -qq -o "$T/trace" "$BIN/$p" <"$conf" >/dev/null 2>&1
	cleanup_for "$s"
	# "write k out" marks the write of the plugin's answer to stdout.
	sed -nE 's/^([a-z_0-9]+)\(([0-9]*).*/\1 \2/p' "$T/trace" |
		awk -v want=" ${!ERRNO[*]} " '{ k = ++n[$1] }
			index(want, " " $1 " ") { print $1, k, ($1 == "write" && $2 == "1") ? "out" : "" }'
}

# One JSON value on stdout (or none for a successful DEL/CHECK/GC).
output_ok()
{
	local verb=$1 n
	if [ "$RC" -eq 0 ]; then
		case $verb in
		ADD) jq -e 'type == "object" and (.code | not)' >/dev/null 2>&1 <<<"$OUT" &&
			[ "$(jq -s length <<<"$OUT" 2>/dev/null)" == 1 ] ;;
		*) [ -z "$OUT" ] ;;
		esac
	else
		n=$(jq -s length <<<"$OUT" 2>/dev/null) || return 1
		[ "$n" == 1 ] && jq -e '(.code | type == "number") and (.msg | type == "string" and length > 0)' \
			>/dev/null 2>&1 <<<"$OUT"
	fi
}

# sweep_one S VERB
sweep_one()
{
	local s=$1 verb=$2 p conf base now total pick i sc mode when n=0 errs=0
	local -a list bad=()
	p=$(plugin_of "$s")
	conf=$(conf_for_verb "$s" "$verb")
	mapfile -t list < <(syscalls "$s" "$verb")
	base=$(snapshot)
	total=${#list[@]}
	pick=$total
	[ "$SAMPLE" -gt 0 ] && [ "$total" -gt "$SAMPLE" ] && pick=$SAMPLE
	for ((i = 0; i < pick; i++)); do
		sc=${list[$((i * total / pick))]}
		set -- $sc
		# Alternate the modes through the list (the whole sweep runs both).
		for mode in once on; do
			[ "$SAMPLE" -gt 0 ] && [ $(((i + ${#mode}) % 2)) -eq 1 ] && continue
			when=$2
			[ "$mode" == on ] && when="$2+"
			n=$((n + 1))
			setup_for "$s" "$verb"
			raw "$p" "$verb" "$conf" -e "inject=$1:error=${ERRNO[$1]}:when=$when"
			local rc=$RC out=$OUT err=$ERR
			[ "$rc" -ne 0 ] && errs=$((errs + 1))
			if [ "$rc" -ge 124 ] || grep -qE 'AddressSanitizer|runtime error:' <<<"$err"; then
				bad+=("$1#$when ($mode, ${ERRNO[$1]}): signal or time-out rc=$rc: ${err:0:300}")
			elif [ "$1" == write ] && { [ "$mode" == on ] || [ "${3:-}" == out ]; }; then
				: # the write of the answer itself fails: nothing can be printed
			elif ! RC=$rc OUT=$out output_ok "$verb"; then
				bad+=("$1#$when ($mode, ${ERRNO[$1]}): not exactly one JSON value (rc=$rc): ${out:0:300}")
			fi
			cleanup_for "$s" "$verb"
			if [ "$RC" -ne 0 ]; then
				bad+=("$1#$when ($mode): the plain cleanup after it failed: ${OUT:0:300}")
				cleanup_for "$s" "$verb"
			fi
			now=$(snapshot)
			if [ "$now" != "$base" ]; then
				bad+=("$1#$when ($mode, ${ERRNO[$1]}) rc=$rc ${out:0:160} left: $(diff <(echo "$base") <(echo "$now") | grep '^[<>]' | head -4 | tr '\n' ' ')")
				# Later runs would only see this leftover: stop this sweep.
				break 2
			fi
			[ ${#bad[@]} -gt 8 ] && break 2
		done
	done
	INJECTED=$((INJECTED + n))
	is "$s $verb: $n injected errors ($errs made it fail) of $total failable calls: one JSON value, no signal, nothing left" \
		"$(printf '%s\n' "${bad[@]}" | head -12)" ""
}

for s in $SCENARIOS; do
	p=$(plugin_of "$s")
	if [ ! -x "$BIN/$p" ]; then
		fail "$s: plugin $p not built"
		continue
	fi
	if ! prepare "$s"; then
		fail "$s: a plain ADD works" "rc=$RC $OUT $ERR"
		continue
	fi
	SCEN_N=$((SCEN_N + 1))
	for verb in $VERBS; do
		sweep_one "$s" "$verb"
	done
	in_ns "$NODE" ip link del fbr0 2>/dev/null
done

diag "errors injected: $INJECTED over $SCEN_N scenarios (sample ${SAMPLE:-0} per verb; 0 = all)"
in_ns "$NODE" ip link del m0 2>/dev/null
assert_no_links "$NODE"
assert_no_links "$CTR"
done_testing
