#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
#
# bandwidth chained after ptp (ours) in a throwaway node netns.  Covered:
# every key (static and runtimeConfig.bandwidth, static wins), the tc state
# ADD leaves (TBF on the host veth, ifb named as the reference names it,
# ingress qdisc with a u32 match-all mirred redirect, TBF on the ifb) and
# the result; CHECK passing and catching a changed or missing qdisc; DEL
# twice, without prevResult, and with the netns gone; the reference's
# errors; rollback after a failure at every netlink request (strace
# injection) and when the ifb name is taken; GC of ifbs whose attachment
# is gone; and a differential run against the reference (tc state, ifb
# attributes, results in every version both know, CHECK and DEL across
# implementations, as on a node switched in place); bridge + bandwidth as a
# conflist through libcni (cnitool), rates from the capability.  ~15 s idle
# (plus building cnitool once), ~40 s on a loaded 2-core machine.
. "$(dirname "$0")/lib.sh"

BW=$BIN/bandwidth
RBW=$REF/bandwidth
PTP=$BIN/ptp
DATA=$T/data
NET=bwnet

[ -x "$BW" ] || bail_out "$BW not built"
[ -x "$PTP" ] || bail_out "$PTP not built"
require jq tc strace sha512sum

netns_new NODE node

FULL='{"ingressRate": 8000000, "ingressBurst": 80000, "egressRate": 16000000, "egressBurst": 160000}'

# ifb_of CID [NET]: the reference's ifb name, "bwp" + sha512(net + cid)[:12].
ifb_of()
{
	printf 'bwp%s' "$(printf '%s%s' "${2:-$NET}" "$1" | sha512sum | cut -c1-12)"
}

# attach VAR CID: a container netns with eth0 from our ptp; its result in $T/res.CID.
attach()
{
	local n
	netns_new n ctr
	cni_json "$NODE" "$PTP" ADD "$2" "$(netns_path "$n")" eth0 "$(jq -nc --arg d "$DATA" '
		{cniVersion: "1.0.0", name: "bwnet", type: "ptp",
		 ipam: {type: "host-local", dataDir: $d, ranges: [[{subnet: "198.18.31.0/24"}]]}}')"
	[ "$RC" == 0 ] || bail_out "ptp ADD failed: $OUT $ERR"
	printf '%s' "$OUT" >"$T/res.$2"
	printf -v "$1" '%s' "$n"
}

detach()
{
	cni_json "$NODE" "$PTP" DEL "$2" "$(netns_path "$1")" eth0 "$(jq -nc --arg d "$DATA" '
		{cniVersion: "1.0.0", name: "bwnet", type: "ptp",
		 ipam: {type: "host-local", dataDir: $d, ranges: [[{subnet: "198.18.31.0/24"}]]}}')"
}

host_veth()
{
	jq -r '.interfaces[] | select(.sandbox == null) | .name' "$T/res.$1" | head -1
}

# conf CID EXTRA_JSON [VERSION] [NOPREV]: bandwidth config chained after CID's ptp result.
conf()
{
	local prev
	prev=$(cat "$T/res.$1")
	[ -n "${4:-}" ] && prev=null
	# A chain hands each plugin a prevResult in the config's version (the
	# reference cannot read a 1.0.0 one under a 0.x config).
	jq -nc --arg v "${3:-1.0.0}" --arg n "$NET" --argjson p "$prev" --argjson x "$2" '
		def prev: if ($v | startswith("0.")) then .cniVersion = $v |
			.ips |= map(. + {version: (if (.address | contains(":")) then "6" else "4" end)})
			else . end;
		{cniVersion: $v, name: $n, type: "bandwidth"} +
		(if $p then {prevResult: ($p | prev)} else {} end) + $x'
}

# bw VERB CID CTR JSON [PLUGIN] [VAR=VAL...]
bw()
{
	local verb=$1 cid=$2 c=$3 j=$4 p=${5:-$BW}
	shift 4
	[ $# -gt 0 ] && shift
	local path=""
	[ -n "$c" ] && path=$(netns_path "$c")
	if [[ $p == "$REF"/* ]]; then
		VALGRIND=0 cni_json "$NODE" "$p" "$verb" "$cid" "$path" eth0 "$j" "$@"
	else
		cni_json "$NODE" "$p" "$verb" "$cid" "$path" eth0 "$j" "$@"
	fi
}

# qdisc DEV PARENT: "kind handle rate burst lat" of the qdisc (root or ingress), or "none".
qdisc()
{
	in_ns "$NODE" tc -j qdisc show dev "$1" 2>/dev/null | jq -r --arg p "$2" '
		[.[] | select(if $p == "root" then .root == true else .parent == "ffff:fff1" end)] |
		if length == 0 then "none" else .[0] |
		"\(.kind) \(.handle) \(.options.rate // "-") \(.options.burst // "-") \(.options.lat // "-")" end' 2>/dev/null ||
		echo none
}

# redirect DEV: "flowid match mirred_action direction to_dev control" of the first u32 action.
redirect()
{
	in_ns "$NODE" tc -j filter show dev "$1" ingress 2>/dev/null | jq -r '
		[.[] | select(.options.actions)] | if length == 0 then "none" else .[0].options |
		"\(.flowid) \(.match.value)/\(.match.mask) \(.actions[0].kind) \(.actions[0].mirred_action) \(.actions[0].direction) \(.actions[0].to_dev) \(.actions[0].control_action.type)" end'
}

link_exists()
{
	in_ns "$NODE" ip link show "$1" >/dev/null 2>&1
}

# nothing_left CID: the host veth has its default qdisc and no ingress, and no ifb exists.
nothing_left()
{
	local v
	v=$(host_veth "$1")
	[ "$(qdisc "$v" root)" == "noqueue 0: - - -" ] && [ "$(qdisc "$v" ingress)" == none ] &&
		! link_exists "$(ifb_of "$1")"
}

# ---- ADD, result, tc state ------------------------------------------------
attach C1 c1
V1=$(host_veth c1)
IFB1=$(ifb_of c1)
bw ADD c1 "$C1" "$(conf c1 "$FULL")"
is_success "ADD with all four keys"
is "result: prevResult's interfaces plus the ifb" \
	"$(jq -c '[.interfaces[].name]' <<<"$OUT")" "$(jq -c "[.interfaces[].name] + [\"$IFB1\"]" "$T/res.c1")"
is "result: the ifb's MAC" "$(jq -r '.interfaces[-1].mac' <<<"$OUT")" \
	"$(in_ns "$NODE" ip -j link show "$IFB1" | jq -r '.[0].address')"
is "result: ips and routes are prevResult's" "$(jq -c '[.ips, .routes]' <<<"$OUT")" \
	"$(jq -c '[.ips, .routes]' "$T/res.c1")"
is "ingress: TBF 1: on the host veth, 1000000 B/s, burst 10000 B, 25 ms" "$(qdisc "$V1" root)" \
	"tbf 1: 1000000 10000 25000"
is "egress: ingress qdisc on the host veth" "$(qdisc "$V1" ingress)" "ingress ffff: - - -"
is "egress: u32 match-all redirect to the ifb" "$(redirect "$V1")" \
	"1:1 0/0 mirred redirect egress $IFB1 stolen"
is "egress: TBF 1: on the ifb, 2000000 B/s, burst 20000 B" "$(qdisc "$IFB1" root)" \
	"tbf 1: 2000000 20000 25000"
L=$(in_ns "$NODE" ip -j -d link show "$IFB1")
is "ifb: kind, up, MTU of the veth, txqueuelen 0" \
	"$(jq -r '.[0] | "\(.linkinfo.info_kind) \(.operstate) \(.mtu) \(.txqlen // 0)"' <<<"$L")" \
	"ifb UNKNOWN $(in_ns "$NODE" ip -j link show "$V1" | jq -r '.[0].mtu') 0"

bw CHECK c1 "$C1" "$(conf c1 "$FULL")"
is_success "CHECK after ADD"
bw CHECK c1 "$C1" "$(conf c1 "$FULL")" "$RBW"
is_success "the reference's CHECK accepts our qdiscs"
bw ADD c1 "$C1" "$(conf c1 "$FULL")"
is_error "a second ADD fails (the qdiscs exist)"
is "... and leaves the first ADD's state" "$(qdisc "$IFB1" root)" "tbf 1: 2000000 20000 25000"

# ---- CHECK catches drift ----------------------------------------------------
in_ns "$NODE" tc qdisc change dev "$V1" root handle 1: tbf rate 9mbit burst 10000 latency 25ms
bw CHECK c1 "$C1" "$(conf c1 "$FULL")"
is_error_json "CHECK: changed rate on the veth" 7
like "... says the rate differs" "$(jq -r .msg <<<"$OUT")" "^Rate doesn't match"
in_ns "$NODE" tc qdisc change dev "$V1" root handle 1: tbf rate 8mbit burst 12000 latency 25ms
bw CHECK c1 "$C1" "$(conf c1 "$FULL")"
like "CHECK: changed burst" "$(jq -r .msg <<<"$OUT")" "^(Limit|Buffer) doesn't match"
in_ns "$NODE" tc qdisc replace dev "$V1" root handle 1: tbf rate 8mbit burst 10000 latency 25ms
bw CHECK c1 "$C1" "$(conf c1 "$FULL")"
is_success "CHECK: the same values set again by tc pass"
in_ns "$NODE" tc qdisc del dev "$IFB1" root
bw CHECK c1 "$C1" "$(conf c1 "$FULL")"
is_error_json "CHECK: the ifb's TBF removed" 7
in_ns "$NODE" tc qdisc add dev "$IFB1" root handle 1: tbf rate 16mbit burst 20000 latency 25ms
bw CHECK c1 "$C1" "$(conf c1 "$FULL")"
is_success "CHECK: the ifb's TBF back"
in_ns "$NODE" tc filter del dev "$V1" ingress
bw CHECK c1 "$C1" "$(conf c1 "$FULL")"
is_error_json "CHECK: the redirect removed" 7
like "... names it" "$(jq -r .msg <<<"$OUT")" "no ingress redirect"
in_ns "$NODE" tc qdisc del dev "$V1" ingress
bw CHECK c1 "$C1" "$(conf c1 '{}')"
is_success "CHECK without any rate: nothing to compare"

# ---- DEL ------------------------------------------------------------------
bw DEL c1 "$C1" "$(conf c1 "$FULL")"
is_success "DEL"
ok_if "DEL removed the ifb and the veth's qdiscs" nothing_left c1
bw DEL c1 "$C1" "$(conf c1 "$FULL")"
is_success "DEL again"

# ---- every key, runtimeConfig, precedence ---------------------------------
bw ADD c1 "$C1" "$(conf c1 '{"ingressRate": 4000000, "ingressBurst": 40000}')"
is_success "ingress only"
is "... TBF on the veth" "$(qdisc "$V1" root)" "tbf 1: 500000 5000 25000"
is "... no ingress qdisc" "$(qdisc "$V1" ingress)" none
ok_if "... no ifb" bash -c "! nsenter --net=/run/netns/$NODE ip link show $IFB1"
is "... result is prevResult" "$(jq -cS 'del(.cniVersion)' <<<"$OUT")" \
	"$(jq -cS 'del(.cniVersion)' "$T/res.c1")"
bw DEL c1 "$C1" "$(conf c1 '{}' 1.0.0 noprev)"
is_success "DEL without prevResult or rates"
ok_if "... cleaned the veth" nothing_left c1

bw ADD c1 "$C1" "$(conf c1 '{"egressRate": 4000000, "egressBurst": 40000}')"
is_success "egress only"
is "... veth keeps its default root qdisc" "$(qdisc "$V1" root)" "noqueue 0: - - -"
is "... TBF on the ifb" "$(qdisc "$IFB1" root)" "tbf 1: 500000 5000 25000"
bw DEL c1 "" "$(conf c1 '{}' 1.0.0 noprev)"
is_success "DEL without netns nor prevResult"
ok_if "... removed the ifb" bash -c "! nsenter --net=/run/netns/$NODE ip link show $IFB1"
in_ns "$NODE" tc qdisc del dev "$V1" ingress 2>/dev/null

RC_BW='{"runtimeConfig": {"bandwidth": {"ingressRate": 2400000, "ingressBurst": 24000, "egressRate": 3200000, "egressBurst": 32000}}}'
bw ADD c1 "$C1" "$(conf c1 "$RC_BW")"
is_success "rates from runtimeConfig.bandwidth"
is "... ingress" "$(qdisc "$V1" root)" "tbf 1: 300000 3000 25000"
is "... egress" "$(qdisc "$IFB1" root)" "tbf 1: 400000 4000 25000"
bw CHECK c1 "$C1" "$(conf c1 "$RC_BW")"
is_success "... CHECK"
bw DEL c1 "$C1" "$(conf c1 "$RC_BW")"
ok_if "... DEL" nothing_left c1

bw ADD c1 "$C1" "$(conf c1 "$(jq -c '. + {"egressRate": 800000, "egressBurst": 8000}' <<<"$RC_BW")")"
is_success "static keys win over runtimeConfig"
is "... no ingress from runtimeConfig" "$(qdisc "$V1" root)" "noqueue 0: - - -"
is "... egress from the static keys" "$(qdisc "$IFB1" root)" "tbf 1: 100000 1000 25000"
bw DEL c1 "$C1" "$(conf c1 '{}')"
ok_if "... DEL" nothing_left c1

bw ADD c1 "$C1" "$(conf c1 '{"ingressRate": 0, "ingressBurst": 0, "runtimeConfig": {"bandwidth": {"ingressRate": 8000, "ingressBurst": 800}}}')"
is_success "all-zero static keys: no shaping (they still win)"
ok_if "... nothing created" nothing_left c1

# ---- errors (the reference's) ----------------------------------------------
err_case()
{
	local desc=$1 x=$2 want=$3
	bw ADD c1 "$C1" "$(conf c1 "$x")"
	is_error_json "$desc" 7
	is "... message" "$(jq -r .msg <<<"$OUT")" "$want"
	bw ADD c1 "$C1" "$(conf c1 "$x")" "$RBW"
	is "... the reference's message" "$(jq -r .msg <<<"$OUT")" "$want"
	ok_if "... nothing created" nothing_left c1
}
err_case "ingressRate without burst" '{"ingressRate": 1000}' "if rate is set, burst must also be set"
err_case "egressBurst without rate" '{"egressBurst": 1000}' "if burst is set, rate must also be set"
err_case "burst of 4 GiB" '{"egressRate": 1000000, "egressBurst": 34359738360}' "burst cannot be more than 4GB"
err_case "runtimeConfig rate without burst" '{"runtimeConfig": {"bandwidth": {"egressRate": 1000}}}' \
	"if rate is set, burst must also be set"
bw ADD c1 "$C1" "$(conf c1 "$FULL" 1.0.0 noprev)"
is_error_json "no prevResult" 7
is "... message" "$(jq -r .msg <<<"$OUT")" "must be called as chained plugin"
bw ADD c1 "$C1" "$(conf c1 '{"ingressRate": 4, "ingressBurst": 8000}')"
is_error_json "a rate under 8 bit/s (0 bytes/s for the kernel)" 7
bw ADD c1 "$C1" "$(conf c1 '{"ingressRate": 8, "ingressBurst": 34359738000}')"
is_error_json "a buffer over the kernel's 32 bits (the reference wraps it)" 7
bw ADD c1 "$C1" "$(conf c1 '{"ingressRate": "x", "ingressBurst": 8000}')"
is_error_json "a rate that is not a number" 7
bw ADD c1 "$C1" "$(conf c1 "$FULL" 0.2.0)"
is_error_json "cniVersion 0.2.0: the reference supports 0.3.0 and later" 1
bw ADD c1 "$C1" "$(conf c1 "$FULL")" "" CNI_IFNAME=lo
is_error_json "CNI_IFNAME not a veth" 7
like "... message" "$(jq -r .msg <<<"$OUT")" "^container interface lo has no veth peer"
bw ADD c1 "$C1" "$(jq -c '.prevResult.interfaces[0].name = "vethnothere"' <<<"$(conf c1 "$FULL")")"
is_error_json "prevResult without the host veth" 7
is "... message" "$(jq -r .msg <<<"$OUT")" "no veth peer of container interface found in host ns"
ok_if "errors left nothing" nothing_left c1

# ---- rollback ---------------------------------------------------------------
# The ifb name is taken (by an ifb that is not ours): ADD fails, the veth's TBF
# goes, the other ifb stays.
in_ns "$NODE" ip link add "$IFB1" type ifb
bw ADD c1 "$C1" "$(conf c1 "$FULL")"
is_error_json "ADD with the ifb name taken" 7
is "... says so" "$(jq -r .msg <<<"$OUT")" "adding link \"$IFB1\": File exists (a ifb link)"
is "... the veth's TBF rolled back" "$(qdisc "$V1" root)" "noqueue 0: - - -"
is "... no ingress qdisc" "$(qdisc "$V1" ingress)" none
ok_if "... the foreign ifb is still there" link_exists "$IFB1"
in_ns "$NODE" ip link del "$IFB1"

# Someone else's root qdisc on the veth: refused (the first request), and
# theirs is left as it was.
in_ns "$NODE" tc qdisc add dev "$V1" root handle 5: tbf rate 1mbit burst 5000 latency 50ms
bw ADD c1 "$C1" "$(conf c1 "$FULL")"
is_error_json "ADD over a foreign root qdisc" 7
is "... says what is there" "$(jq -r .msg <<<"$OUT")" \
	"create qdisc tbf on \"$V1\": a root qdisc tbf 5: is already there"
is "... the foreign qdisc is untouched" "$(qdisc "$V1" root)" "tbf 5: 125000 5000 50000"
ok_if "... no ifb" bash -c "! nsenter --net=/run/netns/$NODE ip link show $IFB1"
in_ns "$NODE" tc qdisc del dev "$V1" root

# Someone else's ingress-side qdisc (clsact) on the veth: found after the
# veth's TBF was made, which goes again; theirs stays.
in_ns "$NODE" tc qdisc add dev "$V1" clsact
bw ADD c1 "$C1" "$(conf c1 "$FULL")"
is_error_json "ADD over a foreign ingress qdisc" 7
is "... says what is there" "$(jq -r .msg <<<"$OUT")" \
	"create ingress qdisc on \"$V1\": an ingress qdisc is already there"
is "... the veth's TBF rolled back" "$(qdisc "$V1" root)" "noqueue 0: - - -"
is "... the foreign clsact is untouched" \
	"$(in_ns "$NODE" tc -j qdisc show dev "$V1" | jq -r '.[] | select(.kind == "clsact") | .handle')" "ffff:"
ok_if "... no ifb" bash -c "! nsenter --net=/run/netns/$NODE ip link show $IFB1"
in_ns "$NODE" tc qdisc del dev "$V1" clsact

# Every netlink request of ADD fails once, in turn (strace error injection on
# the Nth sendmsg): each failure must leave nothing, and ADD must finally pass.
# LeakSanitizer cannot run under ptrace (SANITIZE=1 builds); valgrind would
# trace the wrapper, not the plugin.
cat >"$T/bw-inject" <<EOF
#!/bin/sh
export ASAN_OPTIONS="\${ASAN_OPTIONS:+\$ASAN_OPTIONS:}detect_leaks=0"
exec strace -qq -o /dev/null -e trace=sendmsg -e inject=sendmsg:error=EPERM:when=\$BW_FAIL_AT "$BW"
EOF
chmod +x "$T/bw-inject"
fails=0
clean=0
for n in $(seq 1 20); do
	VALGRIND=0 bw ADD c1 "$C1" "$(conf c1 "$FULL")" "$T/bw-inject" BW_FAIL_AT="$n"
	[ "$RC" == 0 ] && break
	fails=$((fails + 1))
	if nothing_left c1 && jq -e '.code and .msg' >/dev/null 2>&1 <<<"$OUT"; then
		clean=$((clean + 1))
	else
		diag "failure at request $n left state or no error: $OUT"
	fi
done
is "ADD passes once every request has failed in turn" "$RC" 0
ok_if "ADD has at least 8 requests to fail ($fails)" test "$fails" -ge 8
is "every injected failure returned an error and left nothing" "$clean" "$fails"
bw DEL c1 "$C1" "$(conf c1 "$FULL")"
ok_if "... DEL" nothing_left c1

# DEL interrupted at each of its requests in turn: it reports the failure or
# copes, and a second DEL always finishes the job.
retried=0
for n in $(seq 1 16); do
	VALGRIND=0 bw ADD c1 "$C1" "$(conf c1 "$FULL")"
	[ "$RC" == 0 ] || break
	VALGRIND=0 bw DEL c1 "$C1" "$(conf c1 "$FULL")" "$T/bw-inject" BW_FAIL_AT="$n"
	first=$RC
	bw DEL c1 "$C1" "$(conf c1 "$FULL")"
	if [ "$RC" == 0 ] && nothing_left c1; then
		retried=$((retried + 1))
	else
		diag "DEL after a DEL failing at request $n: rc=$RC $OUT"
	fi
	# Every request failed in turn once the injection no longer hits.
	[ "$first" == 0 ] && nothing_left c1 && break
done
ok_if "DEL has at least 6 requests to fail (and a second DEL cleaned up after each: $retried)" \
	test "$retried" -ge 6 -a "$retried" == "$n"

# ---- DEL with the netns gone ------------------------------------------------
attach C2 c2
V2=$(host_veth c2)
IFB2=$(ifb_of c2)
bw ADD c2 "$C2" "$(conf c2 "$FULL")"
is_success "ADD for the netns-gone case"
netns_del "$C2"
wait_for "veth gone with its netns" 5 bash -c "! nsenter --net=/run/netns/$NODE ip link show $V2"
bw DEL c2 "$C2" "$(conf c2 "$FULL")"
is_success "DEL with the netns gone"
ok_if "... removed the ifb" bash -c "! nsenter --net=/run/netns/$NODE ip link show $IFB2"
bw DEL c2 "" "$(conf c2 "$FULL")"
is_success "DEL again, no CNI_NETNS"

# ---- GC ---------------------------------------------------------------------
attach C3 c3
attach C4 c4
attach C5 c5
bw ADD c3 "$C3" "$(conf c3 "$FULL")"
bw ADD c4 "$C4" "$(conf c4 "$FULL")"
bw ADD c5 "$C5" "$(conf c5 "$FULL")" "$RBW"
GC=$(jq -nc --arg n "$NET" '{cniVersion: "1.1.0", name: $n, type: "bandwidth",
	"cni.dev/valid-attachments": [{containerID: "c3", ifname: "eth0"}]}')
cni_json "$NODE" "$BW" GC "" "" "" "$GC"
is_success "GC"
ok_if "... kept the valid attachment's ifb" link_exists "$(ifb_of c3)"
ok_if "... removed the stale one" bash -c "! nsenter --net=/run/netns/$NODE ip link show $(ifb_of c4)"
ok_if "... left the reference's ifb alone (its network is unknown)" link_exists "$(ifb_of c5)"
cni_json "$NODE" "$BW" GC "" "" "" "$(jq -c '.name = "othernet" | .["cni.dev/valid-attachments"] = []' <<<"$GC")"
ok_if "GC of another network keeps this network's ifb" link_exists "$(ifb_of c3)"
cni_json "$NODE" "$BW" STATUS "" "" "" "$GC"
is_success "STATUS"
bw DEL c3 "$C3" "$(conf c3 "$FULL")"
bw DEL c4 "$C4" "$(conf c4 "$FULL")"
bw DEL c5 "$C5" "$(conf c5 "$FULL")"
ok_if "our DEL removes the reference's ifb (a switched node)" nothing_left c5
ok_if "DEL cleaned c3" nothing_left c3
ok_if "DEL after GC cleaned c4's veth" nothing_left c4
for c in 3 4 5; do
	n=C$c
	detach "${!n}" "c$c"
done

# ---- bridge, through libcni: the capability reaches runtimeConfig ---------
# The bridge's result lists the bridge and the veth without sandbox: the TBF
# must land on the veth (the container's peer), not on the bridge.
need_cnitool
mkdir -p "$T/net.d"
jq -n --arg d "$DATA" '{cniVersion: "1.0.0", name: "bwchain", plugins: [
	{type: "bridge", bridge: "cnibw0", isGateway: true,
	 ipam: {type: "host-local", dataDir: $d, ranges: [[{subnet: "198.18.34.0/24"}]]}},
	{type: "bandwidth", capabilities: {bandwidth: true}}]}' >"$T/net.d/10-bwchain.conflist"
CAPS='CAP_ARGS={"bandwidth": {"ingressRate": 4000000, "ingressBurst": 40000, "egressRate": 6400000, "egressBurst": 64000}}'
netns_new CB ctr
cnitool_run "$NODE" add bwchain "$(netns_path "$CB")" CNI_CONTAINERID=cb1 "$CAPS"
is "cnitool add bridge + bandwidth" "$RC" 0
BIFB=$(ifb_of cb1 bwchain)
BV=$(jq -r '.interfaces[] | select(.sandbox == null and (.name | startswith("veth"))) | .name' <<<"$OUT")
is "... the result ends with the ifb" "$(jq -r '.interfaces[-1].name' <<<"$OUT")" "$BIFB"
is "... ingress TBF on the bridge port, from runtimeConfig" "$(qdisc "$BV" root)" "tbf 1: 500000 5000 25000"
ok_if "... the bridge itself is not shaped" 	bash -c "[ \"\$(nsenter --net=/run/netns/$NODE tc -j qdisc show dev cnibw0 | jq -r '.[0].kind')\" != tbf ]"
is "... egress TBF on the ifb" "$(qdisc "$BIFB" root)" "tbf 1: 800000 8000 25000"
is "... redirect from the port" "$(redirect "$BV")" "1:1 0/0 mirred redirect egress $BIFB stolen"
cnitool_run "$NODE" check bwchain "$(netns_path "$CB")" CNI_CONTAINERID=cb1 "$CAPS"
is "cnitool check" "$RC" 0
in_ns "$NODE" tc qdisc change dev "$BIFB" root handle 1: tbf rate 7mbit burst 8000 latency 25ms
cnitool_run "$NODE" check bwchain "$(netns_path "$CB")" CNI_CONTAINERID=cb1 "$CAPS"
isnt "cnitool check sees the changed egress rate" "$RC" 0
cnitool_run "$NODE" del bwchain "$(netns_path "$CB")" CNI_CONTAINERID=cb1 "$CAPS"
is "cnitool del" "$RC" 0
ok_if "... the ifb is gone" bash -c "! nsenter --net=/run/netns/$NODE ip link show $BIFB"
ok_if "... and the port" bash -c "! nsenter --net=/run/netns/$NODE ip link show $BV"
in_ns "$NODE" ip link del cnibw0

# ---- differential against the reference ------------------------------------
# norm RESULT: without MACs; an empty "dns" counts as absent (the reference
# prints "dns":{}, cnic omits it, see docs/bandwidth.md).
norm()
{
	jq -cS '.interfaces |= map(del(.mac)) | if .dns == {} then del(.dns) else . end' <<<"$1"
}

# tc state of one attachment with every key, names replaced by placeholders.
tcstate()
{
	local v i
	v=$(host_veth "$1")
	i=$(ifb_of "$1")
	{
		in_ns "$NODE" tc -j qdisc show dev "$v" | jq -c 'map(del(.refcnt, .dev))'
		in_ns "$NODE" tc -j qdisc show dev "$i" 2>/dev/null | jq -c 'map(del(.refcnt, .dev))'
		redirect "$v"
		in_ns "$NODE" ip -j -d link show "$i" 2>/dev/null |
			jq -c '.[0] | {flags, mtu, txqlen, operstate, kind: .linkinfo.info_kind}'
	} | sed -e "s/$v/VETH/g" -e "s/$i/IFB/g"
}
DIFF=("$FULL" '{"ingressRate": 123456789, "ingressBurst": 999999}'
	'{"egressRate": 7777777, "egressBurst": 3333}' "$RC_BW"
	'{"ingressRate": 20000000000, "ingressBurst": 16000000, "egressRate": 40000000000, "egressBurst": 800000000}')
VERSIONS=(0.3.0 0.3.1 0.4.0 1.0.0)
# Under valgrind (minutes per file) the arithmetic variants add nothing new
# to what memcheck sees: keep one plain and one 64-bit rate, two versions.
if [ "${VALGRIND:-0}" == 1 ]; then
	DIFF=("${DIFF[0]}" "${DIFF[4]}")
	VERSIONS=(0.3.0 1.0.0)
fi
for x in "${DIFF[@]}"; do
	bw ADD c1 "$C1" "$(conf c1 "$x")" "$RBW"
	ref_out=$OUT
	ref_state=$(tcstate c1)
	bw CHECK c1 "$C1" "$(conf c1 "$x")"
	is_success "ours CHECKs the reference's ADD of $x"
	bw DEL c1 "$C1" "$(conf c1 "$x")"
	ok_if "ours DELs the reference's ADD" nothing_left c1
	bw ADD c1 "$C1" "$(conf c1 "$x")"
	is "same result as the reference (MACs aside)" "$(norm "$OUT")" "$(norm "$ref_out")"
	is "same tc state as the reference" "$(tcstate c1)" "$ref_state"
	bw CHECK c1 "$C1" "$(conf c1 "$x")" "$RBW"
	is_success "the reference CHECKs ours"
	bw DEL c1 "$C1" "$(conf c1 "$x")" "$RBW"
	bw DEL c1 "$C1" "$(conf c1 "$x")"
	ok_if "nothing left" nothing_left c1
	in_ns "$NODE" tc qdisc del dev "$V1" root 2>/dev/null
	in_ns "$NODE" tc qdisc del dev "$V1" ingress 2>/dev/null
done

for v in "${VERSIONS[@]}"; do
	bw ADD c1 "$C1" "$(conf c1 "$FULL" "$v")" "$RBW"
	ref_out=$OUT
	bw DEL c1 "$C1" "$(conf c1 "$FULL" "$v")" "$RBW"
	in_ns "$NODE" tc qdisc del dev "$V1" root 2>/dev/null
	in_ns "$NODE" tc qdisc del dev "$V1" ingress 2>/dev/null
	bw ADD c1 "$C1" "$(conf c1 "$FULL" "$v")"
	is "cniVersion $v: same result as the reference" "$(norm "$OUT")" "$(norm "$ref_out")"
	bw DEL c1 "$C1" "$(conf c1 "$FULL" "$v")"
	ok_if "cniVersion $v: DEL" nothing_left c1
done
bw ADD c1 "$C1" "$(conf c1 "$FULL" 1.1.0)"
is_success "cniVersion 1.1.0"
bw DEL c1 "$C1" "$(conf c1 "$FULL" 1.1.0)"
ok_if "... DEL" nothing_left c1

detach "$C1" c1
assert_no_links "$NODE"
done_testing
