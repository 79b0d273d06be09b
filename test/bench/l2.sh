#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
#
# ptp, macvlan and ipvlan benchmarks (root): ours and the reference side by
# side, each in its own throwaway node and container netns (nothing touches
# this machine's network), driven by test/bench/brbench.c (measure.c shares
# one container netns and cannot hold two eth0s).  Deleting a link waits for
# RCU grace periods in the kernel, whoever asks: floor-linkdel.c measures
# that alone (in-process, "kernel"), and also runs as a third
# implementation ("floor": a bare process plus the kernel requests and
# host-local file work ours makes, see its header), alternating with ours
# and the reference under the same load.
#
#   ptp        ADD,CHECK,DEL   v4 host-local
#   ptp-masq   ADD,DEL         + ipMasq (the reference execs iptables; the floor adds
#                              floormasq.h's nftables work)
#   macvlan    ADD,CHECK,DEL   v4 host-local, bridge mode on a veth master
#   ipvlan     ADD,CHECK,DEL   l2 on a dummy master: needs ipvlan, so only in the VM
#                              (CNIC_VM_ONLY=1 test/vm/run.sh test/bench/l2.sh; ratio only)
#
# Targets (issue 4): ADD <= 1/5 of the reference (1/10 for ptp with ipMasq);
# DEL <= the floor's DEL + 2 ms; peak RSS <= 1/3 of the reference.
#
# Environment: BENCH_N (default 100), BENCH_WARMUP (3), BENCH_CASES
# ("ptp ptp-masq macvlan", or "ipvlan" inside the VM), BENCH_OURS_DIR, BENCH_REF_DIR.
# Output: a table on stdout and build/bench/l2.tsv.

set -euo pipefail

N=${BENCH_N:-100}
WARMUP=${BENCH_WARMUP:-3}
IN_VM=${CNIC_IN_VM:-0}
if [[ $IN_VM == 1 ]]; then
	CASES=${BENCH_CASES:-ipvlan}
	N=${BENCH_N:-30}
else
	CASES=${BENCH_CASES:-ptp ptp-masq macvlan}
fi
export BENCH_NAME=bench-l2 # read by brlib.sh
. "$(dirname "$0")/brlib.sh"

bench_build brbench floor-linkdel
# The floor runs as a plugin under the name of the one it stands for.
mkdir -p "$OUT/floor-l2"
for p in ptp macvlan; do
	[[ $IN_VM == 1 ]] || cp -f "$OUT/floor-linkdel" "$OUT/floor-l2/$p"
done
# Its store/ there makes it do host-local's file work in-process, as ours does (one store for
# every case: they run one after the other, each DEL releasing what its ADD took).
if [[ $IN_VM != 1 ]]; then
	rm -rf -- "$OUT/floor-l2/store"
	mkdir "$OUT/floor-l2/store"
fi
bench_tmp bl2

# conf CASE IMPL: the config for one side (its own IPAM store).
conf() {
	local c=$1 f=$T/conf-$1-$2.json x='{}' type=${1%-masq}
	mkdir -p "$T/data-$1-$2"
	case $c in
	ptp-masq) x='{"ipMasq": true}' ;;
	macvlan) x='{"master": "bm0", "mode": "bridge"}' ;;
	ipvlan) x='{"master": "bm0", "mode": "l2"}' ;;
	esac
	jq -nc --arg d "$T/data-$1-$2" --arg t "$type" --argjson x "$x" '{
		cniVersion: "1.0.0", name: "bench-l2", type: $t,
		ipam: {type: "host-local", dataDir: $d, ranges: [[{subnet: "198.18.0.0/16"}]],
		       routes: [{dst: "0.0.0.0/0"}]}} + $x' >"$f"
	echo "$f"
}

# impl CASE NAME BIN: node + container netns for one side (with a master for macvlan/ipvlan);
# prints brbench's -I value.
impl() {
	local c=$1 name=$2 bin=$3 node=$PFX-$1-$2 ctr=$PFX-$1-$2-c
	mkns "$node"
	mkns "$ctr"
	case $c in
	macvlan)
		ip -n "$node" link add bm0 type veth peer name bm0p
		ip -n "$node" link set bm0 up
		ip -n "$node" link set bm0p up
		;;
	ipvlan)
		ip -n "$node" link add bm0 type dummy
		ip -n "$node" link set bm0 up
		;;
	esac
	echo "$name:$bin:$(conf "$c" "$name"):/run/netns/$node:/run/netns/$ctr"
}

# In the VM the repo (ours) and / (the reference) are 9p mounts with different caching: every
# exec would mostly measure 9p.  Both sides run from copies on the guest's tmpfs instead.
if [[ $IN_VM == 1 ]]; then
	for d in ours ref; do mkdir -p "$T/bin-$d"; done
	for p in $CASES; do cp "$OURS_DIR/${p%-masq}" "$T/bin-ours/"; done
	for p in $CASES host-local static; do cp "$REF_DIR/${p%-masq}" "$T/bin-ref/"; done
	OURS_DIR=$T/bin-ours REF_DIR=$T/bin-ref
fi

RAW=$T/raw.tsv
FLOOR=$T/floor.tsv
: >"$RAW"
: >"$FLOOR"
if [[ $IN_VM != 1 ]]; then
	mkns "$PFX-floor"
	mkns "$PFX-floor-c"
	ip -n "$PFX-floor" link add bm0 type veth peer name bm0p
	ip -n "$PFX-floor" link set bm0 up
	echo "# measuring the kernel's link deletion..." >&2
	nsenter --net="/run/netns/$PFX-floor" "$OUT/floor-linkdel" -s "/run/netns/$PFX-floor-c" \
		-n "$N" -m bm0 >"$FLOOR" || die "floor-linkdel failed"
fi
for c in $CASES; do
	p=${c%-masq}
	[[ -x $OURS_DIR/$p ]] || die "$OURS_DIR/$p not built"
	[[ -x $REF_DIR/$p ]] || die "reference $REF_DIR/$p missing"
	verbs=ADD,CHECK,DEL
	[[ $c == ptp-masq ]] && verbs=ADD,DEL
	echo "# running $c ($verbs, n=$N)..." >&2
	fl=()
	[[ $c == ptp || $c == ptp-masq || $c == macvlan ]] && fl=(-I "$(impl "$c" floor "$OUT/floor-l2/$p")")
	"$OUT/brbench" -c "$c" -v "$verbs" -n "$N" -w "$WARMUP" "${fl[@]}" \
		-I "$(impl "$c" ours "$OURS_DIR/$p")" -I "$(impl "$c" ref "$REF_DIR/$p")" >>"$RAW"
done

cp "$RAW" "$OUT/l2.tsv"
cat "$FLOOR" >>"$OUT/l2.tsv"
floor() { awk -F'\t' -v k="$1" '$2 == k { print $4 }' "$FLOOR"; }
line() { printf '%-46s %8s  %s\n' "$1" "$2" "$3"; }

report() {
	echo "# case verb impl n median_us p90_us rss_median_kb rss_max_kb errors"
	awk -F'\t' '{ printf "%-9s %-6s %-6s %5s %8s %8s %7s %7s %4s\n", $1, $2, $3, $4, $5, $6, $7, $8, $9 }' "$RAW"
	[[ -s $FLOOR ]] && awk -F'\t' '{ printf "%-14s %-8s %5s %8s %8s\n", $1, $2, $3, $4, $5 }' "$FLOOR"
	echo
	echo "# targets"
	for c in ptp macvlan ipvlan; do
		has "$c" ADD ours || continue
		x=$(ratio "$(med "$c" ADD ours)" "$(med "$c" ADD ref)")
		if [[ $c == ipvlan ]]; then
			line "$c ADD ours/ref (VM, ratio only)" "$x" "-"
			line "$c DEL ours/ref (VM, ratio only)" "$(ratio "$(med "$c" DEL ours)" "$(med "$c" DEL ref)")" "-"
		else
			line "$c ADD ours/ref <= 0.2" "$x" "$(verdict "$x" 0.2)"
			line "$c ADD ours/floor" "$(ratio "$(med "$c" ADD ours)" "$(med "$c" ADD floor)")" "-"
			k=veth
			[[ $c == macvlan ]] && k=macvlan
			d=$(($(med "$c" DEL ours) - $(med "$c" DEL floor)))
			line "$c DEL ours - floor DEL <= 2000 us" "$d" "$(verdict "$d" 2000)"
			line "$c DEL floor (process) / kernel $k deletion (us)" "$(med "$c" DEL floor)/$(floor $k)" "-"
			line "$c DEL ours/ref" "$(ratio "$(med "$c" DEL ours)" "$(med "$c" DEL ref)")" "-"
		fi
		line "$c CHECK ours/ref" "$(ratio "$(med "$c" CHECK ours)" "$(med "$c" CHECK ref)")" "-"
		for v in ADD DEL; do
			x=$(ratio "$(rss "$c" $v ours)" "$(rss "$c" $v ref)")
			line "$c peak RSS $v ours/ref <= 0.333" "$x" "$(verdict "$x" 0.3334)"
		done
		[[ $(errs "$c") == 0 ]] || line "$c: failed calls" "$(errs "$c")" "ERR"
	done
	if has ptp-masq ADD ours; then
		x=$(ratio "$(med ptp-masq ADD ours)" "$(med ptp-masq ADD ref)")
		line "ptp ipMasq ADD ours/ref <= 0.1" "$x" "$(verdict "$x" 0.1)"
		line "ptp ipMasq DEL ours (us) / kernel veth deletion" "$(med ptp-masq DEL ours)/$(floor veth)" "-"
		line "ptp ipMasq DEL ours/ref" "$(ratio "$(med ptp-masq DEL ours)" "$(med ptp-masq DEL ref)")" "-"
		for v in ADD DEL; do
			line "ptp ipMasq $v ours/floor" "$(ratio "$(med ptp-masq $v ours)" "$(med ptp-masq $v floor)")" "-"
		done
		[[ $(errs ptp-masq) == 0 ]] || line "ptp-masq: failed calls" "$(errs ptp-masq)" "ERR"
	fi
	echo "# raw: $OUT/l2.tsv"
}

if [[ $IN_VM == 1 ]]; then
	# Inside the VM rig the output is TAP: the numbers as comments, one test for the run itself.
	report | sed 's/^/# /'
	if [[ $(errs ipvlan) == 0 ]]; then echo "ok 1 - ipvlan bench ran without failed calls"; else echo "not ok 1 - ipvlan bench: failed calls"; fi
	echo "1..1"
else
	echo
	report
fi
