#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
#
# Crash and I/O faults in host-local and loopback, injected with strace:
#  - kill -9 at every syscall boundary of an ADD, then DEL: no reservation,
#    temporary or torn file survives and the lock is free; the same for a
#    DEL killed at every boundary and repeated;
#  - ENOSPC and EIO at every store syscall of an ADD (and DEL's unlink):
#    a clean error JSON (or success when the fault hit a tolerated call),
#    nothing half-written, nothing reserved by a failed ADD;
#  - a plugin stopped while holding the lock (a stale holder): others get
#    code 11 after a bounded wait, and go through once it is killed;
#  - loopback killed at every boundary of ADD and DEL, then DEL: lo is down.
# The sweeps list the syscalls of one warm-state call (strace -o) and then
# inject at each (syscall, occurrence) pair: strace counts "when=N" per
# syscall and process, so this covers every boundary exactly once.
. "$(dirname "$0")/lib.sh"

# The sweeps need the plugins' own syscalls: memcheck would change them all (and
# every other test already runs under it with VALGRIND=1).
[ "${VALGRIND:-0}" == 1 ] && skip_all "crash-fault sweeps do not run under valgrind"

# A private copy of the plugins: a rebuild while the test runs must not swap them underneath.
mkdir -p "$T/bin" && cp -p "$BIN"/* "$T/bin/" 2>/dev/null
BIN=$T/bin

require strace
HL=$BIN/host-local
LO=$BIN/loopback
DATA=$T/ipam
[ -x "$HL" ] || bail_out "$HL not built"

netns_new NODE node
netns_new CTR ctr
CNS=$(netns_path "$CTR")
SYSPATH="PATH=/usr/sbin:/usr/bin:/sbin:/bin"

jq -n --arg d "$DATA" '{cniVersion: "1.0.0", name: "crash", type: "host-local",
	ipam: {type: "host-local", dataDir: $d,
	       ranges: [[{subnet: "198.18.60.0/24"}], [{subnet: "2001:db8:60::/64"}]]}}' >"$T/hl.json"
NETDIR=$DATA/crash

# call PLUGIN VERB CID CONF STRACE_ARGS... : run PLUGIN in the node netns under
# strace with the given injection; sets RC, OUT, ERR.  No valgrind here: the
# syscall sequence must be the plugin's own.
call()
{
	local plugin=$1 verb=$2 cid=$3 conf=$4
	shift 4
	RC=0
	in_ns "$NODE" env -i "$SYSPATH" CNI_COMMAND="$verb" CNI_CONTAINERID="$cid" CNI_NETNS="$CNS" \
		CNI_IFNAME=eth0 CNI_PATH="$BIN" timeout -k 2 20 strace -qq -o /dev/null "$@" "$plugin" \
		<"$conf" >"$T/out" 2>"$T/err" || RC=$?
	OUT=$(<"$T/out")
	ERR=$(<"$T/err")
}

# plain PLUGIN VERB CID CONF: the same without faults (and without strace).
plain()
{
	local plugin=$1 verb=$2 cid=$3 conf=$4
	RC=0
	in_ns "$NODE" env -i "$SYSPATH" CNI_COMMAND="$verb" CNI_CONTAINERID="$cid" CNI_NETNS="$CNS" \
		CNI_IFNAME=eth0 CNI_PATH="$BIN" timeout -k 2 20 "$plugin" <"$conf" >"$T/out" 2>"$T/err" || RC=$?
	OUT=$(<"$T/out")
	ERR=$(<"$T/err")
}

# syscalls PLUGIN VERB CID CONF: "name k" for every syscall of one call, k
# being its occurrence number for that name (what strace's when= counts).
syscalls()
{
	local plugin=$1 verb=$2 cid=$3 conf=$4
	in_ns "$NODE" env -i "$SYSPATH" CNI_COMMAND="$verb" CNI_CONTAINERID="$cid" CNI_NETNS="$CNS" \
		CNI_IFNAME=eth0 CNI_PATH="$BIN" strace -qq -o "$T/trace" "$plugin" <"$conf" >"$T/out" 2>"$T/err"
	# The execve is strace's own child becoming the plugin: not injectable, not ours.
	sed -nE 's/^([a-z_0-9]+)\(.*/\1/p' "$T/trace" | awk '{ k = ++n[$1] } $1 != "execve" { print $1, k }'
}

# store_problems CID: what is wrong in the network dir: torn or foreign
# content in a reservation of CID, temporaries left, the lock held.
store_problems()
{
	local cid=$1 f
	[ -d "$NETDIR" ] || return 0
	for f in $(ipam_files "$NETDIR"); do
		case $f in
		.cnic-tmp.*) echo "temporary $f left" ;;
		*) cmp -s "$NETDIR/$f" <(printf '%s\r\neth0' "$cid") || echo "reservation $f holds '$(head -c 40 "$NETDIR/$f" | tr '\r\n' '  ')'" ;;
		esac
	done
	if [ -e "$NETDIR/lock" ] && ! flock -n -w 0 "$NETDIR/lock" true; then
		echo "lock still held"
	fi
}

# hints_left: anything of the old hint layout (<dataDir>/.cnic/), which is
# never made now.  The hints and boot marker in the network dir are in
# ipam_leftovers's list, so "left" above covers them.
hints_left()
{
	[ -e "$DATA/.cnic" ] && find "$DATA/.cnic" -printf '%P ' 2>/dev/null
	return 0
}

killed() { [ "$RC" -eq 137 ] || grep -q 'killed by SIGKILL' <<<"$ERR" || [ "$RC" -ge 128 ]; }

# ---- host-local: kill -9 at every syscall of ADD, then DEL -------------------------

# Warm state: the network dir exists, as in the sweep's steady state.
plain "$HL" ADD warm "$T/hl.json"
plain "$HL" DEL warm "$T/hl.json"
mapfile -t ADD_SC < <(syscalls "$HL" ADD trace "$T/hl.json")
cp "$T/trace" "$T/add.trace"
plain "$HL" DEL trace "$T/hl.json"
diag "host-local ADD makes ${#ADD_SC[@]} syscalls"
ok_if "host-local ADD syscalls listed" test "${#ADD_SC[@]}" -gt 20

n=0 bad=() notkilled=0
for sc in "${ADD_SC[@]}"; do
	set -- $sc
	n=$((n + 1))
	cid="k-$n"
	call "$HL" ADD "$cid" "$T/hl.json" -e "inject=$1:signal=KILL:when=$2"
	killed || { notkilled=$((notkilled + 1)); diag "not killed at $1#$2 (rc=$RC)"; }
	p=$(store_problems "$cid")
	[ -n "$p" ] && bad+=("kill at $1#$2, before DEL: $p")
	plain "$HL" DEL "$cid" "$T/hl.json"
	[ "$RC" -eq 0 ] || bad+=("kill at $1#$2: DEL failed rc=$RC $OUT")
	left=$(ipam_leftovers "$NETDIR")
	[ -n "$left" ] && bad+=("kill at $1#$2, after DEL: left $(tr '\n' ' ' <<<"$left")")
	p=$(store_problems "$cid")
	[ -n "$p" ] && bad+=("kill at $1#$2, after DEL: $p")
	h=$(hints_left)
	[ -n "$h" ] && bad+=("kill at $1#$2, after DEL: hint files $h")
done
is "ADD killed at each of its $n syscall boundaries, then DEL: nothing left" "${bad[*]:-}" ""
is "... every injected kill landed" "$notkilled" 0
plain "$HL" ADD after-kills "$T/hl.json"
is_success "ADD works after the kill sweep"
plain "$HL" DEL after-kills "$T/hl.json"
FAULTS=$n

# ---- host-local: kill -9 at every syscall of DEL, then DEL again ------------------------

plain "$HL" ADD dtrace "$T/hl.json"
mapfile -t DEL_SC < <(syscalls "$HL" DEL dtrace "$T/hl.json")
diag "host-local DEL makes ${#DEL_SC[@]} syscalls"
n=0 bad=() notkilled=0
for sc in "${DEL_SC[@]}"; do
	set -- $sc
	n=$((n + 1))
	cid="d-$n"
	plain "$HL" ADD "$cid" "$T/hl.json"
	call "$HL" DEL "$cid" "$T/hl.json" -e "inject=$1:signal=KILL:when=$2"
	killed || { notkilled=$((notkilled + 1)); diag "not killed at $1#$2 (rc=$RC)"; }
	p=$(store_problems "$cid")
	[ -n "$p" ] && bad+=("kill at $1#$2, before 2nd DEL: $p")
	plain "$HL" DEL "$cid" "$T/hl.json"
	[ "$RC" -eq 0 ] || bad+=("kill at $1#$2: 2nd DEL failed rc=$RC $OUT")
	left=$(ipam_leftovers "$NETDIR")
	[ -n "$left" ] && bad+=("kill at $1#$2, after 2nd DEL: left $(tr '\n' ' ' <<<"$left")")
	h=$(hints_left)
	[ -n "$h" ] && bad+=("kill at $1#$2, after 2nd DEL: hint files $h")
done
is "DEL killed at each of its $n syscall boundaries, then DEL: nothing left" "${bad[*]:-}" ""
is "... every injected kill landed" "$notkilled" 0
FAULTS=$((FAULTS + n))

# ---- host-local: ENOSPC and EIO on every store syscall of ADD --------------------------

# Syscalls touching the data dir; stdout's write is covered separately.
store_sc=()
for sc in "${ADD_SC[@]}"; do
	set -- $sc
	case $1 in
	openat | mkdir | mkdirat | linkat | pwrite64 | ftruncate | flock | getdents64 | lseek | newfstatat | unlinkat | fsync | fdatasync) store_sc+=("$sc") ;;
	write) store_sc+=("$sc") ;;
	esac
done
# The calls that make a reservation (its O_TMPFILE, the owner write, the link
# under the address) may never be tolerated: a fault there must fail the ADD.
# (Hints, .cnic-hint.<hex>, are written the same way but are best effort:
# only the temporary whose content is exactly the owner, and links named by
# an address, count.)
declare -A critical=()
tmpfile=""
while read -r name k line; do
	case $line in
	*O_TMPFILE*) tmpfile=$name#$k ;;
	'write('*'"trace\r\neth0", 11)'*)
		critical[$name#$k]=1
		[ -n "$tmpfile" ] && critical[$tmpfile]=1
		;;
	'linkat('*'".cnic-hint.'*) ;;
	'linkat('*'"", '*'"'*[.:]*'", AT_EMPTY_PATH)'*) critical[$name#$k]=1 ;;
	esac
done < <(awk -F'(' '{ n = $1; k[n]++; print n, k[n], $0 }' "$T/add.trace")
n=0 bad=() failed_clean=0 tolerated=0 tol_list=()
for sc in "${store_sc[@]}"; do
	set -- $sc
	for e in ENOSPC EIO; do
		n=$((n + 1))
		cid="e-$n"
		call "$HL" ADD "$cid" "$T/hl.json" -e "inject=$1:error=$e:when=$2"
		if crashed || [ "$RC" -gt 1 ]; then
			bad+=("$e at $1#$2: crashed rc=$RC $(head -c 200 <<<"$ERR")")
		elif [ "$RC" -eq 0 ]; then
			# The fault hit a call the plugin may tolerate: then the ADD is complete.
			tolerated=$((tolerated + 1))
			tol_list+=("$1#$2")
			[ -n "${critical[$1#$2]:-}" ] && bad+=("$e at $1#$2 (writes the reservation) was ignored")
			[ "$(ipam_files "$NETDIR" | wc -l)" -eq 2 ] || bad+=("$e at $1#$2: success without two reservations")
			jq -e '.ips | length == 2' >/dev/null 2>&1 <<<"$OUT" || bad+=("$e at $1#$2: success, bad result")
		elif [ -z "$OUT" ] && [ "$1" == write ] && sed -n '/^write(/p' "$T/add.trace" | sed -n "$2p" | grep -q '^write(1,'; then
			# The result itself could not be written: the runtime sees a failure and DELs.
			tolerated=$((tolerated + 1))
		elif ! jq -e '(.code | type == "number") and (.msg | length > 0)' >/dev/null 2>&1 <<<"$OUT"; then
			bad+=("$e at $1#$2: rc=$RC without error JSON: $(head -c 200 <<<"$OUT")")
		else
			failed_clean=$((failed_clean + 1))
			left=$(ipam_files "$NETDIR")
			[ -n "$left" ] && bad+=("$e at $1#$2: failed ADD left $(tr '\n' ' ' <<<"$left")")
		fi
		p=$(store_problems "$cid")
		[ -n "$p" ] && bad+=("$e at $1#$2: $p")
		plain "$HL" DEL "$cid" "$T/hl.json"
		[ -z "$(ipam_leftovers "$NETDIR")" ] || bad+=("$e at $1#$2: DEL did not clean up")
	done
done
is "ENOSPC/EIO at each of ${#store_sc[@]} store syscalls of ADD ($n faults): clean errors, nothing half-written" "${bad[*]:-}" ""
diag "I/O faults: $failed_clean clean failures, $tolerated tolerated (ADD still complete or only stdout lost)"
diag "tolerated: $(printf '%s\n' "${tol_list[@]}" | sort -u | tr '\n' ' ')"
diag "reservation-writing calls: ${!critical[*]}"
ok_if "... faults in the ${#critical[@]} reservation-writing calls all fail the ADD cleanly" test "${#critical[@]}" -ge 4
FAULTS=$((FAULTS + n))

# DEL when unlink fails: an error, the reservation intact, a later DEL succeeds.
for e in EIO ENOSPC EROFS; do
	plain "$HL" ADD "u-$e" "$T/hl.json"
	call "$HL" DEL "u-$e" "$T/hl.json" -e "inject=unlinkat:error=$e"
	is_error "DEL with unlinkat failing ($e): error JSON"
	is "... the reservations intact" "$(store_problems "u-$e")$(ipam_files "$NETDIR" | wc -l)" 2
	plain "$HL" DEL "u-$e" "$T/hl.json"
	is "... a later DEL releases them" "$(ipam_leftovers "$NETDIR")" ""
	FAULTS=$((FAULTS + 1))
done

# ---- a stale lock holder ------------------------------------------------------------------

# An ADD stopped (SIGSTOP) right after taking the lock: a hung plugin. strace
# delivers the signal as flock returns, so the lock is held and nothing written.
in_ns "$NODE" env -i "$SYSPATH" CNI_COMMAND=ADD CNI_CONTAINERID=stale CNI_NETNS="$CNS" CNI_IFNAME=eth0 \
	CNI_PATH="$BIN" strace -qq -o /dev/null -e inject=flock:signal=STOP:when=1 "$HL" \
	<"$T/hl.json" >"$T/stale.out" 2>&1 &
stalepid=$!
register_pid "$stalepid"
# Whether someone holds FILE's flock, read from /proc/locks: a probe taking the
# lock itself (flock -n) could hold it just when the stale ADD tries, which then
# stops without it.  Waiters show as "->" lines and do not count.
lock_held()
{
	local ino
	ino=$(stat -c %i "$1") || return 1
	awk -v i="$ino" '$2 == "FLOCK" && $6 ~ (":" i "$") { f = 1 } END { exit !f }' /proc/locks
}
wait_for "the stale ADD holds the lock" 10 lock_held "$NETDIR/lock"
# The default wait (60 s) outlasts a queue of ADDs on a loaded node: after
# 3 s this one is still waiting, not failed. Its bound is the constant's.
in_ns "$NODE" env -i "$SYSPATH" CNI_COMMAND=ADD CNI_CONTAINERID=waiter CNI_NETNS="$CNS" CNI_IFNAME=eth0 \
	CNI_PATH="$BIN" timeout 3 "$HL" <"$T/hl.json" >/dev/null 2>&1
RC0=$?
is "... with the default timeout, ADD still waits after 3 s" "$RC0" 124
t0=$(date +%s%N)
in_ns "$NODE" env -i "$SYSPATH" CNI_COMMAND=ADD CNI_CONTAINERID=waiter CNI_NETNS="$CNS" CNI_IFNAME=eth0 \
	CNI_PATH="$BIN" CNIC_IPAM_LOCK_TIMEOUT_MS=400 timeout 20 "$HL" <"$T/hl.json" >"$T/out" 2>/dev/null
RC=$? OUT=$(<"$T/out") ERR=""
ms=$((($(date +%s%N) - t0) / 1000000))
is_error_json "ADD while a stopped plugin holds the lock: code 11" 11
ok_if "... bounded: a 400 ms wait gave up after ${ms} ms" test "$ms" -lt 5000
# Kill the holder: the kernel drops its flock, nothing it did is half-written.
holder=$(fuser "$NETDIR/lock" 2>/dev/null | tr -s ' ' | sed 's/^ //')
ok_if "the stopped holder is found ($holder)" test -n "$holder"
for p in $holder; do kill -KILL "$p" 2>/dev/null; done
kill -KILL "$stalepid" 2>/dev/null
wait "$stalepid" 2>/dev/null
plain "$HL" ADD waiter "$T/hl.json"
is_success "after the holder is killed, ADD goes through at once"
is "... and no torn state: only the waiter's reservations" "$(store_problems waiter)$(ipam_files "$NETDIR" | wc -l)" 2
plain "$HL" DEL waiter "$T/hl.json"
plain "$HL" DEL stale "$T/hl.json"
is "stale lock test leaves nothing" "$(ipam_leftovers "$NETDIR")" ""

# ---- loopback: kill -9 at every syscall of ADD and of DEL --------------------------------

if [ -x "$LO" ]; then
	echo '{"cniVersion": "1.0.0", "name": "lonet", "type": "loopback"}' >"$T/lo.json"
	lo_up() { in_ns "$CTR" ip -o link show lo | grep -q '[<,]UP[,>]'; }
	for verb in ADD DEL; do
		# Trace from the state each iteration starts in: lo down for ADD, up for DEL.
		plain "$LO" DEL lo "$T/lo.json"
		[ "$verb" == DEL ] && plain "$LO" ADD lo "$T/lo.json"
		mapfile -t LO_SC < <(syscalls "$LO" "$verb" lo "$T/lo.json")
		n=0 bad=() notkilled=0
		for sc in "${LO_SC[@]}"; do
			set -- $sc
			n=$((n + 1))
			[ "$verb" == DEL ] && plain "$LO" ADD lo "$T/lo.json"
			call "$LO" "$verb" lo "$T/lo.json" -e "inject=$1:signal=KILL:when=$2"
			# Netlink replies may come in fewer reads: a boundary can vanish.
			killed || notkilled=$((notkilled + 1))
			plain "$LO" DEL lo "$T/lo.json"
			[ "$RC" -eq 0 ] || bad+=("$1#$2: DEL failed")
			lo_up && bad+=("$1#$2: lo still up after DEL")
		done
		is "loopback $verb killed at each of its $n syscalls, then DEL: lo down" "${bad[*]:-}" ""
		ok_if "... nearly every boundary reached ($((n - notkilled))/$n)" test $((notkilled * 10)) -le "$n"
		FAULTS=$((FAULTS + n))
	done
	plain "$LO" ADD lo "$T/lo.json"
	is_success "loopback ADD works after the sweeps"
	ok_if "... lo up" lo_up
	in_ns "$CTR" ip link set lo up
fi

diag "faults injected in all: $FAULTS"
assert_no_ipam_files "$NETDIR"
assert_no_links "$NODE"
done_testing
