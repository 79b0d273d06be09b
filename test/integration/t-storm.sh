#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
#
# A mixed ADD/DEL/CHECK storm on one bridge + portmap network: W workers
# (default 8) run at once, each owning C containers (default 6) and doing
# OPS random operations (default 40) on them - ADD (bridge then portmap),
# CHECK (both, with the cached results), DEL (portmap then bridge), and
# DEL of an already detached container - as a runtime does (never two
# operations on one container at a time, any interleaving across them).
# Every operation must succeed.  Afterwards: the attached containers hold
# unique addresses, reserved on disk to them, one bridge port each, their
# mappings in nftables; then everything is detached and nothing is left.
# STORM_SEED, STORM_W, STORM_C, STORM_OPS to vary it.
. "$(dirname "$0")/lib.sh"

# A private copy of the plugins: a rebuild while the test runs must not swap them underneath.
mkdir -p "$T/bin" && cp -p "$BIN"/* "$T/bin/" 2>/dev/null
BIN=$T/bin

require nft
for p in bridge portmap; do
	[ -x "$BIN/$p" ] || skip_all "$p not built"
done
W=${STORM_W:-8}
C=${STORM_C:-6}
OPS=${STORM_OPS:-40}
[ "${VALGRIND:-0}" == 1 ] && OPS=${STORM_OPS:-8}
SEED=${STORM_SEED:-$$}
DATA=$T/ipam
SYSPATH="PATH=/usr/sbin:/usr/bin:/sbin:/bin"
# VALGRIND=1: every plugin call under memcheck (its errors exit 97: a failed call).
VG=()
[ "${VALGRIND:-0}" == 1 ] && VG=("${VALGRIND_CMD[@]}")
diag "storm: $W workers x $C containers x $OPS ops, seed $SEED"

netns_new NODE node
jq -n --arg d "$DATA" '{cniVersion: "1.0.0", name: "stormnet", type: "bridge", bridge: "stbr0",
	isGateway: true, ipMasq: true,
	ipam: {type: "host-local", dataDir: $d,
	       ranges: [[{subnet: "198.18.124.0/24"}], [{subnet: "2001:db8:124::/64"}]]}}' >"$T/bridge.json"

# plugin PLUGIN VERB CID CONF OUT: one call from the node; returns its status.
plugin()
{
	in_ns "$NODE" env -i "$SYSPATH" CNI_COMMAND="$2" CNI_CONTAINERID="$3" CNI_NETNS="/run/netns/$3" \
		CNI_IFNAME=eth0 CNI_PATH="$BIN" timeout -k 5 60 "${VG[@]}" "$BIN/$1" <"$4" >"$5" 2>"$5.err"
}

pm_conf() # CID PORT BRIDGE_RESULT -> portmap config with prevResult
{
	jq -n --slurpfile r "$3" --argjson hp "$2" '{cniVersion: "1.0.0", name: "stormnet",
		type: "portmap", snat: true, prevResult: $r[0],
		runtimeConfig: {portMappings: [{hostPort: $hp, containerPort: 80}]}}'
}

# worker W: OPS random operations on containers st-W-0 .. st-W-(C-1); writes
# "ok"/"FAIL ..." lines to $T/w.W.log and the attached set to $T/w.W.attached.
worker()
{
	local w=$1 op c cid d port r k
	local -a attached=()
	RANDOM=$((SEED + w))
	for ((k = 0; k < OPS; k++)); do
		c=$((RANDOM % C))
		cid="st-$w-$c"
		d="$T/$cid"
		port=$((30000 + w * 100 + c))
		if [ "${attached[$c]:-0}" == 0 ]; then
			op=$((RANDOM % 5 == 0 ? 3 : 0)) # mostly ADD, sometimes a DEL of a detached one
		else
			op=$((1 + RANDOM % 2)) # CHECK or DEL
		fi
		r=0
		case $op in
		0)
			plugin bridge ADD "$cid" "$T/bridge.json" "$d.br" || r=$?
			if [ "$r" -eq 0 ]; then
				pm_conf "$cid" "$port" "$d.br" >"$d.pm.json"
				plugin portmap ADD "$cid" "$d.pm.json" "$d.pm" || r=$?
			fi
			echo "$([ "$r" -eq 0 ] && echo ok || echo FAIL) ADD $cid rc=$r $(head -c 300 "$d.br" "$d.pm" 2>/dev/null | tr '\n' ' ')"
			if [ "$r" -eq 0 ]; then
				attached[$c]=1
			else
				# As a runtime does after a failed ADD: DEL the chain.
				[ -f "$d.pm.json" ] || pm_conf "$cid" "$port" /dev/null >"$d.pm.json"
				plugin portmap DEL "$cid" "$d.pm.json" "$d.del" && plugin bridge DEL "$cid" "$T/bridge.json" "$d.del" ||
					echo "FAIL DEL after failed ADD $cid"
			fi
			;;
		1)
			jq --slurpfile r "$d.br" '. + {prevResult: $r[0]}' "$T/bridge.json" >"$d.brc.json"
			plugin bridge CHECK "$cid" "$d.brc.json" "$d.chk" || r=$?
			[ "$r" -eq 0 ] && { plugin portmap CHECK "$cid" "$d.pm.json" "$d.chk" || r=$?; }
			echo "$([ "$r" -eq 0 ] && echo ok || echo FAIL) CHECK $cid rc=$r $(head -c 300 "$d.chk" | tr '\n' ' ')"
			;;
		2 | 3)
			[ -f "$d.pm.json" ] || pm_conf "$cid" "$port" /dev/null >"$d.pm.json" 2>/dev/null ||
				echo '{"cniVersion":"1.0.0","name":"stormnet","type":"portmap"}' >"$d.pm.json"
			plugin portmap DEL "$cid" "$d.pm.json" "$d.del" || r=$?
			[ "$r" -eq 0 ] && { plugin bridge DEL "$cid" "$T/bridge.json" "$d.del" || r=$?; }
			[ "$r" -eq 0 ] && attached[$c]=0
			echo "$([ "$r" -eq 0 ] && echo ok || echo FAIL) DEL$([ "$op" == 3 ] && echo "(detached)") $cid rc=$r $(head -c 300 "$d.del" | tr '\n' ' ')"
			;;
		esac
	done >"$T/w.$w.log"
	for ((c = 0; c < C; c++)); do
		[ "${attached[$c]:-0}" == 1 ] && echo "st-$w-$c"
	done >"$T/w.$w.attached"
}

for ((w = 0; w < W; w++)); do
	for ((c = 0; c < C; c++)); do
		ip netns add "st-$w-$c" || bail_out "netns st-$w-$c"
		at_exit "ip netns del st-$w-$c"
	done
done

t0=$(date +%s%N)
pids=()
for ((w = 0; w < W; w++)); do
	worker "$w" &
	pids+=($!)
done
for p in "${pids[@]}"; do wait "$p"; done
ms=$((($(date +%s%N) - t0) / 1000000))
total=$(cat "$T"/w.*.log | grep -c .)
for op in ADD CHECK DEL; do
	diag "$op: $(cat "$T"/w.*.log | grep -c "^ok $op")"
done
diag "storm: $total operations in $ms ms"
is "all $((W * OPS)) storm operations ran" "$total" $((W * OPS))
is "every operation succeeded" "$(cat "$T"/w.*.log | grep -v '^ok' | head -3)" ""

mapfile -t ATT < <(cat "$T"/w.*.attached)
diag "${#ATT[@]} containers attached after the storm"
addrs=$(for c in "${ATT[@]}"; do jq -r '.ips[].address | sub("/.*"; "")' "$T/$c.br"; done | sort)
is "their addresses are all different" "$(uniq -d <<<"$addrs")" ""
is "... and exactly the reservations on disk" "$(ipam_files "$DATA/stormnet" | sort)" "$addrs"
bad=0
for c in "${ATT[@]}"; do
	for a in $(jq -r '.ips[].address | sub("/.*"; "")' "$T/$c.br"); do
		[ "$(head -1 "$DATA/stormnet/$a" | tr -d '\r')" == "$c" ] || bad=$((bad + 1))
	done
done
is "... each held by its container" "$bad" 0
is "one bridge port per attached container" "$(in_ns "$NODE" ip -o link show master stbr0 | grep -c .)" "${#ATT[@]}"
ruleset=$(in_ns "$NODE" nft list ruleset)
is "one mapping per attached container in nftables" \
	"$(grep -oE 'tcp \. 3[0-9]{4} comment "stormnet:st-[0-9]+-[0-9]+:eth0" : 198\.18\.124\.' <<<"$ruleset" | sort -u | grep -c .)" "${#ATT[@]}"

# Detach everything still attached, at once.
pids=()
for c in "${ATT[@]}"; do
	(plugin portmap DEL "$c" "$T/$c.pm.json" "$T/$c.fin" && plugin bridge DEL "$c" "$T/bridge.json" "$T/$c.fin") &
	pids+=($!)
done
fails=0
for p in "${pids[@]}"; do wait "$p" || fails=$((fails + 1)); done
is "final parallel DELs succeeded" "$fails" 0
is "no reservation left" "$(ipam_files "$DATA/stormnet")" ""
is "no port left on the bridge" "$(in_ns "$NODE" ip -o link show master stbr0 | grep -c .)" 0
left=0
for ((w = 0; w < W; w++)); do
	for ((c = 0; c < C; c++)); do
		[ "$(nsenter --net="/run/netns/st-$w-$c" ip -o link show | grep -vc ': lo:')" == 0 ] || left=$((left + 1))
	done
done
is "no interface left in any container" "$left" 0
# Elements are tagged "network:container:ifname"; untagged shared ones (a subnet's) may stay.
is "no element of any container left in nftables" "$(in_ns "$NODE" nft list ruleset | grep -c 'stormnet:st-')" 0
in_ns "$NODE" ip link del stbr0
assert_no_links "$NODE"
done_testing
