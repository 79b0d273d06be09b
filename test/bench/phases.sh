#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
#
# Where the time goes (root): bridge ADD, CHECK and DEL with 0, 250 and 1000 containers
# already attached to the same bridge, next to the floor (test/bench/floor-bridge.c, the
# same kernel work, waits included) and the bare floor (FLOOR_BARE=1: without the sysctls
# and the wait for the port, the floor this page used before), with our phases read from
# the plugin's debug log (CNIC_LOG_FILE, one timestamped line per phase).
#
#	make bench-phases          or        test/bench/phases.sh
#
# Sides, alternating call by call in rotating order (test/bench/brbench.c):
#   floor, floor-bare  one node netns with a hand-made bridge (198.18.0.1/16) and its own
#                      fillers (floor-bridge ADDs);
#   v4, v6, masq       our bridge (isGateway, isDefaultGateway) in another node netns, on
#                      one network and one host-local store: IPv4 only, IPv4 + IPv6, IPv4
#                      with ipMasq.  The fillers are "masq" attachments, so the store holds
#                      LEVEL reservations and the masquerade set LEVEL elements.
# Each level is a fresh brbench run: it attaches the fillers, measures, detaches them.
#
# Environment: PHASES_LEVELS ("0 250 1000"), PHASES_N (20) measured calls per side, verb
# and level, PHASES_WARMUP (2), BENCH_OURS_DIR (bin).
# Output: build/bench/phases.tsv (level verb side n median_us p90_us ... errors
# cpu_median_us cpu_p90_us, as brbench -C), build/bench/phases-steps.tsv (level side verb
# step n median_us p90_us) and both as tables on stdout.  Wall times are CLOCK_MONOTONIC
# around spawn..wait4; CPU times the child's user + system time (wait4's rusage: what it
# ran, not what it waited for, the steadier figure on a busy machine); the step times are
# the differences of consecutive log lines (CLOCK_REALTIME, microseconds), so they add up
# to the plugin's wall time minus process start and exit.

set -euo pipefail

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
HERE=$ROOT/test/bench
OUT=$ROOT/build/bench
OURS_DIR=${BENCH_OURS_DIR:-$ROOT/bin}
LEVELS=${PHASES_LEVELS:-0 250 1000}
N=${PHASES_N:-20}
WARMUP=${PHASES_WARMUP:-2}

die() {
	echo "bench-phases: $*" >&2
	exit 1
}
[[ $(id -u) == 0 ]] || die "needs root (network namespaces)"
[[ -x $OURS_DIR/bridge ]] || die "$OURS_DIR/bridge missing (make first)"
MAXL=0
for l in $LEVELS; do
	[[ $l =~ ^[0-9]+$ ]] && ((l <= 1000)) || die "PHASES_LEVELS: 0..1000 (a bridge takes 1024 ports)"
	((l > MAXL)) && MAXL=$l
done

. "$HERE/buildlib.sh"
bench_build brbench floor-bridge

T=$(mktemp -d "${BENCH_TMPDIR:-/var/tmp}/cnic-bench-phases.XXXXXX")
PFX=cnic-ph-$$
NSLIST=$T/netns
: >"$NSLIST"
DRIVER=""

. "$(dirname "$0")/nslib.sh"
cleanup() {
	local rc=$? k

	trap - EXIT INT TERM
	if [[ -n $DRIVER ]]; then
		kill "$DRIVER" 2>/dev/null || true
		wait "$DRIVER" 2>/dev/null || true
	fi
	if [[ -d $T ]]; then
		grep -v -x -e "$PFX-floor" -e "$PFX-ours" "$NSLIST" >"$T/ctrs" || true
		grep -x -e "$PFX-floor" -e "$PFX-ours" "$NSLIST" >"$T/nodes" || true
		del_netns "$T/ctrs"
		del_netns "$T/nodes"
		for ((k = 0; k < 50; k++)); do
			rm -rf -- "$T" 2>/dev/null && break
			sleep 0.1
		done
	fi
	exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

echo "# creating 2 x $MAXL filler netns..." >&2
for side in ff fo; do
	for ((k = 0; k < MAXL; k += 250)); do
		e=$((k + 250 < MAXL ? k + 250 : MAXL))
		mapfile -t names < <(seq -f "$PFX-$side%.0f" "$k" $((e - 1)))
		mkns "${names[@]}"
	done
done
mkns "$PFX-floor" "$PFX-ours"
for s in floor floor-bare v4 v6 masq; do mkns "$PFX-c-$s"; done
ip -n "$PFX-floor" link set lo up
ip -n "$PFX-ours" link set lo up
ip -n "$PFX-floor" link add cni-bench type bridge
ip -n "$PFX-floor" addr add 198.18.0.1/16 dev cni-bench
ip -n "$PFX-floor" link set cni-bench up
mkdir -p "$T/floor" "$T/floor-bare" "$T/data"
cp "$OUT/floor-bridge" "$T/floor/bridge"
# The bare floor is the same program: a wrapper would cost an exec, so a copy reads its name.
cp "$OUT/floor-bridge" "$T/floor-bare/bridge"
echo '{}' >"$T/floor.json"

# One network, one store: the modes differ only in what the plugin does, and each has a
# range of its own so that no two measured containers share an address.
conf() { # mode range_start range_end
	jq -nc --arg d "$T/data" --arg m "$1" --arg a "$2" --arg b "$3" '{cniVersion: "1.0.0",
		name: "bench-ph", type: "bridge", bridge: "cni-ph", isGateway: true,
		isDefaultGateway: true, ipMasq: ($m == "masq"),
		ipam: {type: "host-local", dataDir: $d,
			ranges: ([[{subnet: "198.19.0.0/16", rangeStart: $a, rangeEnd: $b}]] +
				(if $m == "v6" then [[{subnet: "2001:db8:9::/64"}]] else [] end))}}'
}
conf masq 198.19.0.2 198.19.15.255 >"$T/masq.json"
conf v4 198.19.16.1 198.19.16.255 >"$T/v4.json"
conf v6 198.19.17.1 198.19.17.255 >"$T/v6.json"

LOG=$T/phases.log
RAW=$T/raw.tsv
: >"$RAW"
for level in $LEVELS; do
	echo "# $level attached: filling, then n=$N per side and verb..." >&2
	: >"$LOG"
	I=(-I "floor:$T/floor/bridge:$T/floor.json:/run/netns/$PFX-floor:/run/netns/$PFX-c-floor:/run/netns/$PFX-ff"
		-I "floor-bare:$T/floor-bare/bridge:$T/floor.json:/run/netns/$PFX-floor:/run/netns/$PFX-c-floor-bare"
		-I "masq:$OURS_DIR/bridge:$T/masq.json:/run/netns/$PFX-ours:/run/netns/$PFX-c-masq:/run/netns/$PFX-fo"
		-I "v4:$OURS_DIR/bridge:$T/v4.json:/run/netns/$PFX-ours:/run/netns/$PFX-c-v4"
		-I "v6:$OURS_DIR/bridge:$T/v6.json:/run/netns/$PFX-ours:/run/netns/$PFX-c-v6")
	"$OUT/brbench" -c "$level" -v ADD,CHECK,DEL -n "$N" -w "$WARMUP" -p "$level" -u -C \
		-e "CNIC_LOG_FILE=$LOG" -e FLOOR_BRIDGE=cni-bench "${I[@]}" >>"$RAW" &
	DRIVER=$!
	wait "$DRIVER" || die "brbench failed at $level"
	DRIVER=""
	# The steps of the measured calls (not the fillers', not the warm-up's): per process,
	# the time from each log line to the next, named "previous -> this".
	awk -v level="$level" -v warm="$WARMUP" '
	{
		split($1, t, "T"); split(t[2], h, ":"); sub("Z", "", h[3])
		ts = (h[1] * 3600 + h[2] * 60 + h[3]) * 1e6
		cid = $5; sub(":$", "", cid)
		if (cid !~ /^bench-(v4|v6|masq)-[0-9]+$/) next
		n = split(cid, c, "-"); if (c[n] + 0 < warm) next
		side = c[2]; pid = $2; verb = $4
		msg = $0; sub(/^[^ ]+ [^ ]+ [^ ]+ [^ ]+ [^ ]+ /, "", msg)
		gsub(/veth[0-9a-f]+/, "VETH", msg); gsub(/[0-9]+ address\(es\)/, "N address(es)", msg)
		if (pid in last)
			printf "%s\t%s\t%s\t%s -> %s\t%.0f\n", level, side, verb, prev[pid], msg, ts - last[pid]
		last[pid] = ts; prev[pid] = msg
	}' "$LOG" >>"$T/steps.raw"
done

{
	printf 'level\tverb\tside\tn\tmedian_us\tp90_us\trss_median_kb\trss_max_kb\terrors\tcpu_median_us\tcpu_p90_us\n'
	cat "$RAW"
} >"$OUT/phases.tsv"
{
	printf 'level\tside\tverb\tstep\tn\tmedian_us\tp90_us\n'
	sort -t$'\t' -k1,1n -k2,2 -k3,3 -k4,4 -k5,5n "$T/steps.raw" | awk -F'\t' -v OFS='\t' '
	function flush() {
		if (m) print key, m, v[int((m + 1) / 2)], v[int((m * 9 + 9) / 10)]
		m = 0
	}
	{ k = $1 OFS $2 OFS $3 OFS $4; if (k != key) { flush(); key = k } v[++m] = $5 }
	END { flush() }'
} >"$OUT/phases-steps.tsv"

echo
echo "# median us, wall / CPU (user + system), by containers attached"
echo "# floor = the plugin's kernel work, waits included; floor-bare = without sysctls and port wait"
awk -F'\t' 'NR > 1 { v[$1, $2, $3] = sprintf("%d / %d", $5, $10); e[$1] += $9
	if (!($1 in seen)) { seen[$1]; l[++m] = $1 } }
END {
	split("floor floor-bare v4 v6 masq", s, " ")
	printf "%-9s %-6s", "attached", "verb"
	for (j = 1; j <= 5; j++) printf " %16s", s[j]
	printf " %s\n", "errors"
	for (i = 1; i <= m; i++) {
		split("ADD CHECK DEL", vb, " ")
		for (q = 1; q <= 3; q++) {
			printf "%-9s %-6s", l[i], vb[q]
			for (j = 1; j <= 5; j++) printf " %16s", v[l[i], vb[q], s[j]]
			printf " %d\n", q == 1 ? e[l[i]] : 0
		}
	}
}' "$OUT/phases.tsv"
echo
echo "# our steps: median us (p90)"
awk -F'\t' 'NR > 1 { printf "%-5s %-5s %-6s %-60s %7d (%d)\n", $1, $2, $3, $4, $6, $7 }' \
	"$OUT/phases-steps.tsv"
echo "# tearing down..." >&2
