#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
#
# Concurrency (root): K containers attached at once to one fresh network (bridge + portmap,
# each with a host port of its own), then detached at once; ours and the reference, round
# by round, who goes first alternating.  Every round starts from a new node netns with no
# bridge, so the first ADDs also race to create it, as on a node that just booted.
#
# The K attachments are K shell jobs (bridge ADD, then portmap ADD with the bridge result as
# prevResult, as a runtime does), forked first and held at a shared flock until all are
# ready; the clock starts when the lock is released and stops when the last one finishes.
# A round counts as failures: calls that exit non-zero, and addresses handed out twice.
# After the parallel DEL, anything left (IPAM reservations, bridge ports) is a leak.
#
# Environment: BENCH_CONC ("20 50 100"), BENCH_CONC_REPS (3) rounds per K and side,
# BENCH_OURS_DIR, BENCH_REF_DIR.  Output: a table on stdout and build/bench/concurrency.tsv
# (impl k rep add_ms add_failures add_job_median_ms del_ms del_failures leaks).

set -euo pipefail

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
OUT=$ROOT/build/bench
OURS_DIR=${BENCH_OURS_DIR:-$ROOT/bin}
REF_DIR=${BENCH_REF_DIR:-/usr/lib/cni}
KS=${BENCH_CONC:-20 50 100}
REPS=${BENCH_CONC_REPS:-3}

die() {
	echo "bench-concurrency: $*" >&2
	exit 1
}

# wait_files DIR PATTERN COUNT: poll (20 ms) until COUNT files match, at most 120 s.
wait_files() {
	local k n

	for ((k = 0; k < 6000; k++)); do
		n=$(compgen -G "$1/$2" | wc -l) || n=0
		((n >= $3)) && return 0
		sleep 0.02
	done
	return 1
}

# One phase of a round, run inside the node netns:
#	concurrency.sh --phase ADD|DEL DIR RD K IFNAME
# forks K jobs, releases them together and prints "total_ms failures job_median_ms".
if [[ ${1:-} == --phase ]]; then
	verb=$2 dir=$3 rd=$4 k=$5 ifn=$6
	gate=$rd/gate.$verb
	: >"$gate"
	exec 9>"$gate"
	flock -x 9
	pids=()
	# Stopped by the main script: stop the jobs too (a plugin already running finishes).
	trap 'kill "${pids[@]}" 2>/dev/null; exit 143' TERM
	for ((i = 0; i < k; i++)); do
		(
			exec 9>&-
			ns=/run/netns/$(cat "$rd/ns.$i")
			: >"$rd/ready.$verb.$i"
			flock -s "$gate" true
			t0=$EPOCHREALTIME
			rc=0
			pm='{"cniVersion":"1.0.0","name":"bench-cc","type":"portmap","snat":true,'
			pm+='"runtimeConfig":{"portMappings":[{"hostPort":'$((20000 + i))
			pm+=',"containerPort":80,"protocol":"tcp"}]}'
			if [[ $verb == ADD ]]; then
				res=$(CNI_COMMAND=ADD CNI_CONTAINERID=cc-$i CNI_NETNS=$ns CNI_IFNAME=$ifn \
					CNI_PATH=$dir "$dir/bridge" <"$rd/br.json" 2>>"$rd/err") || rc=1
				if [[ $rc == 0 ]]; then
					printf '%s\n' "$res" >"$rd/res.$i"
					out=$(CNI_COMMAND=ADD CNI_CONTAINERID=cc-$i CNI_NETNS=$ns \
						CNI_IFNAME=$ifn CNI_PATH=$dir "$dir/portmap" \
						<<<"$pm,\"prevResult\":$res}" 2>&1) ||
						{ rc=2; echo "portmap ADD cc-$i: $out" >>"$rd/err"; }
				else
					printf 'bridge ADD cc-%s: %s\n' "$i" "$res" >>"$rd/err"
				fi
			else
				# In reverse, with the ADD result as prevResult, as libcni does.
				res=$(cat "$rd/res.$i" 2>/dev/null) || res='{}'
				out=$(CNI_COMMAND=DEL CNI_CONTAINERID=cc-$i CNI_NETNS=$ns CNI_IFNAME=$ifn \
					CNI_PATH=$dir "$dir/portmap" <<<"$pm,\"prevResult\":$res}" 2>&1) ||
					{ rc=2; echo "portmap DEL cc-$i: $out" >>"$rd/err"; }
				br=$(<"$rd/br.json")
				out=$(CNI_COMMAND=DEL CNI_CONTAINERID=cc-$i CNI_NETNS=$ns CNI_IFNAME=$ifn \
					CNI_PATH=$dir "$dir/bridge" <<<"${br%\}},\"prevResult\":$res}" 2>&1) ||
					{ rc=1; echo "bridge DEL cc-$i: $out" >>"$rd/err"; }
			fi
			t1=$EPOCHREALTIME
			# One short line per job: O_APPEND keeps lines whole.
			echo "$i $rc $t0 $t1" >>"$rd/$verb.tsv"
		) &
		pids+=($!)
	done
	if ! wait_files "$rd" "ready.$verb.*" "$k"; then
		flock -u 9
		wait
		echo "jobs never got ready" >&2
		exit 1
	fi
	start=$EPOCHREALTIME
	flock -u 9
	for p in "${pids[@]}"; do
		wait "$p" || true
	done
	# The per-job times, sorted, for the median; a job that never wrote its line failed too.
	awk '{ printf "%.3f\n", ($4 - $3) * 1000 }' "$rd/$verb.tsv" | sort -n >"$rd/$verb.lat"
	awk -v s="$start" -v k="$k" -v lat="$rd/$verb.lat" '{
		n++; if ($2 != 0) f++
		if ($4 > end) end = $4
	}
	END {
		for (i = 1; i <= int((n + 1) / 2); i++) getline m <lat
		printf "%.0f %d %.0f\n", (end - s) * 1000, f + (k - n), m
	}' "$rd/$verb.tsv"
	exit 0
fi

[[ $(id -u) == 0 ]] || die "needs root (network namespaces)"
[[ $REPS =~ ^[1-9][0-9]?$ ]] || die "BENCH_CONC_REPS must be 1-99"
for k in $KS; do
	[[ $k =~ ^[0-9]+$ && $k -ge 1 && $k -le 500 ]] || die "BENCH_CONC: each K must be 1-500"
done
for p in bridge portmap; do
	[[ -x $OURS_DIR/$p ]] || die "$OURS_DIR/$p not built"
	[[ -x $REF_DIR/$p ]] || die "reference $REF_DIR/$p missing"
done
mkdir -p "$OUT"

T=$(mktemp -d "${BENCH_TMPDIR:-/var/tmp}/cnic-bench-conc.XXXXXX")
PFX=cnic-bc-$$
NSLIST=$T/netns
: >"$NSLIST"
PHASE_PID=""

. "$(dirname "$0")/nslib.sh"

cleanup() {
	local rc=$?

	trap - EXIT INT TERM
	if [[ -n $PHASE_PID ]]; then
		kill "$PHASE_PID" 2>/dev/null || true
		wait "$PHASE_PID" 2>/dev/null || true
	fi
	if [[ -d $T ]]; then
		del_netns "$NSLIST"
		# A plugin still running (its job was stopped) may write there for a moment.
		for ((i = 0; i < 50; i++)); do
			rm -rf -- "$T" 2>/dev/null && break
			sleep 0.1
		done
	fi
	exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# round IMPL K REP: prints "add_ms add_failures add_job_median_ms del_ms del_failures leaks".
round() {
	local impl=$1 k=$2 rep=$3 dir=$OURS_DIR ifn=eth0 node rd add del left ports
	[[ $impl == ref ]] && dir=$REF_DIR ifn=eth1
	node=$PFX-$impl-$k-$rep
	rd=$T/$impl-$k-$rep
	mkdir -p "$rd/data"
	mkns "$node"
	ip -n "$node" link set lo up
	for ((i = 0; i < k; i++)); do
		echo "$PFX-c$k-$rep-$i" >"$rd/ns.$i"
	done
	jq -nc --arg d "$rd/data" '{cniVersion: "1.0.0", name: "bench-cc", type: "bridge",
		bridge: "cni-cc", isGateway: true, hairpinMode: true,
		ipam: {type: "host-local", dataDir: $d, ranges: [[{subnet: "198.19.0.0/16"}]]}}' \
		>"$rd/br.json"
	nsenter --net="/run/netns/$node" "$BASH" "$0" --phase ADD "$dir" "$rd" "$k" "$ifn" \
		>"$rd/add.out" &
	PHASE_PID=$!
	wait "$PHASE_PID" || die "$impl ADD round failed"
	add=$(<"$rd/add.out")
	# Addresses handed out twice are failures too.
	dup=$(cat "$rd"/res.* 2>/dev/null | jq -r '.ips[]?.address' | sort | uniq -d | wc -l)
	nsenter --net="/run/netns/$node" "$BASH" "$0" --phase DEL "$dir" "$rd" "$k" "$ifn" \
		>"$rd/del.out" &
	PHASE_PID=$!
	wait "$PHASE_PID" || die "$impl DEL round failed"
	PHASE_PID=""
	del=$(<"$rd/del.out")
	left=$(find "$rd/data" -type f ! -name lock ! -name 'last_reserved_ip.*' | wc -l)
	ports=$(ip -n "$node" -o link show master cni-cc 2>/dev/null | wc -l)
	read -r a af am <<<"$add"
	read -r d df _ <<<"$del"
	if [[ -s $rd/err ]] && ((af + df + dup > 0)); then
		echo "# $impl k=$k rep=$rep: first errors:" >&2
		tr '\n' ' ' <"$rd/err" | sed 's/\(bridge\|portmap\) \(ADD\|DEL\) cc-/\n&/g' |
			grep . | head -3 | cut -c1-300 >&2 || true
	fi
	echo "$a $((af + dup)) $am $d $df $((left + ports))"
}

RAW=$T/raw.tsv
: >"$RAW"
flip=0
for ((rep = 1; rep <= REPS; rep++)); do
	for k in $KS; do
		# Containers for this K: shared by both sides (ours is eth0, the reference eth1).
		mapfile -t names < <(seq -f "$PFX-c$k-$rep-%.0f" 0 $((k - 1)))
		mkns "${names[@]}"
		order=(ours ref)
		((flip++ % 2)) && order=(ref ours)
		for impl in "${order[@]}"; do
			echo "# round $rep: $k parallel ADDs then DELs, $impl..." >&2
			# Not in $(...): PHASE_PID must be set in this shell for cleanup to see it.
			round "$impl" "$k" "$rep" >"$T/round.out"
			r=$(<"$T/round.out")
			printf '%s\t%s\t%s\t%s\n' "$impl" "$k" "$rep" "${r// /$'\t'}" >>"$RAW"
		done
		# This round's namespaces go now: 100 containers' links must not pile up.
		del_netns "$NSLIST"
	done
done

{
	printf 'impl\tk\trep\tadd_ms\tadd_failures\tadd_job_median_ms\tdel_ms\tdel_failures\tleaks\n'
	cat "$RAW"
} >"$OUT/concurrency.tsv"

echo
echo "# K parallel bridge+portmap ADDs (then DELs) on one fresh network; median over $REPS rounds"
"$ROOT/test/bench/concurrency-summary.sh" "$OUT/concurrency.tsv" | column -t -s $'\t'

