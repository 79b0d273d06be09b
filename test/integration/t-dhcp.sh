#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
#
# dhcp IPAM end to end against a real DHCP server.  A "node" netns runs the
# daemon and the interface plugins; its bridge br0 reaches SRV, a netns where
# dnsmasq serves 198.18.50.0/24 (2-minute leases, dnsmasq's minimum, with
# T1/T2 of a few seconds so renewals happen during the test).  macvlan
# containers hang off m0, a veth whose peer is a port of br0; bridge
# containers are veths on br0 itself.  Covered: macvlan + dhcp and bridge +
# dhcp (result, address, traffic, dnsmasq's lease), CHECK (live, address
# removed), idempotent ADD, a renewal observed, the daemon restarted while
# leases are live (reloaded, same addresses, renewals go on), DEL releasing
# (dnsmasq's lease file), also after the netns is gone, N containers in
# parallel (DHCP_PARALLEL, default 50), the server stopped (clean error in
# bounded time, nothing left), bad options, no daemon, hostile requests on
# the daemon's socket.  Runs in about 30 s.
. "$(dirname "$0")/lib.sh"

DHCP=$BIN/dhcp
MV=$BIN/macvlan
BR=$BIN/bridge
SOCK=$T/dhcp.sock
STATE=$T/state
LEASES=$T/dnsmasq.leases
DLOG=$T/daemon.log
NPAR=${DHCP_PARALLEL:-50}

[ -x "$DHCP" ] && [ -x "$MV" ] && [ -x "$BR" ] || bail_out "plugins not built"
require dnsmasq busybox python3

netns_new NODE dhnode
netns_new SRV dhsrv
in_ns "$NODE" ip link add br0 type bridge &&
	in_ns "$NODE" ip link set br0 up &&
	in_ns "$NODE" ip link add s0 type veth peer name srv0 netns "$SRV" &&
	in_ns "$NODE" ip link set s0 master br0 up &&
	in_ns "$SRV" ip link set srv0 up &&
	in_ns "$SRV" ip addr add 198.18.50.1/24 dev srv0 &&
	in_ns "$NODE" ip link add m0 type veth peer name m0p &&
	in_ns "$NODE" ip link set m0p master br0 up &&
	in_ns "$NODE" ip link set m0 up || bail_out "cannot build the segment"
NODE_LINKS=$(links_in "$NODE" | sort)

# --log-dhcp (option-level logging, for the provide/request checks) slows
# dnsmasq down enough to matter with hundreds of clients: long runs go without
LOG_DHCP=--log-dhcp
[ "$NPAR" -gt 50 ] && LOG_DHCP=--quiet-dhcp6
DNSMASQ_PID=""
start_dnsmasq()
{
	# --no-ping: dnsmasq otherwise pings each address for 3 s before offering it
	nsenter --net="/run/netns/$SRV" dnsmasq -k --conf-file=/dev/null --port=0 --no-hosts --no-resolv \
		--interface=srv0 --bind-interfaces --dhcp-authoritative --no-ping \
		--dhcp-range=198.18.50.10,198.18.50.250,255.255.255.0,2m --dhcp-lease-max=1000 \
		--dhcp-option=option:router,198.18.50.1 \
		--dhcp-option=option:T1,4 --dhcp-option=option:T2,8 \
		--dhcp-leasefile="$LEASES" --pid-file= --user=root --group=root \
		$LOG_DHCP --log-facility="$T/dnsmasq.log" 2>>"$T/dnsmasq.err" &
	DNSMASQ_PID=$!
	register_pid "$DNSMASQ_PID"
	wait_for "dnsmasq listening" 10 sh -c "nsenter --net=/run/netns/$SRV ss -Hlun | grep -q ':67 '" ||
		bail_out "dnsmasq did not start: $(cat "$T/dnsmasq.err")"
}

DPID=""
start_daemon()
{
	# nsenter execs the daemon: $! is its pid
	nsenter --net="/run/netns/$NODE" "$DHCP" daemon -socketpath "$SOCK" -statedir "$STATE" -pidfile "$T/dhcp.pid" \
		-resendtimeout "${DHCP_RESENDTIMEOUT:-20s}" "$@" 2>>"$DLOG" &
	DPID=$!
	register_pid "$DPID"
	wait_for "daemon socket" 10 test -S "$SOCK" || bail_out "daemon did not start: $(cat "$DLOG")"
}

stop_daemon()
{
	kill "$DPID"
	wait_for "daemon exit" 10 sh -c "! kill -0 $DPID" || kill -KILL "$DPID"
	wait "$DPID" 2>/dev/null
}

IPAM=$(jq -nc --arg s "$SOCK" '{type: "dhcp", daemonSocketPath: $s}')
mvconf()
{
	jq -nc --argjson ipam "${1:-$IPAM}" \
		'{cniVersion: "1.0.0", name: "dnet", type: "macvlan", master: "m0", ipam: $ipam}'
}
brconf()
{
	jq -nc --argjson ipam "$IPAM" \
		'{cniVersion: "1.0.0", name: "dbr", type: "bridge", bridge: "br0", ipam: $ipam}'
}
# with_prev CONF RESULT: CONF with prevResult (for CHECK)
with_prev()
{
	jq -c --argjson r "$2" '. + {prevResult: $r}' <<<"$1"
}
mv()
{
	cni_json "$NODE" "$MV" "$1" "$2" "$3" eth0 "${4:-$(mvconf)}"
}
br()
{
	cni_json "$NODE" "$BR" "$1" "$2" "$3" eth0 "${4:-$(brconf)}"
}
# dh VERB CID NETNS_PATH: the dhcp plugin itself, as an interface plugin execs it
dh()
{
	cni_json "$NODE" "$DHCP" "$1" "$2" "$3" eth0 "$(mvconf)"
}
addr_of()
{
	json_get "$1" '.ips[0].address' | cut -d/ -f1
}
# in_leases IP: dnsmasq holds a lease for IP
in_leases()
{
	awk '{print $3}' "$LEASES" 2>/dev/null | grep -qxF "$1"
}
acks_for()
{
	grep -c "DHCPACK(srv0) $1 " "$T/dnsmasq.log" 2>/dev/null || true
}

# DHCP_KEEP_LOGS=DIR: keep the daemon's and dnsmasq's logs there (debugging)
[ -n "${DHCP_KEEP_LOGS:-}" ] && at_exit "cp '$DLOG' '$T/dnsmasq.log' '$DHCP_KEEP_LOGS/'"
start_dnsmasq
start_daemon

# ---- macvlan + dhcp -------------------------------------------------------
netns_new C1 dhc
mv ADD c1 "$(netns_path "$C1")"
is_success "macvlan + dhcp: ADD"
R1=$OUT
IP1=$(addr_of "$R1")
like "ADD: an address from the server's range" "$(json_get "$R1" '.ips[0].address')" '^198\.18\.50\.[0-9]+/24$'
is "ADD: the server's router is the gateway" "$(json_get "$R1" '.ips[0].gateway')" 198.18.50.1
is "ADD: a default route via the gateway" "$(json_get "$R1" '[.routes[] | "\(.dst) \(.gw)"] | join(",")')" "0.0.0.0/0 198.18.50.1"
is "the address is on eth0" "$(in_ns "$C1" ip -j -4 addr show eth0 | jq -r '.[0].addr_info[0].local')" "$IP1"
ok_if "container reaches the server" in_ns "$C1" busybox ping -c 1 -W 2 198.18.50.1
ok_if "dnsmasq holds the lease" in_leases "$IP1"
ok_if "dnsmasq saw our client ID <cid>/<net>/<ifname>" \
	grep -q "$(printf 'c1/dnet/eth0' | od -An -tx1 | tr -s ' \n' ':' | sed 's/^://; s/:$//')" "$LEASES"
is "one state file" "$(find "$STATE" -name '*.lease' | wc -l)" 1
is "state file mode 0600" "$(file_mode "$(find "$STATE" -name '*.lease')")" 600

dh ADD c1 "$(netns_path "$C1")"
is "IPAM ADD again: same address (the daemon's lease)" "$(addr_of "$OUT")" "$IP1"
mv CHECK c1 "$(netns_path "$C1")" "$(with_prev "$(mvconf)" "$R1")"
is_success "CHECK: lease live, address on eth0"

# ---- bridge + dhcp --------------------------------------------------------
netns_new C2 dhc
br ADD c2 "$(netns_path "$C2")"
is_success "bridge + dhcp: ADD"
R2=$OUT
IP2=$(addr_of "$R2")
like "bridge: an address from the range" "$IP2" '^198\.18\.50\.[0-9]+$'
isnt "bridge: another address than c1's" "$IP2" "$IP1"
ok_if "bridge container reaches the server" in_ns "$C2" busybox ping -c 1 -W 2 198.18.50.1
br CHECK c2 "$(netns_path "$C2")" "$(with_prev "$(brconf)" "$R2")"
is_success "bridge: CHECK"

# ---- renewal --------------------------------------------------------------
n0=$(acks_for "$IP1")
ok_if "a renewal of c1's lease within 15 s (T1 = 4 s)" wait_for "renewal" 15 sh -c "[ \$(grep -c 'DHCPACK(srv0) $IP1 ' '$T/dnsmasq.log') -gt $n0 ]"
ok_if "the daemon logged the renewal" grep -q "c1/dnet/eth0: renewing lease $IP1" "$DLOG"

# ---- restart with live leases --------------------------------------------
# SIGKILL, as a crash: no clean-up runs, the socket file stays behind
{
	kill -KILL "$DPID"
	wait "$DPID"
} 2>/dev/null
ok_if "the killed daemon's leases stay with the server" in_leases "$IP1"
is "state files kept over the restart" "$(find "$STATE" -name '*.lease' | wc -l)" 2
start_daemon
ok_if "restart: both leases reloaded" wait_for "reload" 5 grep -q "(2 leases reloaded)" "$DLOG"
mv CHECK c1 "$(netns_path "$C1")" "$(with_prev "$(mvconf)" "$R1")"
is_success "restart: CHECK of c1 passes"
dh ADD c1 "$(netns_path "$C1")"
is "restart: IPAM ADD again gives the same address" "$(addr_of "$OUT")" "$IP1"
n0=$(acks_for "$IP2")
ok_if "restart: renewals go on (c2's lease renewed within 15 s)" wait_for "renewal after restart" 15 sh -c "[ \$(grep -c 'DHCPACK(srv0) $IP2 ' '$T/dnsmasq.log') -gt $n0 ]"

# ---- CHECK catches a missing address --------------------------------------
in_ns "$C1" ip addr del "$IP1/24" dev eth0
mv CHECK c1 "$(netns_path "$C1")" "$(with_prev "$(mvconf)" "$R1")"
is_error "CHECK fails when the address is gone from eth0"
like "CHECK names the address" "$(json_get "$OUT" .msg)" "$IP1"
in_ns "$C1" ip addr add "$IP1/24" dev eth0

# ---- DEL releases -----------------------------------------------------------
mv DEL c1 "$(netns_path "$C1")"
is_success "macvlan DEL"
ok_if "DEL released c1's lease (gone from dnsmasq's file)" wait_for "release" 5 sh -c "! awk '{print \$3}' '$LEASES' | grep -qxF '$IP1'"
mv DEL c1 "$(netns_path "$C1")"
is_success "DEL again is a no-op"
mv CHECK c1 "$(netns_path "$C1")" "$(with_prev "$(mvconf)" "$R1")"
is_error "CHECK after DEL: no lease"

netns_del "$C2"
br DEL c2 "$(netns_path "$C2")"
is_success "bridge DEL with the netns gone"
ok_if "DEL without the netns still released c2's lease" wait_for "release" 5 sh -c "! awk '{print \$3}' '$LEASES' | grep -qxF '$IP2'"
is "no state file left" "$(find "$STATE" -type f | wc -l)" 0

# ---- N containers in parallel ---------------------------------------------
PCONF=$T/p.json
mvconf >"$PCONF"
declare -a PNS=()
for ((i = 0; i < NPAR; i++)); do
	netns_new "PNS[$i]" dhp
done
t0=$(date +%s%N)
jobs_=()
for ((i = 0; i < NPAR; i++)); do
	(
		in_ns "$NODE" env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin CNI_COMMAND=ADD CNI_CONTAINERID="p$i" \
			CNI_NETNS="/run/netns/${PNS[$i]}" CNI_IFNAME=eth0 CNI_PATH="$BIN" \
			timeout 120 "$MV" <"$PCONF" >"$T/p$i.out" 2>"$T/p$i.err"
		echo $? >"$T/p$i.rc"
	) &
	jobs_+=($!)
done
wait "${jobs_[@]}"
t1=$(date +%s%N)
ok=0
for ((i = 0; i < NPAR; i++)); do
	[ "$(cat "$T/p$i.rc")" == 0 ] && ok=$((ok + 1))
done
is "$NPAR parallel ADDs succeed" "$ok" "$NPAR"
for ((i = 0; i < NPAR; i++)); do
	if [ "$(cat "$T/p$i.rc")" != 0 ]; then
		diag "first failure (p$i): $(head -c 600 "$T/p$i.out") $(head -c 300 "$T/p$i.err")"
		break
	fi
done
diag "$NPAR parallel macvlan + dhcp ADDs: $(((t1 - t0) / 1000000)) ms"
is "$NPAR distinct addresses" "$(cat "$T"/p*.out | jq -r '.ips[0].address' | sort -u | wc -l)" "$NPAR"
# dnsmasq rewrites its lease file after the fact
ok_if "dnsmasq holds $NPAR leases" wait_for "lease file" 10 sh -c "[ \$(wc -l <'$LEASES') -eq $NPAR ]"
is "$NPAR state files" "$(find "$STATE" -name '*.lease' | wc -l)" "$NPAR"
rel0=$(grep -c ': released ' "$DLOG")
jobs_=()
for ((i = 0; i < NPAR; i++)); do
	(
		in_ns "$NODE" env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin CNI_COMMAND=DEL CNI_CONTAINERID="p$i" \
			CNI_NETNS="/run/netns/${PNS[$i]}" CNI_IFNAME=eth0 CNI_PATH="$BIN" \
			timeout 60 "$MV" <"$PCONF" >/dev/null 2>&1
		echo $? >"$T/p$i.rc"
	) &
	jobs_+=($!)
	# 50 at a time: DHCPRELEASE is never answered nor resent (RFC 2131), and
	# a burst of hundreds overflows dnsmasq's UDP socket buffer
	if [ $(((i + 1) % 50)) == 0 ]; then
		wait "${jobs_[@]}"
		jobs_=()
	fi
done
[ ${#jobs_[@]} -gt 0 ] && wait "${jobs_[@]}"
ok=0
for ((i = 0; i < NPAR; i++)); do
	[ "$(cat "$T/p$i.rc")" == 0 ] && ok=$((ok + 1))
done
is "$NPAR parallel DELs succeed" "$ok" "$NPAR"
n0=$(($(grep -c ': released ' "$DLOG") - rel0))
if [ "$NPAR" -le 50 ]; then
	ok_if "every lease released" wait_for "releases" 10 sh -c "[ ! -s '$LEASES' ]"
else
	# hundreds of releases at once: what the server keeps depends on its socket
	# buffer (see the drops below), so only the sending is asserted
	wait_for "releases" 10 sh -c "[ ! -s '$LEASES' ]"
	ok_if "a DHCPRELEASE sent for every lease" test "$n0" -ge "$NPAR"
	diag "leases the server still holds: $(wc -l <"$LEASES")"
fi
diag "server's UDP receive-buffer drops: $(in_ns "$SRV" nstat -az UdpRcvbufErrors 2>/dev/null | awk '/UdpRcvbufErrors/ {print $2}')"
is "no state file left after the DELs" "$(find "$STATE" -type f | wc -l)" 0
for ((i = 0; i < NPAR; i++)); do
	netns_del "${PNS[$i]}"
done

# ---- bad input, no daemon -------------------------------------------------
netns_new C3 dhc
mv ADD c3 "$(netns_path "$C3")" "$(mvconf "$(jq -c '. + {provide: [{option: "bogus", value: "x"}]}' <<<"$IPAM")")"
is_error_json "provide with an unknown option name: code 7" 7
mv ADD c3 "$(netns_path "$C3")" "$(mvconf "$(jq -c '. + {request: [{option: "255"}]}' <<<"$IPAM")")"
is_error_json "request of option 255 (end): code 7" 7
mv ADD c3 "$(netns_path "$C3")" "$(mvconf "$(jq -c --arg v "$(printf 'x%.0s' {1..256})" '. + {provide: [{option: "host-name", value: $v}]}' <<<"$IPAM")")"
is_error_json "provide value over 255 bytes: code 7" 7
mv ADD c3 "$(netns_path "$C3")" "$(mvconf '{"type": "dhcp", "daemonSocketPath": "/nonexistent/dhcp.sock"}')"
is_error_json "no daemon: code 11" 11
like "no daemon: the message says so" "$(json_get "$OUT" .msg)" "error dialing DHCP daemon"
assert_no_links "$C3"

# provide / request reach the server
mv ADD c3 "$(netns_path "$C3")" "$(mvconf "$(jq -c '. + {provide: [{option: "host-name", value: "box-c3"}], request: [{option: "42"}]}' <<<"$IPAM")")"
is_success "ADD with provide host-name and request 42"
ok_if "dnsmasq saw host-name box-c3" grep -q "box-c3" "$T/dnsmasq.log"
if [ "$LOG_DHCP" == --log-dhcp ]; then
	ok_if "dnsmasq saw option 42 requested" grep -qE "requested options: .*42" "$T/dnsmasq.log"
fi
mv DEL c3 "$(netns_path "$C3")"

# hostile requests on the socket: the daemon answers or drops them, and lives on
hostile()
{
	python3 - "$SOCK" "$1" <<'PY'
import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.connect(sys.argv[1])
try:
    s.sendall(sys.argv[2].encode() if sys.argv[2] != "BIG" else b"{" * (70 * 1024))
    s.shutdown(socket.SHUT_WR)
except OSError:
    pass
s.settimeout(5)
print(s.recv(65536).decode(errors="replace"))
PY
}
like "garbage: decode error" "$(hostile 'not json')" '"code":6'
like "oversized request: refused" "$(hostile BIG)" '"code":6|^$'
like "relative netns path: refused" "$(hostile '{"cmd":"add","containerID":"x","netName":"n","ifName":"eth0","netns":"../../proc/1/ns/net"}')" '"code":4'
like "container ID with a slash: refused" "$(hostile '{"cmd":"del","containerID":"../x","netName":"n","ifName":"eth0","netns":""}')" '"code":4'
like "option code 300: refused" "$(hostile '{"cmd":"add","containerID":"x","netName":"n","ifName":"eth0","netns":"/run/netns/x","request":[300]}')" '"code":7'
like "a file that is not a netns: refused" "$(hostile "{\"cmd\":\"add\",\"containerID\":\"x\",\"netName\":\"n\",\"ifName\":\"eth0\",\"netns\":\"$DLOG\"}")" '"code":4'
ok_if "the daemon is still alive" kill -0 "$DPID"

# ---- systemd socket activation (LISTEN_FDS) --------------------------------
stop_daemon
ASOCK=$T/act.sock
python3 - "$ASOCK" "$NODE" "$DHCP" "$STATE" 2>>"$DLOG" <<'PY' &
import os, socket, sys
path, node, dhcp, state = sys.argv[1:5]
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.bind(path)
s.listen(16)
os.dup2(s.fileno(), 3)
os.set_inheritable(3, True)
os.environ.update(LISTEN_FDS="1", LISTEN_PID=str(os.getpid()))
# setns-free: the netns is entered by nsenter, which keeps fds and pid via exec
os.execvp("nsenter", ["nsenter", "--net=/run/netns/" + node, dhcp, "daemon",
                      "-socketpath", "/nonexistent/unused.sock", "-statedir", state,
                      "-resendtimeout", "5s"])
PY
DPID=$!
register_pid "$DPID"
wait_for "activated daemon" 10 grep -q "listening on an activated socket" "$DLOG"
ok_if "socket activation: the daemon uses the passed socket" grep -q "listening on an activated socket" "$DLOG"
netns_new C4 dhc
mv ADD c4 "$(netns_path "$C4")" "$(mvconf "$(jq -nc --arg s "$ASOCK" '{type: "dhcp", daemonSocketPath: $s}')")"
is_success "socket activation: ADD through the activated socket"
mv DEL c4 "$(netns_path "$C4")" "$(mvconf "$(jq -nc --arg s "$ASOCK" '{type: "dhcp", daemonSocketPath: $s}')")"
is_success "socket activation: DEL"
stop_daemon
ok_if "socket activation: the daemon leaves the socket to systemd" test -S "$ASOCK"
start_daemon -resendtimeout 5s

# ---- server stopped: clean error in bounded time ---------------------------
kill "$DNSMASQ_PID"
wait_for "dnsmasq exit" 10 sh -c "! kill -0 $DNSMASQ_PID"
t0=$(date +%s)
mv ADD c3 "$(netns_path "$C3")"
t1=$(date +%s)
is_error_json "server stopped: ADD fails with code 11" 11
like "server stopped: the message says no server answered" "$(json_get "$OUT" .msg)" "no DHCP server answered on eth0"
ok_if "server stopped: the error came within 9 s (-resendtimeout 5s), took $((t1 - t0)) s" test $((t1 - t0)) -le 9
assert_no_links "$C3"
is "server stopped: no state file" "$(find "$STATE" -type f | wc -l)" 0
mv DEL c3 "$(netns_path "$C3")"
is_success "DEL after the failed ADD"

stop_daemon
ok_if "the daemon removed its socket and pidfile" test ! -e "$SOCK" -a ! -e "$T/dhcp.pid"
ok_if "no sanitizer report from the daemon (SANITIZE=1 builds)" sh -c "! grep -E 'AddressSanitizer|LeakSanitizer|runtime error' '$DLOG'"
is "node links as before" "$(links_in "$NODE" | sort | tr '\n' ' ')" "$(tr '\n' ' ' <<<"$NODE_LINKS")"
done_testing
