#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
#
# host-local under contention and on a hostile data dir: racing ADDs of one
# attachment, ADDs racing DELs, a lock held by someone else (bounded wait,
# code 11, nothing written), and links in the data dir never followed.
. "$(dirname "$0")/lib.sh"

HL=$BIN/host-local
DATA=$T/ipam

netns_new NODE node
netns_new CTR ctr
CNS=$(netns_path "$CTR")

conf() # FILE NETNAME SUBNET
{
	jq -n --arg n "$2" --arg d "$DATA" --arg s "$3" '{cniVersion: "1.0.0", name: $n, type: "host-local",
		ipam: {type: "host-local", dataDir: $d, ranges: [[{subnet: $s}]]}}' >"$1"
}
hl() # VERB CID CONF [VAR=VAL...]
{
	local verb=$1 cid=$2 c=$3
	shift 3
	cni "$NODE" "$HL" "$verb" "$cid" "$CNS" eth0 "$c" "$@"
}
mkdir -p "$T/res"

# ---- the same attachment added 10 times at once -------------------------------------

conf "$T/same.json" same 198.18.40.0/24
pids=()
for ((i = 0; i < 10; i++)); do
	(hl ADD dup-1 "$T/same.json"; printf '%s %s\n' "$RC" "$(json_get "$OUT" '.code // .ips[0].address' 2>/dev/null)" >"$T/res/$i") &
	pids+=($!)
done
for p in "${pids[@]}"; do wait "$p"; done
is "racing ADDs of one attachment: exactly one succeeds" "$(grep -c '^0 ' "$T"/res/*| awk -F: '{s += $2} END {print s}')" 1
is "... the others get code 102" "$(grep -v '^0 ' "$T"/res/* | awk '{print $2}' | sort -u)" 102
is "... and exactly one file exists" "$(ipam_files "$DATA/same" | wc -l)" 1
hl DEL dup-1 "$T/same.json"
rm -f "$T"/res/*

# ---- ADDs racing DELs ------------------------------------------------------------------

M=60
[ "${VALGRIND:-0}" == 1 ] && M=15
conf "$T/mix.json" mix 198.18.41.0/24
for ((i = 0; i < M; i++)); do hl ADD "old-$i" "$T/mix.json"; done
is "$M sequential ADDs" "$(ipam_files "$DATA/mix" | wc -l)" "$M"
pids=()
for ((i = 0; i < M; i++)); do
	(hl DEL "old-$i" "$T/mix.json"; echo "$RC" >"$T/res/d$i") &
	pids+=($!)
	(hl ADD "new-$i" "$T/mix.json"; echo "$RC" >"$T/res/a$i") &
	pids+=($!)
done
for p in "${pids[@]}"; do wait "$p"; done
is "racing ADD/DEL all succeed" "$(grep -vx 0 "$T"/res/* | head -3)" ""
owners=$(cd "$DATA/mix" && for f in $(ipam_files .); do head -c 64 "$f" | tr -d '\r' | head -1; done | sort)
is "afterwards exactly the $M new attachments hold addresses" \
	"$owners" "$(for ((i = 0; i < M; i++)); do echo "new-$i"; done | sort)"
for ((i = 0; i < M; i++)); do hl DEL "new-$i" "$T/mix.json"; done
rm -f "$T"/res/*

# ---- lock held by another process: bounded wait, code 11 ----------------------------------

conf "$T/lk.json" locked 198.18.42.0/24
hl ADD lk-0 "$T/lk.json"
before=$(ls -A "$DATA/locked" | sort | tr '\n' ' ')
# The holder is the sleep itself (flock(1) would leave the lock with its child).
(exec 9<"$DATA/locked/lock" && flock 9 && exec sleep 30) &
lockpid=$!
register_pid "$lockpid"
wait_for "the lock is held" 5 bash -c "! flock -n '$DATA/locked/lock' true"
t0=$(date +%s%N)
CNI_TIMEOUT=8 hl ADD lk-1 "$T/lk.json" CNIC_IPAM_LOCK_TIMEOUT_MS=300
ms=$((($(date +%s%N) - t0) / 1000000))
is_error_json "ADD while the lock is held elsewhere: code 11 (try again)" 11
ok_if "... after a bounded wait (${ms} ms)" test "$ms" -lt 5000 -a "$(json_get "$OUT" '.code // 0' 2>/dev/null)" == 11
is "... and nothing written" "$(ls -A "$DATA/locked" | sort | tr '\n' ' ')" "$before"
CNI_TIMEOUT=8 hl DEL lk-0 "$T/lk.json" CNIC_IPAM_LOCK_TIMEOUT_MS=300
is_error_json "DEL while the lock is held elsewhere: code 11" 11
ok_if "... and the reservation is kept" test -n "$(ipam_files "$DATA/locked")"
kill "$lockpid" 2>/dev/null
wait "$lockpid" 2>/dev/null
hl ADD lk-1 "$T/lk.json"
is_success "ADD succeeds once the lock is free"
hl DEL lk-0 "$T/lk.json"
hl DEL lk-1 "$T/lk.json"
is "lock test released" "$(ipam_files "$DATA/locked")" ""

# ---- links in the data dir are never followed ---------------------------------------------

conf "$T/ln.json" links 198.18.43.0/24
mkdir -p "$DATA/links"
printf 'victim\r\neth0' >"$T/victim"
ln -s "$T/victim" "$DATA/links/198.18.43.2"
hl ADD victim "$T/ln.json"
is "an address whose file is a symlink counts as taken" "$(json_get "$OUT" '.ips[0].address')" 198.18.43.3/24
hl DEL victim "$T/ln.json"
ok_if "DEL does not delete or follow a symlink's target" cmp "$T/victim" <(printf 'victim\r\neth0')
rm -f "$DATA/links/198.18.43.2"
mkdir -p "$T/elsewhere"
printf 'x' >"$T/elsewhere/marker"
ln -s "$T/elsewhere" "$DATA/links/sub"
hl DEL x "$T/ln.json"
ok_if "DEL does not descend into a symlinked directory" test -f "$T/elsewhere/marker"
rm -f "$DATA/links/sub"
rm -f "$DATA/links/lock"
ln -s "$T/victim" "$DATA/links/lock"
hl ADD lk "$T/ln.json"
is_error "a lock file that is a symlink is refused"
ok_if "... and its target is untouched" cmp "$T/victim" <(printf 'victim\r\neth0')
rm -f "$DATA/links/lock"
hl DEL lk "$T/ln.json"
printf 'garbage\n' >"$DATA/links/last_reserved_ip.0"
hl ADD rr "$T/ln.json"
is "garbage in last_reserved_ip: allocation starts over" "$(json_get "$OUT" '.ips[0].address')" 198.18.43.2/24
hl DEL rr "$T/ln.json"

assert_no_ipam_files "$DATA"/*
assert_no_links "$CTR"
assert_no_links "$NODE"
done_testing
