#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
#
# tuning in throwaway namespaces: a veth pair made by hand (node end in the
# node netns, eth0 in a container netns) and a hand-written prevResult.
# ADD applies sysctls, mac, mtu, promisc, allmulti, txQLen and updates the
# result's MAC; CHECK sees drift; DEL restores everything ADD changed (and
# nothing someone else changed later), twice, without a netns; path tricks
# in sysctl keys are refused before anything changes; a failed ADD undoes
# itself; MAC precedence; the allowlist; backups written by the reference
# are restored by ours (switching a node in place).
. "$(dirname "$0")/lib.sh"

TU=$BIN/tuning
RTU=$REF/tuning
[ -x "$TU" ] || bail_out "$TU not built"

netns_new NODE node
DATA=$T/tuning

# ctr VAR [IFNAME]: a container netns with a veth end IFNAME (default eth0), up.
ctr()
{
	local n ifn=${2:-eth0}
	netns_new n ctr
	ip -n "$NODE" link add "h${n##*-}x$RANDOM" type veth peer name "$ifn" netns "$n" ||
		bail_out "cannot create veth"
	ip -n "$n" link set "$ifn" up
	printf -v "$1" '%s' "$n"
}

# conf VERSION NETNS_PATH IFNAME EXTRA_JSON: a tuning config chained after a
# hand-written interface plugin result.
conf()
{
	jq -n --arg v "$1" --arg sb "$2" --arg ifn "$3" --arg d "$DATA" --argjson x "$4" '
		{cniVersion: $v, name: "tunenet", type: "tuning", dataDir: $d,
		 prevResult: {cniVersion: "1.0.0",
			interfaces: [{name: "cni0", mac: "02:00:00:00:00:01"},
				     {name: $ifn, mac: "02:00:00:00:00:02", sandbox: $sb}],
			ips: [{address: "198.18.5.2/24", gateway: "198.18.5.1", interface: 1}]}} + $x'
}

# tu VERB CTR JSON [PLUGIN] [IFNAME] [VAR=VAL...]
tu()
{
	local verb=$1 c=$2 j=$3 p=${4:-$TU} ifn=${5:-eth0}
	shift 3
	[ $# -gt 0 ] && shift
	[ $# -gt 0 ] && shift
	if [ "$p" == "$TU" ]; then
		cni_json "$NODE" "$p" "$verb" tune1 "$(netns_path "$c")" "$ifn" "$j" "$@"
	else
		# The Go reference does not run under valgrind.
		VALGRIND=0 cni_json "$NODE" "$p" "$verb" tune1 "$(netns_path "$c")" "$ifn" "$j" "$@"
	fi
}

link_json()
{
	ip -n "$1" -j -d link show "${2:-eth0}" | jq -c '.[0]'
}

# state CTR [IFNAME]: "mac mtu promisc allmulti txqlen arp_notify" of the interface.
state()
{
	local c=$1 ifn=${2:-eth0} l
	l=$(link_json "$c" "$ifn")
	printf '%s %s %s %s %s %s' "$(jq -r .address <<<"$l")" "$(jq -r .mtu <<<"$l")" \
		"$(jq -r '.promiscuity > 0' <<<"$l")" \
		"$(jq -r '.flags | index("ALLMULTI") != null' <<<"$l")" \
		"$(jq -r .txqlen <<<"$l")" \
		"$(in_ns "$c" cat "/proc/sys/net/ipv4/conf/$ifn/arp_notify")"
}

FULL='{"sysctl": {"net.ipv4.conf.IFNAME.arp_notify": "1", "net/ipv4/ping_group_range": "0 100"},
	"mac": "02:cc:00:00:00:07", "mtu": 1400, "promisc": true, "allmulti": true, "txQLen": 77}'

# ---- ADD / CHECK / DEL ---------------------------------------------------
ctr C1
before=$(state "$C1")
pgr_before=$(in_ns "$C1" cat /proc/sys/net/ipv4/ping_group_range | tr '\t' ' ')
C1P=$(netns_path "$C1")

tu ADD "$C1" "$(conf 1.0.0 "$C1P" eth0 '{}' | jq 'del(.prevResult)')"
is_error_json "ADD without prevResult fails (code 7)" 7

tu ADD "$C1" "$(conf 1.0.0 "$C1P" eth0 "$FULL")"
is_success "ADD with every key"
is "every value applied" "$(state "$C1")" "02:cc:00:00:00:07 1400 true true 77 1"
is "slash-form sysctl applied" "$(in_ns "$C1" cat /proc/sys/net/ipv4/ping_group_range | tr '\t' ' ')" "0 100"
ok_jq "result: container MAC updated, host-side entry untouched" "$OUT" \
	'.interfaces[1].mac == "02:cc:00:00:00:07" and .interfaces[0].mac == "02:00:00:00:00:01"'
ok_jq "result keeps prevResult's IPs" "$OUT" '.ips[0].address == "198.18.5.2/24" and .cniVersion == "1.0.0"'
ok_if "backup file written, mode 600" test "$(file_mode "$DATA/tune1_eth0.json")" = 600
ok_jq "backup in the reference's format (original values)" "$DATA/tune1_eth0.json" \
	".mtu == $(awk '{print $2}' <<<"$before") and .promisc == false and .allmulti == false and (.mac | length) == 17"

tu CHECK "$C1" "$(conf 1.0.0 "$C1P" eth0 "$FULL")"
is_success "CHECK after ADD"
ip -n "$C1" link set eth0 mtu 1300
tu CHECK "$C1" "$(conf 1.0.0 "$C1P" eth0 "$FULL")"
is_error "CHECK sees a changed MTU"
ip -n "$C1" link set eth0 mtu 1400
in_ns "$C1" sh -c 'echo 0 > /proc/sys/net/ipv4/conf/eth0/arp_notify'
tu CHECK "$C1" "$(conf 1.0.0 "$C1P" eth0 "$FULL")"
is_error "CHECK sees a changed sysctl"
in_ns "$C1" sh -c 'echo 1 > /proc/sys/net/ipv4/conf/eth0/arp_notify'

# Someone else changes txqlen after ADD: DEL must leave their value.
ip -n "$C1" link set eth0 txqlen 55
tu DEL "$C1" "$(conf 1.0.0 "$C1P" eth0 "$FULL")"
is_success "DEL"
exp=$(awk '{print $1, $2, $3, $4}' <<<"$before")
is "DEL restored mac, mtu, promisc, allmulti" "$(state "$C1" | awk '{print $1, $2, $3, $4}')" "$exp"
is "DEL restored the sysctls" "$(state "$C1" | awk '{print $6}') $(in_ns "$C1" cat /proc/sys/net/ipv4/ping_group_range | tr '\t' ' ')" \
	"$(awk '{print $6}' <<<"$before") $pgr_before"
is "DEL left a value changed after ADD by someone else" "$(state "$C1" | awk '{print $5}')" 55
ok_if "backup removed" test ! -e "$DATA/tune1_eth0.json"
tu DEL "$C1" "$(conf 1.0.0 "$C1P" eth0 "$FULL")"
is_success "DEL again"

# ---- every version, result conversion -----------------------------------
for v in 0.3.1 0.4.0 1.1.0; do
	tu ADD "$C1" "$(conf "$v" "$C1P" eth0 '{"mac": "02:cc:00:00:00:08"}')"
	is_success "$v: ADD"
	ok_jq "$v: ADD result in $v with the new MAC" "$OUT" \
		".cniVersion == \"$v\" and .interfaces[1].mac == \"02:cc:00:00:00:08\""
	tu DEL "$C1" "$(conf "$v" "$C1P" eth0 '{"mac": "02:cc:00:00:00:08"}')"
done

# ---- validation before any change ----------------------------------------
snap=$(state "$C1")
for key in 'kernel.hostname' 'net/../kernel/hostname' 'net.ipv4.conf.IFNAME/../../../../kernel/hostname' \
	'net..ipv4.ip_forward' 'net/ipv4/./ip_forward' '../proc/sys/net/ipv4/ip_forward'; do
	tu ADD "$C1" "$(conf 1.0.0 "$C1P" eth0 "$(jq -n --arg k "$key" '{mtu: 1280, sysctl: {($k): "1"}}')")"
	is_error_json "sysctl key '$key' refused (code 7)" 7
done
tu ADD "$C1" "$(conf 1.0.0 "$C1P" eth0 '{"sysctl": {"net.ipv4.conf.eth0.arp_notify": "1", "net/ipv4/conf/IFNAME/arp_notify": "1"}}')"
is_error_json "two keys naming one sysctl refused" 7
tu ADD "$C1" "$(conf 1.0.0 "$C1P" eth0 '{"sysctl": {"net.ipv4.ip_forward": 1}}')"
is_error_json "non-string sysctl value refused" 7
tu ADD "$C1" "$(conf 1.0.0 "$C1P" eth0 '{"mac": "not-a-mac"}')"
is_error_json "bad mac refused" 7
tu ADD "$C1" "$(conf 1.0.0 "$C1P" eth0 '{"mtu": -5}')"
is_error_json "negative mtu refused" 7
tu ADD "$C1" "$(conf 1.0.0 "$C1P" eth0 '{"mtu": 1280}')" "" "" "CNI_ARGS=FOO=bar"
is_error_json "unknown CNI_ARGS key refused (code 4)" 4
is "nothing changed by refused ADDs" "$(state "$C1")" "$snap"
ok_if "no backup left by refused ADDs" test ! -e "$DATA/tune1_eth0.json"

# ---- a failed ADD undoes itself -------------------------------------------
tu ADD "$C1" "$(conf 1.0.0 "$C1P" eth0 '{"sysctl": {"net.ipv4.conf.IFNAME.arp_notify": "1"}, "mac": "02:cc:00:00:00:09", "mtu": 70000}')"
is_error "ADD with an MTU the kernel refuses fails"
is "failed ADD restored sysctl and mac" "$(state "$C1")" "$snap"
ok_if "failed ADD left no backup" test ! -e "$DATA/tune1_eth0.json"

# ---- MAC precedence: mac < CNI_ARGS MAC < runtimeConfig.mac < args.cni.mac --
tu ADD "$C1" "$(conf 1.0.0 "$C1P" eth0 '{"mac": "02:00:00:00:00:a1"}')" "" "" \
	"CNI_ARGS=IgnoreUnknown=1;MAC=02:00:00:00:00:a2;K8S_POD_NAME=x"
is "CNI_ARGS MAC beats mac" "$(link_json "$C1" | jq -r .address)" 02:00:00:00:00:a2
tu DEL "$C1" "$(conf 1.0.0 "$C1P" eth0 '{}')"
tu ADD "$C1" "$(conf 1.0.0 "$C1P" eth0 '{"mac": "02:00:00:00:00:a1", "runtimeConfig": {"mac": "02:00:00:00:00:a3"}}')" "" "" \
	"CNI_ARGS=MAC=02:00:00:00:00:a2"
is "runtimeConfig.mac beats CNI_ARGS" "$(link_json "$C1" | jq -r .address)" 02:00:00:00:00:a3
tu DEL "$C1" "$(conf 1.0.0 "$C1P" eth0 '{}')"
tu ADD "$C1" "$(conf 1.0.0 "$C1P" eth0 '{"mac": "02:00:00:00:00:a1", "runtimeConfig": {"mac": "02:00:00:00:00:a3"},
	"args": {"cni": {"mac": "02:00:00:00:00:a4", "mtu": 1280, "sysctl": {"net.ipv4.conf.IFNAME.arp_notify": "1"}}}}')"
is "args.cni.mac beats all; args.cni.mtu and sysctl applied" \
	"$(state "$C1" | awk '{print $1, $2, $6}')" "02:00:00:00:00:a4 1280 1"
tu DEL "$C1" "$(conf 1.0.0 "$C1P" eth0 '{}')"
is "restored after args.cni" "$(state "$C1")" "$snap"

# ---- interface names with dots --------------------------------------------
ctr C2 e.1
C2P=$(netns_path "$C2")
tu ADD "$C2" "$(conf 1.0.0 "$C2P" e.1 '{"sysctl": {"net.ipv4.conf.IFNAME.arp_notify": "1"}}')" "" e.1
is_success "ADD on an interface named e.1"
is "dotted key with IFNAME reaches conf/e.1" "$(in_ns "$C2" cat /proc/sys/net/ipv4/conf/e.1/arp_notify)" 1
tu DEL "$C2" "$(conf 1.0.0 "$C2P" e.1 '{}')" "" e.1
is "DEL restored conf/e.1" "$(in_ns "$C2" cat /proc/sys/net/ipv4/conf/e.1/arp_notify)" 0

# ---- DEL without the netns, or without the interface ----------------------
tu ADD "$C2" "$(conf 1.0.0 "$C2P" e.1 '{"mtu": 1300}')" "" e.1
ok_if "backup exists" test -e "$DATA/tune1_e.1.json"
netns_del "$C2"
tu DEL "$C2" "$(conf 1.0.0 "$C2P" e.1 '{}')" "" e.1
is_success "DEL with the netns gone succeeds"
ok_if "and removes the backup" test ! -e "$DATA/tune1_e.1.json"
cni_json "$NODE" "$TU" DEL tune1 "" eth0 "$(conf 1.0.0 "" eth0 '{}')"
is_success "DEL without CNI_NETNS succeeds"

# ---- the allowlist (a private mount namespace shows its own /etc) ---------
cat >"$T/allow.sh" <<'EOF'
#!/bin/sh
# Run tuning with /etc/cni/tuning/allowlist.conf = $ALLOW, in a private mount namespace.
exec unshare -m --propagation private sh -c '
	mount -t tmpfs none /etc && mkdir -p /etc/cni/tuning &&
	printf "%s\n" "$0" >/etc/cni/tuning/allowlist.conf && exec "$1"' "$ALLOW" "$TUNING"
EOF
chmod +x "$T/allow.sh"
allowed='^net\.ipv4\.conf\.IFNAME\.[a-z_]*$'
cni_json "$NODE" "$T/allow.sh" ADD tune1 "$C1P" eth0 \
	"$(conf 1.0.0 "$C1P" eth0 '{"sysctl": {"net.ipv4.conf.IFNAME.arp_notify": "1"}}')" \
	"ALLOW=$allowed" "TUNING=$TU"
is_success "allowlisted sysctl accepted"
cni_json "$NODE" "$T/allow.sh" DEL tune1 "$C1P" eth0 "$(conf 1.0.0 "$C1P" eth0 '{}')" \
	"ALLOW=$allowed" "TUNING=$TU"
cni_json "$NODE" "$T/allow.sh" ADD tune1 "$C1P" eth0 \
	"$(conf 1.0.0 "$C1P" eth0 '{"sysctl": {"net.ipv4.ip_forward": "1"}}')" \
	"ALLOW=$allowed" "TUNING=$TU"
is_error_json "sysctl outside the allowlist refused" 7
is "allowlist test left the interface as it was" "$(state "$C1")" "$snap"

# ---- switching in place: the reference's backup, restored by ours ---------
if [ -x "$RTU" ]; then
	tu ADD "$C1" "$(conf 1.0.0 "$C1P" eth0 '{"mac": "02:00:00:00:00:b1", "mtu": 1280, "promisc": true}')" "$RTU"
	is_success "reference ADD"
	tu DEL "$C1" "$(conf 1.0.0 "$C1P" eth0 '{}')"
	is_success "our DEL of a reference ADD"
	is "reference backup restored by ours" "$(state "$C1")" "$snap"
	ok_if "reference backup removed" test ! -e "$DATA/tune1_eth0.json"
	tu ADD "$C1" "$(conf 1.0.0 "$C1P" eth0 '{"mac": "02:00:00:00:00:b2", "mtu": 1280}')"
	tu DEL "$C1" "$(conf 1.0.0 "$C1P" eth0 '{}')" "$RTU"
	is "our backup restored by the reference" "$(state "$C1")" "$snap"
	# Both print the same result for the same input.
	j=$(conf 1.0.0 "$C1P" eth0 '{"mac": "02:00:00:00:00:b3"}')
	tu ADD "$C1" "$j"
	ours=$(jq -S 'if .dns == {} then del(.dns) else . end' <<<"$OUT")
	tu DEL "$C1" "$j"
	tu ADD "$C1" "$j" "$RTU"
	is "same result as the reference (an empty dns aside)" \
		"$(jq -S 'if .dns == {} then del(.dns) else . end' <<<"$OUT")" "$ours"
	tu DEL "$C1" "$j" "$RTU"
fi

# ---- GC: only this network's backups of attachments that are gone ---------
ctr C3
C3P=$(netns_path "$C3")
# (different MTUs: an ADD that changes nothing writes no backup)
for id in gone:1300 keep:1310; do
	cni_json "$NODE" "$TU" ADD "${id%:*}" "$C3P" eth0 "$(conf 1.1.0 "$C3P" eth0 "{\"mtu\": ${id#*:}}")"
done
cni_json "$NODE" "$TU" ADD other "$C3P" eth0 "$(conf 1.1.0 "$C3P" eth0 '{"mtu": 1320}' | jq -c '.name = "othernet"')"
printf '{"mtu":1500}' >"$DATA/refmade_eth0.json"
cni_json "$NODE" "$TU" GC "" "" "" "$(jq -nc --arg d "$DATA" '{cniVersion: "1.1.0", name: "tunenet",
	type: "tuning", dataDir: $d, "cni.dev/valid-attachments": [{containerID: "keep", ifname: "eth0"}]}')"
is_success "GC"
is "GC removed the gone attachment's backup only" "$(ls "$DATA" | sort | tr '\n' ' ')" \
	"keep_eth0.json other_eth0.json refmade_eth0.json "
rm -f "$DATA"/*.json

ok_if "no backups left" test -z "$(ls -A "$DATA" 2>/dev/null)"
done_testing
