#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
#
# Pod start and stop through real runtimes, cnic against the reference
# (Debian's containernetworking-plugins, /usr/lib/cni) in one run: the latency
# users feel.  Each side has its own throwaway node netns and its own runtime
# instances; the conflist is the same, only the plugin dir differs.
#
#  containerd  test/e2e/containerd-lib.sh's private containerd 1.6 with the
#              conflist docs/examples/containerd/10-containerd-net.conflist
#              (bridge + host-local IPv4/IPv6 + portmap).  N pods at once, each
#              RunPodSandbox with one hostPort, StopPodSandbox, RemovePodSandbox,
#              timed inside the CRI client (test/e2e/cri/client.py bench), so
#              the client's start-up is not in the numbers.
#  podman      test/e2e/podman-lib.sh's private podman 4.3 (CNI backend) on a
#              network made by `podman network create` (docs/examples/podman's
#              conflist: bridge, portmap, firewall, tuning, host-local).  N
#              `podman run --rm -p PORT:80 IMAGE true` at once, each timed whole.
#
# For each count of pods started at once (1, 20, 100), batches alternate ABBA
# between the sides (cnic ref, ref cnic, ...); the first batch per side and
# runtime is a warm-up and not counted.  A pod that fails is counted, not
# timed; IPAM reservations a side still holds after a batch are counted as
# leaks and removed.  Reported per runtime, count and phase: the median and
# p90 over all pods of all batches, the median wall time of a whole batch,
# and per side the pods that failed and the reservations leaked.  When
# containerd failed a pod, its log is kept as
# build/bench/runtimes-containerd-<side>.log.
#
# Environment:
#   RT_RUNTIMES="containerd podman"
#   RT_COUNTS="1 20 100"        pods at once
#   RT_ROUNDS=4                 batches per side and count, at least (made even)
#   RT_MIN_SAMPLES=20           more batches for small counts, up to this many pods
#   BENCH_OURS_DIR (bin), BENCH_REF_DIR (/usr/lib/cni)
# Output: a table on stdout, build/bench/runtimes.tsv
#   runtime pods phase n cnic_med_ms cnic_p90_ms ref_med_ms ref_p90_ms speedup
#   cnic_failed ref_failed cnic_leaked ref_leaked      ("-": no pod timed)
# and build/bench/runtimes-env.txt (versions, settings, load average).
# Needs root.  Not in `make test`.  On a busy 2-CPU machine RT_COUNTS="1 20"
# RT_ROUNDS=4 took 4.6 min (load average 6-12 from other jobs), RT_COUNTS=100
# RT_ROUNDS=2 13 min (load 12 rising past 100), a smoke run (RT_COUNTS=2 RT_ROUNDS=2 RT_MIN_SAMPLES=0)
# 0.5 min; the defaults take about half an hour there, less on a quiet machine.

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
# shellcheck source=test/integration/lib.sh
. "$ROOT/test/integration/lib.sh"
# lib.sh is a TAP library: this is no TAP test, so its "exited before
# done_testing" line is off; its cleanup at exit (netns, pids, at_exit) stays.
_done=1
. "$ROOT/test/e2e/containerd-lib.sh"
. "$ROOT/test/e2e/podman-lib.sh"

RUNTIMES=${RT_RUNTIMES:-containerd podman}
COUNTS=${RT_COUNTS:-1 20 100}
ROUNDS=${RT_ROUNDS:-4}
MIN_SAMPLES=${RT_MIN_SAMPLES:-20}
OURS_DIR=$(realpath "${BENCH_OURS_DIR:-$ROOT/bin}")
REF_DIR=${BENCH_REF_DIR:-/usr/lib/cni}
OUTDIR=$ROOT/build/bench
PORT_BASE=21000
S=$T/samples.tsv	# runtime pods side phase ms
F=$T/failures.tsv	# runtime pods side failed_pods leaked_reservations

for d in "$OURS_DIR" "$REF_DIR"; do
	for p in bridge portmap host-local loopback firewall tuning; do
		[ -x "$d/$p" ] || bail_out "$d/$p missing"
	done
done
for r in $RUNTIMES; do
	case $r in
	containerd)
		require containerd ctr runc containerd-shim-runc-v2 busybox /usr/bin/python3
		/usr/bin/python3 -c 'import grpc, grpc_tools' 2>/dev/null ||
			bail_out "python3-grpcio / python3-grpc-tools missing"
		;;
	podman) require podman runc busybox ;;
	*) bail_out "unknown runtime $r (RT_RUNTIMES: containerd podman)" ;;
	esac
done
for c in $COUNTS; do
	[[ $c =~ ^[1-9][0-9]*$ && $c -le 200 ]] || bail_out "RT_COUNTS: $c is not 1..200 (the subnets are /24s)"
done
[[ $ROUNDS =~ ^[1-9][0-9]*$ && $MIN_SAMPLES =~ ^[0-9]+$ ]] || bail_out "RT_ROUNDS / RT_MIN_SAMPLES not numbers"
mkdir -p "$OUTDIR"
: >"$S"
: >"$F"

say() { printf '%s\n' "$*" >&2; }
loadavg() { cut -d' ' -f1-3 /proc/loadavg; }
LOAD0=$(loadavg)

# ---- the two sides: a node netns each, the runtimes in it --------------------------
declare -A NODE DIR
for side in cnic ref; do
	netns_new "NODE[$side]" "rt$side"
	in_ns "${NODE[$side]}" sysctl -qw net.ipv4.ip_forward=1 net.ipv6.conf.all.forwarding=1
	DIR[$side]=$([ $side == cnic ] && echo "$OURS_DIR" || echo "$REF_DIR")
done
ctrd_dir() { echo "$T/ctrd-$1"; }
pm_dir() { echo "$T/pm-$1"; }
pm_net() { echo "cnic-rt-pm-$1-$$"; }

for r in $RUNTIMES; do
	for side in cnic ref; do
		case $r in
		containerd)
			P=$(ctrd_dir $side)
			ctrd_init "$P" "${NODE[$side]}" "${DIR[$side]}" \
				"$ROOT/docs/examples/containerd/10-containerd-net.conflist" \
				"cnic-rt-ctrd-$side-$$" "/cnic-rt-$side-$$"
			ctrd_start "$P" || bail_out "containerd ($side) did not start: $(tail -5 "$P/containerd.log")"
			ctrd_import "$P" >/dev/null || bail_out "ctr images import ($side) failed"
			;;
		podman)
			P=$(pm_dir $side)
			pm_init "$P" "${NODE[$side]}" "${DIR[$side]}"
			pm_import "$P" >"$T/import.log" 2>&1 || bail_out "podman import ($side) failed: $(tail -3 "$T/import.log")"
			pm_at "$P" network create --subnet 198.18.34.0/24 "$(pm_net $side)" >/dev/null ||
				bail_out "podman network create ($side) failed"
			;;
		esac
	done
done

# failed RUNTIME N SIDE COUNT FIRST_ERROR: note pods that failed (counted in
# the table, not timed); the first error of each side and runtime is shown.
failed()
{
	[ "$4" -gt 0 ] || return 0
	printf '%s\t%s\t%s\t%s\t0\n' "$1" "$2" "$3" "$4" >>"$F"
	if [ ! -e "$T/.said.$1.$3" ]; then
		: >"$T/.said.$1.$3"
		say "   $1 ($3, $2 at once): $4 pods failed, e.g.: $5"
	fi
}

# reap RUNTIME N SIDE: IPAM reservations the side still holds after a batch
# (its pods are all gone by then) are leaks: counted, then removed so that the
# next batch starts clean.
reap()
{
	local net n
	case $1 in
	containerd) net=cnic-rt-ctrd-$3-$$ ;;
	podman) net=$(pm_net "$3") ;;
	esac
	n=$(ipam_files "/var/lib/cni/networks/$net" | wc -l)
	[ "$n" -gt 0 ] || return 0
	say "   $1 ($3, $2 at once): $n IPAM reservations leaked"
	printf '%s\t%s\t%s\t0\t%s\n' "$1" "$2" "$3" "$n" >>"$F"
	ipam_files "/var/lib/cni/networks/$net" | while read -r f; do rm -f "/var/lib/cni/networks/$net/$f"; done
}

# batch_containerd SIDE N SAVE: N pods at once through the CRI client.  Pods
# that failed are counted; whatever they left is removed before the next batch.
batch_containerd()
{
	local side=$1 n=$2 save=$3 P nerr
	P=$(ctrd_dir "$side")
	CRI_TIMEOUT=900 cri_at "$P" bench --count "$n" --port-base "$PORT_BASE" --timeout 600 \
		--cgroup-parent "/cnic-rt-$side-$$" --prefix "b$n" ||
		bail_out "CRI bench ($side, $n pods) failed: $ERR"
	nerr=$(jq '[.pods[] | select(.error)] | length' <<<"$OUT")
	if [ "$nerr" -gt 0 ]; then
		[ "$save" == 1 ] && failed containerd "$n" "$side" "$nerr" \
			"$(jq -r '[.pods[] | select(.error) | .error][0]' <<<"$OUT")"
		cp "$P/containerd.log" "$OUTDIR/runtimes-containerd-$side.log" 2>/dev/null
		local keep_out=$OUT
		CRI_TIMEOUT=600 cri_at "$P" purge >/dev/null
		OUT=$keep_out
	fi
	[ "$save" == 1 ] || return 0
	jq -r --arg s "$side" --arg n "$n" '
		(.pods[] | select(.error | not) | ["containerd", $n, $s, "start", .run], ["containerd", $n, $s, "stop", .stop + .rm],
			["containerd", $n, $s, "total", .run + .stop + .rm]),
		["containerd", $n, $s, "batch", .wall] | @tsv' <<<"$OUT" >>"$S"
}

# batch_podman SIDE N SAVE: N `podman run --rm -p` at once; each released
# together by a lock this shell holds until all are forked.
batch_podman()
{
	local side=$1 n=$2 save=$3 P net i lock=$T/go f=$T/pm.out t0 bad pid
	local -a pids=()
	P=$(pm_dir "$side")
	net=$(pm_net "$side")
	: >"$f"
	exec {lk}>"$lock"
	flock -x "$lk"
	for ((i = 0; i < n; i++)); do
		(
			# The lock's fd is the parent's alone: held here too, it would never let go.
			exec {lk}>&-
			flock -s "$lock" true
			a=$EPOCHREALTIME
			if PM_TIMEOUT=600 pm_at "$P" run --rm --network "$net" -p $((PORT_BASE + i)):80 "$PM_IMG" true \
				>/dev/null 2>"$T/pm.err.$i"; then
				echo "ok $a $EPOCHREALTIME" >>"$f"
			else
				echo "fail $a $EPOCHREALTIME $(head -c 300 "$T/pm.err.$i" | tr '\n' ' ')" >>"$f"
			fi
			rm -f "$T/pm.err.$i"
		) &
		pids+=($!)
	done
	t0=$EPOCHREALTIME
	exec {lk}>&-
	# Only these: a bare `wait` would wait for containerd too.
	for pid in "${pids[@]}"; do
		wait "$pid"
	done
	[ "$(wc -l <"$f")" -eq "$n" ] || bail_out "podman ($side, $n at once): $(wc -l <"$f") results"
	bad=$(grep -c '^fail' "$f")
	if [ "$bad" -gt 0 ]; then
		[ "$save" == 1 ] && failed podman "$n" "$side" "$bad" "$(grep -m1 '^fail' "$f" | cut -d' ' -f4-)"
		PM_TIMEOUT=300 pm_at "$P" rm -a -f -t 0 >/dev/null 2>&1
	fi
	[ "$save" == 1 ] || return 0
	awk -v OFS='\t' -v s="$side" -v n="$n" -v t0="$t0" '
		$1 == "ok" { print "podman", n, s, "total", ($3 - $2) * 1000 }
		{ if ($3 > end) end = $3 }
		END { print "podman", n, s, "batch", (end - t0) * 1000 }' "$f" >>"$S"
}

# ---- the runs ------------------------------------------------------------------------
for r in $RUNTIMES; do
	say "== $r: warm-up (load $(loadavg))"
	for side in cnic ref; do
		"batch_$r" "$side" 1 0
	done
	for c in $COUNTS; do
		rounds=$(((MIN_SAMPLES + c - 1) / c))
		((rounds < ROUNDS)) && rounds=$ROUNDS
		((rounds % 2)) && rounds=$((rounds + 1))
		say "== $r: $c at once, $rounds batches per side (load $(loadavg))"
		for ((k = 0; k < rounds; k++)); do
			# ABBA: cnic ref, ref cnic, cnic ref, ...
			if ((k % 2 == 0)); then sides="cnic ref"; else sides="ref cnic"; fi
			for side in $sides; do
				"batch_$r" "$side" "$c" 1
				reap "$r" "$c" "$side"
			done
		done
	done
done

# ---- medians and p90 -------------------------------------------------------------------
# stats: per runtime, pods, phase and side, the median and p90 (nearest rank).
TSV=$OUTDIR/runtimes.tsv
{
	printf 'runtime\tpods\tphase\tn\tcnic_med_ms\tcnic_p90_ms\tref_med_ms\tref_p90_ms\tspeedup'
	printf '\tcnic_failed\tref_failed\tcnic_leaked\tref_leaked\n'
	# The failures first (tagged F), then the samples sorted by group and value.
	{
		awk -F'\t' -v OFS='\t' '{ print "F", $0 }' "$F"
		sort -t$'\t' -k1,1 -k2,2n -k4,4 -k3,3 -k5,5g "$S"
	} | awk -F'\t' -v OFS='\t' '
	function flush() {
		if (key == "") return
		med[key] = v[int((m + 1) / 2)]
		if (m % 2 == 0) med[key] = (v[m / 2] + v[m / 2 + 1]) / 2
		p90[key] = v[int(m * 0.9 + 0.999999)]
		cnt[key] = m
		m = 0
	}
	$1 == "F" { fl[$2, $3, $4] += $5; lk[$2, $3, $4] += $6; fg[$2, $3]; next }
	{
		k = $1 SUBSEP $2 SUBSEP $4 SUBSEP $3
		if (k != key) { flush(); key = k }
		v[++m] = $5
		g = $1 SUBSEP $2 SUBSEP $4
		if (!(g in seen)) { seen[g]; order[++ng] = g; rp[$1, $2] }
	}
	END {
		flush()
		# Runtime and count with failures but no pod timed on either side: a row all the same.
		for (x in fg)
			if (!(x in rp)) order[++ng] = x SUBSEP "total"
		for (i = 1; i <= ng; i++) {
			g = order[i]; split(g, f, SUBSEP)
			c = g SUBSEP "cnic"; r = g SUBSEP "ref"
			hc = (c in cnt); hr = (r in cnt)
			printf "%s\t%s\t%s\t%d\t%s\t%s\t%s\t%s\t%s\t%d\t%d\t%d\t%d\n", f[1], f[2], f[3], hc ? cnt[c] : 0,
				hc ? sprintf("%.1f", med[c]) : "-", hc ? sprintf("%.1f", p90[c]) : "-",
				hr ? sprintf("%.1f", med[r]) : "-", hr ? sprintf("%.1f", p90[r]) : "-",
				(hc && hr && med[c] > 0) ? sprintf("%.2f", med[r] / med[c]) : "-",
				fl[f[1], f[2], "cnic"], fl[f[1], f[2], "ref"], lk[f[1], f[2], "cnic"], lk[f[1], f[2], "ref"]
		}
	}'
} >"$TSV.tmp"
mv -f "$TSV.tmp" "$TSV"
{
	echo "runtimes: containerd $(containerd --version 2>/dev/null | awk '{print $3}'), $(podman --version 2>/dev/null), runc $(runc --version 2>/dev/null | awk 'NR == 1 {print $3}')"
	echo "reference: $(dpkg-query -W -f '${Package} ${Version}' containernetworking-plugins 2>/dev/null || echo "$REF_DIR")"
	echo "settings: RT_RUNTIMES=\"$RUNTIMES\" RT_COUNTS=\"$COUNTS\" RT_ROUNDS=$ROUNDS RT_MIN_SAMPLES=$MIN_SAMPLES"
	echo "load: $LOAD0 at the start, $(loadavg) at the end ($(nproc) CPU)"
} >"$OUTDIR/runtimes-env.txt"
cat "$OUTDIR/runtimes-env.txt"
column -t -s$'\t' "$TSV"
