#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
#
# Scaling (root): ADD and DEL of one bridge + portmap attachment with 0, 100, 250, 500 and
# 1000 containers already attached to the same bridge, each with a port mapping of its own;
# ours, the reference and a floor side by side, driven by test/bench/brbench.c.
#
# Each side has its own throwaway node netns (bridge, nftables or iptables state) and IPAM
# store; the filler containers are netns shared by the three sides (ours is eth0 in them,
# the reference eth1, the floor eth2; different subnets).  Fillers are attached through the
# plugins themselves (bridge ADD, then portmap ADD with the bridge result as prevResult, as a
# runtime does), level by level, before each measurement.  At each level brbench alternates,
# call by call, five implementations: the floor (floor-bridge.c: the bridge's kernel
# operations and, as its IPAM, floor-host-local's file work), our bridge, the reference's
# bridge, our portmap and the reference's portmap (the portmap calls get a fixed
# prevResult).  The attachment's time is the sum of the bridge's and the portmap's medians.
# A sixth, "floor-ours", is the same floor run on our node, on our bridge among our fillers
# (hairpin ports, port mappings), its store holding copies of our reservations: the floor
# in our environment, which the issue-16 target compares our bridge with.
#
# Environment: BENCH_SCALE_N (20) measured attachments per level, BENCH_WARMUP (2),
# BENCH_SCALE_LEVELS ("0 100 250 500 1000", ascending, at most 1000: a bridge takes 1024
# ports), BENCH_SCALE_JOBS (3) parallel fillers for the reference (ours and the floor use
# one each), BENCH_OURS_DIR, BENCH_REF_DIR.
# Output: a table on stdout, build/bench/scale.tsv (level verb impl n median_us p90_us
# rss_median_kb rss_max_kb errors; impl "ours"/"ref" rows are bridge + portmap) and
# build/bench/scale-fill.tsv (level impl attached fill_failures fill_seconds).

set -euo pipefail

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
HERE=$ROOT/test/bench
OUT=$ROOT/build/bench
OURS_DIR=${BENCH_OURS_DIR:-$ROOT/bin}
REF_DIR=${BENCH_REF_DIR:-/usr/lib/cni}
N=${BENCH_SCALE_N:-20}
WARMUP=${BENCH_WARMUP:-2}
LEVELS=${BENCH_SCALE_LEVELS:-0 100 250 500 1000}
JOBS=${BENCH_SCALE_JOBS:-3}

die() {
	echo "bench-scale: $*" >&2
	exit 1
}

# Filler mode, run by the main script inside a node netns (see fill below):
#	scale.sh --fill IMPL FROM TO
# attaches fillers FROM..TO-1 for one implementation; prints one line "failures".
if [[ ${1:-} == --fill ]]; then
	impl=$2 from=$3 to=$4 fails=0
	dir=$SC_OURS_DIR ifn=eth0
	[[ $impl == ref ]] && dir=$SC_REF_DIR ifn=eth1
	[[ $impl == floor ]] && ifn=eth2
	err=$SC_T/fill-$impl.err
	# call PLUGIN STDIN: one ADD for filler $j; its output in $res, failures logged.
	call() {
		local bin=$dir/$1

		[[ $impl == floor ]] && bin=$SC_FLOOR
		res=$(CNI_COMMAND=ADD CNI_CONTAINERID=filler-$j CNI_NETNS=/run/netns/$SC_PFX-f$j \
			CNI_IFNAME=$ifn CNI_PATH=$dir "$bin" <<<"$2" 2>>"$err.stderr") && return 0
		echo "$1 ADD filler-$j: ${res//$'\n'/ }" >>"$err"
		return 1
	}
	br={}
	[[ $impl == floor ]] || br=$(<"$SC_T/br-$impl.json")
	for ((j = from; j < to; j++)); do
		# Bounded retries: a filler that fails is counted, never waited for forever.  The
		# bridge ADD cleans up after itself when it fails, so it can simply be repeated.
		ok=0
		for _ in 1 2 3; do
			call bridge "$br" && ok=1 && break
		done
		if [[ $ok == 1 && $impl != floor ]]; then
			pm='{"cniVersion":"1.0.0","name":"bench-sc","type":"portmap","snat":true,'
			pm+='"runtimeConfig":{"portMappings":[{"hostPort":'$((10000 + j))
			pm+=',"containerPort":80,"protocol":"tcp"}]},"prevResult":'$res'}'
			ok=0
			for _ in 1 2 3; do
				call portmap "$pm" && ok=1 && break
			done
		fi
		[[ $ok == 1 ]] || fails=$((fails + 1))
	done
	echo "$fails"
	exit 0
fi

[[ $(id -u) == 0 ]] || die "needs root (network namespaces)"
[[ $N =~ ^[1-9][0-9]*$ ]] || die "BENCH_SCALE_N must be a positive integer"
[[ $JOBS =~ ^[1-9][0-9]?$ ]] || die "BENCH_SCALE_JOBS must be 1-99"
prev=-1
for l in $LEVELS; do
	[[ $l =~ ^[0-9]+$ && $l -gt $prev && $l -le 1000 ]] ||
		die "BENCH_SCALE_LEVELS must ascend, each 0-1000"
	prev=$l
done
MAXL=$prev
for p in bridge portmap; do
	[[ -x $OURS_DIR/$p ]] || die "$OURS_DIR/$p not built"
	[[ -x $REF_DIR/$p ]] || die "reference $REF_DIR/$p missing"
done

. "$HERE/buildlib.sh"
bench_build brbench floor-bridge

T=$(mktemp -d "${BENCH_TMPDIR:-/var/tmp}/cnic-bench-scale.XXXXXX")
PFX=cnic-bs-$$
NSLIST=$T/netns		# every netns this run created, one a line
: >"$NSLIST"
FILL_PIDS=()		# fillers or the driver, running in the background

. "$(dirname "$0")/nslib.sh"

# attached IMPL: how many fillers (and leftovers) are ports of that side's bridge.
attached() {
	local br=cni-sc

	[[ $1 == floor ]] && br=cni-bench
	ip -n "$PFX-$1" -o link show master "$br" 2>/dev/null | wc -l
}

cleanup() {
	local rc=$? pid k

	trap - EXIT INT TERM
	for pid in "${FILL_PIDS[@]}"; do
		kill "$pid" 2>/dev/null || true
	done
	for pid in "${FILL_PIDS[@]}"; do
		wait "$pid" 2>/dev/null || true
	done
	if [[ -d $T ]]; then
		# Containers first (fillers and the measured ones), then wait, at most a minute,
		# until the kernel has taken their links off the bridges, so the next benchmark
		# does not run under this teardown; then the nodes.
		grep -v -x -e "$PFX-floor" -e "$PFX-ours" -e "$PFX-ref" "$NSLIST" >"$T/ctrs" || true
		grep -x -e "$PFX-floor" -e "$PFX-ours" -e "$PFX-ref" "$NSLIST" >"$T/nodes" || true
		del_netns "$T/ctrs"
		k=$((SECONDS + 60))
		while ((SECONDS < k)); do
			(($(attached floor) + $(attached ours) + $(attached ref) == 0)) && break
			sleep 0.2
		done
		del_netns "$T/nodes"
		# A plugin still running (its filler was stopped) may write there for a moment.
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

# Fillers first (the node netns are created after them, so the host ends of the veths never
# outlive a node in the middle of a cleanup).
echo "# creating $MAXL filler netns..." >&2
if ((MAXL > 0)); then
	mapfile -t fillers < <(seq -f "$PFX-f%.0f" 0 $((MAXL - 1)))
	for ((k = 0; k < MAXL; k += 250)); do
		mkns "${fillers[@]:k:250}"
	done
fi
for s in floor ours ref; do
	mkns "$PFX-$s" "$PFX-$s-c"
	ip -n "$PFX-$s" link set lo up
done
# The floor: a bridge like the plugins', made by hand (floor-bridge.c's assumptions).
ip -n "$PFX-floor" link add cni-bench type bridge
ip -n "$PFX-floor" addr add 198.18.0.1/16 dev cni-bench
ip -n "$PFX-floor" link set cni-bench up
mkdir -p "$T/floor"
cp "$OUT/floor-bridge" "$T/floor/bridge"
# Its IPAM: with store/ next to it, floor-bridge does host-local's file work in-process, as
# our bridge does; the store gets a reservation per filler, as the plugins' stores do.
mkdir "$T/floor/store"
# The floor on our node: our bridge (named in bridge-name), a store of its own.
mkdir -p "$T/floor-ours/store"
cp "$OUT/floor-bridge" "$T/floor-ours/bridge"
echo cni-sc >"$T/floor-ours/bridge-name"
mkns "$PFX-floor-ours-c"

# Configs: the bridge (also what fillers use) and the portmap with a fixed prevResult.
declare -A SUBNET=([ours]=198.19.0.0/17 [ref]=198.19.128.0/17)
declare -A PMADDR=([ours]=198.19.127.250/17 [ref]=198.19.255.250/17)
for s in ours ref; do
	mkdir -p "$T/data-$s"
	jq -nc --arg d "$T/data-$s" --arg s "${SUBNET[$s]}" '{cniVersion: "1.0.0",
		name: "bench-sc", type: "bridge", bridge: "cni-sc", isGateway: true,
		hairpinMode: true, ipam: {type: "host-local", dataDir: $d, ranges: [[{subnet: $s}]]}}' \
		>"$T/br-$s.json"
	jq -nc --arg a "${PMADDR[$s]}" --arg ns "/run/netns/$PFX-$s-c" '{cniVersion: "1.0.0",
		name: "bench-sc", type: "portmap", snat: true,
		runtimeConfig: {portMappings: [{hostPort: 8080, containerPort: 80, protocol: "tcp"}]},
		prevResult: {cniVersion: "1.0.0",
			interfaces: [{name: "cni-sc"}, {name: "eth0", sandbox: $ns}],
			ips: [{address: $a, interface: 1}]}}' >"$T/pm-$s.json"
done
echo '{}' >"$T/floor.json"
export SC_PFX=$PFX SC_T=$T SC_OURS_DIR=$OURS_DIR SC_REF_DIR=$REF_DIR SC_FLOOR=$T/floor/bridge

RAW=$T/raw.tsv
FILL=$T/fill.tsv
: >"$RAW"
: >"$FILL"
have=0
for level in $LEVELS; do
	if ((level > have)); then
		echo "# attaching containers $have..$((level - 1)) (ours, reference, floor)..." >&2
		t0=$EPOCHREALTIME
		declare -A shards=([floor]=1 [ours]=1 [ref]=$JOBS)
		FILL_PIDS=()
		for s in floor ours ref; do
			n=$((level - have)) k=${shards[$s]}
			for ((q = 0; q < k; q++)); do
				a=$((have + n * q / k)) b=$((have + n * (q + 1) / k))
				nsenter --net="/run/netns/$PFX-$s" "$BASH" "$0" --fill "$s" "$a" "$b" \
					>"$T/fails-$s-$q" &
				FILL_PIDS+=($!)
			done
		done
		for pid in "${FILL_PIDS[@]}"; do
			wait "$pid" || die "a filler died (see $T/fill-*.err)"
		done
		FILL_PIDS=()
		secs=$(awk -v a="$t0" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.1f", b - a }')
		for s in floor ours ref; do
			f=$(cat "$T"/fails-$s-* | awk '{ n += $1 } END { print n + 0 }')
			printf '%s\t%s\t%s\t%s\t%s\n' "$level" "$s" "$(attached "$s")" "$f" "$secs" >>"$FILL"
			if [[ $f != 0 ]]; then
				echo "# $s: $f filler(s) failed; first errors:" >&2
				head -3 "$T/fill-$s.err" >&2 || true
			fi
		done
		have=$level
	fi
	echo "# measuring with $level attached (n=$N)..." >&2
	# floor-ours' store: what ours holds now (its fillers' reservations), so its DEL scans
	# as many owners as ours.
	find "$T/floor-ours/store" -maxdepth 1 -name '198.*' -delete
	find "$T/data-ours/bench-sc" -maxdepth 1 -name '198.*' -exec cp -t "$T/floor-ours/store" {} + \
		2>/dev/null || true
	I=(-I "floor:$T/floor/bridge:$T/floor.json:/run/netns/$PFX-floor:/run/netns/$PFX-floor-c")
	I+=(-I "floor-ours:$T/floor-ours/bridge:$T/floor.json:/run/netns/$PFX-ours:/run/netns/$PFX-floor-ours-c")
	for s in ours ref; do
		dir=$OURS_DIR
		[[ $s == ref ]] && dir=$REF_DIR
		I+=(-I "$s-bridge:$dir/bridge:$T/br-$s.json:/run/netns/$PFX-$s:/run/netns/$PFX-$s-c")
		I+=(-I "$s-portmap:$dir/portmap:$T/pm-$s.json:/run/netns/$PFX-$s:/run/netns/$PFX-$s-c")
	done
	# In the background, so a signal is handled now, not when the driver is done.
	"$OUT/brbench" -c "$level" -v ADD,DEL -n "$N" -w "$WARMUP" "${I[@]}" >>"$RAW" &
	FILL_PIDS=($!)
	wait "${FILL_PIDS[0]}" || die "brbench failed at $level"
	FILL_PIDS=()
done

# The attachment = bridge + portmap (medians and p90s added; RSS: the larger of the two).
{
	printf 'level\tverb\timpl\tn\tmedian_us\tp90_us\trss_median_kb\trss_max_kb\terrors\n'
	cat "$RAW"
	awk -F'\t' -v OFS='\t' '$3 ~ /-(bridge|portmap)$/ {
		split($3, p, "-"); k = $1 SUBSEP $2 SUBSEP p[1]
		if (!(k in n)) { order[++m] = k; n[k] = $4 }
		med[k] += $5; p90[k] += $6; err[k] += $9
		if ($7 > rss[k]) rss[k] = $7
		if ($8 > rmax[k]) rmax[k] = $8
	}
	END {
		for (i = 1; i <= m; i++) {
			k = order[i]; split(k, f, SUBSEP)
			print f[1], f[2], f[3], n[k], med[k], p90[k], rss[k], rmax[k], err[k]
		}
	}' "$RAW"
} >"$OUT/scale.tsv"
{
	printf 'level\timpl\tattached\tfill_failures\tfill_seconds\n'
	cat "$FILL"
} >"$OUT/scale-fill.tsv"

echo
echo "# attachment (bridge + portmap) median us by containers already attached; floor = bridge kernel ops"
awk -F'\t' 'NR > 1 && ($3 == "ours" || $3 == "ref" || $3 == "floor") {
	v[$1 SUBSEP $2 SUBSEP $3] = $5; if (!($1 in seen)) { seen[$1]; l[++m] = $1 }
	if ($9 > 0) e[$1] += $9
}
END {
	printf "%-8s %10s %10s %10s %10s %10s %10s %s\n", "attached", "ours ADD", "ref ADD",
	       "floor ADD", "ours DEL", "ref DEL", "floor DEL", "errors"
	for (i = 1; i <= m; i++)
		printf "%-8s %10d %10d %10d %10d %10d %10d %d\n", l[i], v[l[i], "ADD", "ours"],
		       v[l[i], "ADD", "ref"], v[l[i], "ADD", "floor"], v[l[i], "DEL", "ours"],
		       v[l[i], "DEL", "ref"], v[l[i], "DEL", "floor"], e[l[i]]
}' "$OUT/scale.tsv"
column -t "$OUT/scale-fill.tsv"
echo "# tearing down $MAXL filler netns..." >&2
