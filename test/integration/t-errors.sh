#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
#
# Failure paths found by review (issue 12), one check each, all in throwaway
# namespaces:
#  - a delegated IPAM plugin that writes without end: ADD fails promptly;
#  - bridge refuses a bad ipam section before it creates the bridge;
#  - host-local refuses a relative dataDir (nothing written to the cwd);
#  - DEL and CHECK with CNI_NETNS = the plugin's own netns are refused
#    (the node's lo stays up, its links stay), CNI_NETNS_OVERRIDE honoured;
#  - EMFILE on the netlink socket is reported as such, not "Protocol error";
#  - tuning: DEL succeeds when a sysctl cannot be written back, restoring
#    the rest; an ADD killed while writing its backup leaves a .tmp file
#    that DEL and GC remove; GC works with the default dataDir (run in a
#    private mount namespace with a tmpfs /run, so the node's /run is
#    never touched).
. "$(dirname "$0")/lib.sh"

BR=$BIN/bridge
TU=$BIN/tuning
HL=$BIN/host-local
LO=$BIN/loopback
for p in "$BR" "$TU" "$HL" "$LO"; do
	[ -x "$p" ] || bail_out "$p not built"
done
require strace

netns_new NODE errnode
netns_new C1 errc1
DATA=$T/data

# ---- a delegate that never stops writing ----------------------------------

FAKE=$T/fakeipam
mkdir -p "$FAKE"
# Writes far past the 8 MiB cap and would block on the pipe forever.
printf '#!/bin/sh\nexec cat /dev/zero\n' >"$FAKE/flood-ipam"
chmod +x "$FAKE/flood-ipam"
brconf()
{
	jq -nc --arg t "$1" --argjson i "${2:-{\}}" '{cniVersion: "1.0.0", name: "errnet",
		type: "bridge", bridge: "cni-err0", ipam: ({type: $t} + $i)}'
}
start=$(date +%s)
CNI_TIMEOUT=30 cni_json "$NODE" "$BR" ADD e1 "$(netns_path "$C1")" eth0 "$(brconf flood-ipam)" \
	"CNI_PATH=$FAKE"
elapsed=$(($(date +%s) - start))
is_error "flooding delegate: ADD fails"
ok_if "flooding delegate: ADD ends in under 20 s (took ${elapsed}s)" test "$elapsed" -lt 20
like "flooding delegate: the cap is named" "$(json_get "$OUT" .msg)" "exceeds"
assert_no_links "$C1"
cni_json "$NODE" "$BR" DEL e1 "$(netns_path "$C1")" eth0 "$(brconf flood-ipam)" "CNI_PATH=$FAKE"
in_ns "$NODE" ip link del cni-err0 2>/dev/null

# ---- bridge validates its ipam section first ------------------------------

no_bridge()
{
	if in_ns "$NODE" ip link show cni-err0 >/dev/null 2>&1; then
		fail "$1: no bridge created" "cni-err0 exists"
		in_ns "$NODE" ip link del cni-err0
	else
		pass "$1: no bridge created"
	fi
}
cni_json "$NODE" "$BR" ADD e2 "$(netns_path "$C1")" eth0 \
	"$(brconf host-local '{"ranges": "198.18.40.0/24"}')"
is_error_json "ipam.ranges a string: refused" 7
no_bridge "ipam.ranges a string"
cni_json "$NODE" "$BR" ADD e2 "$(netns_path "$C1")" eth0 \
	"$(brconf host-local "{\"ranges\": [[{\"subnet\": \"198.18.40.0/24\"}]], \"dataDir\": \"$DATA\\u0000x\"}")"
is_error_json "NUL in ipam.dataDir: refused" 7
no_bridge "NUL in ipam.dataDir"
cni_json "$NODE" "$BR" ADD e2 "$(netns_path "$C1")" eth0 "$(brconf no-such-ipam)"
is_error "ipam type not in CNI_PATH: refused"
like "ipam type not in CNI_PATH: named" "$(json_get "$OUT" .msg)" "no-such-ipam"
no_bridge "ipam type not in CNI_PATH"
assert_no_links "$C1"

# ---- host-local: relative dataDir -----------------------------------------

mkdir -p "$T/cwd"
hlconf='{"cniVersion": "1.0.0", "name": "errrel", "type": "host-local",
	"ipam": {"type": "host-local", "dataDir": "rel/dir", "ranges": [[{"subnet": "198.18.41.0/24"}]]}}'
(cd "$T/cwd" && cni_json - "$HL" ADD e3 "$(netns_path "$C1")" eth0 "$hlconf" && printf '%s\n%s\n' "$RC" "$OUT" >"$T/rel.out")
RC=$(head -1 "$T/rel.out") OUT=$(tail -n +2 "$T/rel.out") ERR=""
is_error_json "host-local: relative dataDir refused" 7
ok_if "host-local: nothing written to the cwd" test -z "$(ls -A "$T/cwd")"

# ---- own netns guard for DEL and CHECK -------------------------------------

loconf='{"cniVersion": "1.0.0", "name": "errlo", "type": "loopback"}'
cni_json "$NODE" "$LO" DEL e4 "$(netns_path "$NODE")" lo "$loconf"
is_error_json "loopback DEL on its own netns: refused" 8
ok_if "loopback DEL on its own netns: node lo still up" \
	bash -c "nsenter --net=$(netns_path "$NODE") ip -o link show lo | grep -q ',UP'"
cni_json "$NODE" "$LO" CHECK e4 "$(netns_path "$NODE")" lo \
	"$(jq -c '. + {prevResult: {cniVersion: "1.0.0", interfaces: [{name: "lo"}]}}' <<<"$loconf")"
is_error_json "loopback CHECK on its own netns: refused" 8
in_ns "$NODE" ip link add errdum0 type veth peer name errdum1
cni_json "$NODE" "$BR" DEL e4 "$(netns_path "$NODE")" errdum0 \
	"$(brconf host-local "{\"ranges\": [[{\"subnet\": \"198.18.42.0/24\"}]], \"dataDir\": \"$DATA\"}")"
is_error_json "bridge DEL on its own netns: refused" 8
ok_if "bridge DEL on its own netns: the node's link is still there" \
	in_ns "$NODE" ip link show errdum0
cni_json "$NODE" "$LO" DEL e4 "$(netns_path "$NODE")" lo "$loconf" CNI_NETNS_OVERRIDE=1
is_success "loopback DEL with CNI_NETNS_OVERRIDE=1: allowed"
in_ns "$NODE" ip link set lo up

# ---- EMFILE on the netlink socket ------------------------------------------

# strace runs the plugin: the socket() calls fail with EMFILE.
cmd=(env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin CNI_COMMAND=ADD CNI_CONTAINERID=e5
	"CNI_NETNS=$(netns_path "$C1")" CNI_IFNAME=lo "CNI_PATH=$BIN"
	strace -f -qq -o /dev/null -e trace=socket -e inject=socket:error=EMFILE "$LO")
RC=0
OUT=$(in_ns "$NODE" "${cmd[@]}" <<<"$loconf" 2>"$T/emfile.err") || RC=$?
ERR=$(<"$T/emfile.err")
is_error "EMFILE on the netlink socket: ADD fails"
like "EMFILE: reported as such" "$(json_get "$OUT" .msg)" "Too many open files"
isnt "EMFILE: not \"Protocol error\"" "$(grep -c 'Protocol error' <<<"$OUT")" 1

# ---- bridge rollback whose own steps fail ------------------------------------

# Every sendmsg from the k-th on fails (ENOBUFS): the failing step and every
# rollback step after it.  Each run must end without a signal, print exactly
# one error JSON, and a plain DEL must then leave nothing.
netns_new C3 errc3
MASQ=$(jq -nc --arg d "$DATA" '{cniVersion: "1.0.0", name: "errmasq", type: "bridge",
	bridge: "cni-err1", isGateway: true, ipMasq: true,
	ipam: {type: "host-local", dataDir: $d, ranges: [[{subnet: "198.18.45.0/24"}]]}}')
printf '%s' "$MASQ" >"$T/masq.json"
envv=(env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin CNI_CONTAINERID=m1 "CNI_NETNS=$(netns_path "$C3")"
	CNI_IFNAME=eth0 "CNI_PATH=$BIN")
in_ns "$NODE" "${envv[@]}" CNI_COMMAND=ADD strace -f -qq -o "$T/masq.trace" -e trace=sendmsg \
	"$BR" <"$T/masq.json" >/dev/null 2>&1
nsend=$(grep -c '^[0-9]* *sendmsg(' "$T/masq.trace")
in_ns "$NODE" "${envv[@]}" CNI_COMMAND=DEL "$BR" <"$T/masq.json" >/dev/null 2>&1
bad=() details=0
for ((k = 1; k <= nsend; k++)); do
	RC=0
	OUT=$(in_ns "$NODE" "${envv[@]}" CNI_COMMAND=ADD strace -f -qq -o /dev/null \
		-e trace=sendmsg -e "inject=sendmsg:error=ENOBUFS:when=$k+" "$BR" <"$T/masq.json" 2>"$T/masq.err") || RC=$?
	ERR=$(<"$T/masq.err")
	if [ "$RC" -ne 0 ] && [ "$RC" -ne 1 ] || grep -q 'killed by SIG' <<<"$ERR"; then
		bad+=("k=$k: rc=$RC $(head -c 200 <<<"$ERR")")
	elif [ "$RC" -eq 1 ] && ! jq -se 'length == 1 and (.[0].code | type == "number")' >/dev/null 2>&1 <<<"$OUT"; then
		bad+=("k=$k: not one error JSON: $(head -c 200 <<<"$OUT")")
	fi
	jq -e '.details // "" | test("then: ")' >/dev/null 2>&1 <<<"$OUT" && details=$((details + 1))
	in_ns "$NODE" "${envv[@]}" CNI_COMMAND=DEL "$BR" <"$T/masq.json" >/dev/null 2>&1 ||
		bad+=("k=$k: DEL failed")
	left=$(links_in "$C3" | grep -vx lo; links_in "$NODE" | grep '^veth'; ipam_files "$DATA/errmasq")
	[ -n "$left" ] && bad+=("k=$k: left $(tr '\n' ' ' <<<"$left")")
done
is "bridge+ipMasq ADD with sendmsg failing from each of its $nsend calls on: no crash, one error, DEL cleans" \
	"${bad[*]:-}" ""
ok_if "... rollback failures are reported in details ($details runs)" test "$details" -gt 0
in_ns "$NODE" ip link del cni-err1 2>/dev/null

# ---- tuning -----------------------------------------------------------------

netns_new C2 errc2
in_ns "$NODE" ip link add errh2 type veth peer name eth0 netns "$C2"
in_ns "$C2" ip link set eth0 up
TDATA=$T/tuning
tuconf()
{
	jq -nc --arg sb "$(netns_path "$C2")" --arg d "$1" --argjson x "${2:-{\}}" '
		{cniVersion: "1.1.0", name: "errtune", type: "tuning",
		 prevResult: {cniVersion: "1.1.0",
			interfaces: [{name: "eth0", mac: "02:00:00:00:00:02", sandbox: $sb}],
			ips: [{address: "198.18.43.2/24", interface: 0}]}} + $x
		 + (if $d == "" then {} else {dataDir: $d} end)'
}
mtu0=$(in_ns "$C2" cat /sys/class/net/eth0/mtu)
conf=$(tuconf "$TDATA" '{"mtu": 1400, "sysctl": {"net.ipv4.ip_unprivileged_port_start": "0"}}')
cni_json "$NODE" "$TU" ADD t1 "$(netns_path "$C2")" eth0 "$conf"
is_success "tuning ADD: unprivileged ports from 0, mtu 1400"
# The pod then widens its local port range below 1024, which the kernel only
# allows while unprivileged ports start at 0: 1024 can never be restored.
in_ns "$C2" sysctl -qw net.ipv4.ip_local_port_range="500 60999"
cni_json "$NODE" "$TU" DEL t1 "$(netns_path "$C2")" eth0 "$conf"
is_success "tuning DEL with an unrestorable sysctl: succeeds"
is "tuning DEL: the mtu is restored all the same" "$(in_ns "$C2" cat /sys/class/net/eth0/mtu)" "$mtu0"
ok_if "tuning DEL: the backup is gone" test ! -e "$TDATA/t1_eth0.json"
like "tuning DEL: what was not restored is said on stderr" "$ERR" "ip_unprivileged_port_start"

# An ADD killed at the rename of its backup leaves the temporary file.
conf=$(tuconf "$TDATA" '{"mtu": 1300}')
# shellcheck disable=SC2054 # strace's syscall list
cmd=(env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin CNI_COMMAND=ADD CNI_CONTAINERID=t2
	"CNI_NETNS=$(netns_path "$C2")" CNI_IFNAME=eth0 "CNI_PATH=$BIN"
	strace -f -qq -o /dev/null -e trace=rename,renameat,renameat2
	-e inject=rename,renameat,renameat2:signal=KILL "$TU")
in_ns "$NODE" "${cmd[@]}" <<<"$conf" >/dev/null 2>&1
ok_if "tuning ADD killed at the rename: a .tmp backup is left" \
	bash -c "ls '$TDATA' | grep -q '^t2_eth0.json.tmp.'"
cni_json "$NODE" "$TU" DEL t2 "$(netns_path "$C2")" eth0 "$conf"
is_success "tuning DEL after the killed ADD"
ok_if "tuning DEL removed the .tmp backup" bash -c "! ls '$TDATA' | grep -q '^t2_eth0'"
# GC: a dead writer's temporary file of any attachment goes.
in_ns "$NODE" "${cmd[@]}" <<<"$conf" >/dev/null 2>&1
cni_json "$NODE" "$TU" GC "" "" "" "$(jq -c '. + {"cni.dev/valid-attachments": []}' <<<"$conf")"
is_success "tuning GC"
ok_if "tuning GC removed the dead writer's .tmp backup" bash -c "! ls '$TDATA' | grep -q '^t2_eth0'"
in_ns "$C2" ip link set eth0 mtu "$mtu0"

# GC with the default dataDir (/run/cni/tuning), in a private mount namespace
# whose /run is a tmpfs (the netns files bound back in).
conf=$(tuconf "" '{"mtu": 1350}')
gcconf=$(jq -c '. + {"cni.dev/valid-attachments": []}' <<<"$conf")
printf '%s' "$conf" >"$T/gc-add.json"
printf '%s' "$gcconf" >"$T/gc-gc.json"
mkdir -p "$T/netns-keep"
cat >"$T/gc.sh" <<EOF
set -e
mount --rbind /run/netns "$T/netns-keep"
mount -t tmpfs tmpfs /run
mkdir /run/netns
mount --rbind "$T/netns-keep" /run/netns
run() { nsenter --net=/run/netns/$NODE env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin CNI_COMMAND=\$1 \
	CNI_CONTAINERID=t3 CNI_NETNS=$(netns_path "$C2") CNI_IFNAME=eth0 CNI_PATH=$BIN $TU <"\$2"; }
run ADD "$T/gc-add.json" >/dev/null
test -e /run/cni/tuning/t3_eth0.json || { echo "no backup after ADD"; exit 2; }
env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin CNI_COMMAND=GC CNI_PATH=$BIN $TU <"$T/gc-gc.json"
test ! -e /run/cni/tuning/t3_eth0.json || { echo "backup kept by GC"; exit 3; }
EOF
RC=0
OUT=$(unshare --mount --propagation private bash "$T/gc.sh" 2>&1) || RC=$?
is "tuning GC with the default dataDir removes a stale backup" "$RC" 0
[ "$RC" -eq 0 ] || diag "$OUT"
in_ns "$C2" ip link set eth0 mtu "$mtu0"

done_testing
