#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
#
# make bench: our plugins (bin/<plugin>) against the reference (/usr/lib/cni/<plugin>), side by
# side in one run, same config, calls strictly alternating (see test/bench/measure.c).
#
# Everything runs inside a throwaway "node" netns, with a throwaway container netns as CNI_NETNS
# and IPAM state in a private temp dir; nothing on this machine's own network is touched.
#
# Environment:
#   BENCH_N=200          measured iterations per case (each = every verb once per implementation)
#   BENCH_WARMUP=5       unrecorded iterations per case first
#   BENCH_CASES="a b"    run only these cases (names from the table below)
#   BENCH_OURS_DIR=bin   where our binaries are (point it at /usr/lib/cni to bench ref vs ref)
#   BENCH_REF_DIR=/usr/lib/cni
#   BENCH_TMPDIR=/var/tmp  parent of the state dir (same filesystem as /var/lib/cni, normally)
#   BENCH_VERBOSE=1      print every failing call, not just the first few
#
# Output: a table on stdout, build/bench/results.tsv (one row per case and verb) and
# build/bench/env.txt (machine, kernel, versions).  Targets print PASS/MISS; the exit status is
# non-zero only if the harness itself breaks, never because a target was missed.

set -euo pipefail

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
HERE=$ROOT/test/bench
OUT=$ROOT/build/bench
OURS_DIR=${BENCH_OURS_DIR:-$ROOT/bin}
REF_DIR=${BENCH_REF_DIR:-/usr/lib/cni}
N=${BENCH_N:-200}
WARMUP=${BENCH_WARMUP:-5}

# The cases.  To add a plugin: drop test/bench/conf/<conf>.json and add one line.
#   name        unique case name (the table's first column)
#   plugin      binary name, looked up in OURS_DIR and REF_DIR
#   verbs       run in this order for every container id; ADD first, DEL last
#   prepop      this many other containers are ADDed first (and DELed after) to show scaling
#   conf        file in test/bench/conf/; @DATADIR@, @IMPL@ (ours|ref), @IMPLNO@ (0|1) and @NODE@ are substituted,
#               so each side gets its own IPAM store / bridge name and they never interfere
#   ifname      CNI_IFNAME
#   target      verbs held to the issue's targets (time <= 1/5, peak RSS <= 1/2 of reference), or -
# A case may need something in the node netns first (a master link for macvlan, say): define a
# function setup_<name with - and @ turned into _> below; it gets the node netns name as $1 and
# runs after the netns exist, before the case.
CASES=(
#	name		plugin		verbs		prepop	conf		ifname	target
	"host-local	host-local	ADD,CHECK,DEL	0	host-local.json	eth0	ADD,DEL"
	"host-local@250	host-local	ADD,CHECK,DEL	250	host-local.json	eth0	-"
	"static		static		ADD,CHECK,DEL	0	static.json	eth0	-"
	"loopback	loopback	ADD,CHECK,DEL	0	loopback.json	lo	ADD,DEL"
	"portmap	portmap		ADD,CHECK,DEL	0	portmap.json	eth0	-"
	"portmap@1000	portmap		ADD,DEL		0	portmap.json	eth0	-"
	"sbr		sbr		ADD,CHECK,DEL	0	sbr.json	eth0	-"
)
# shellcheck disable=SC1090 # the setup-*.sh found at run time
for f in "$(dirname "$0")"/setup-*.sh; do [[ -e $f ]] && . "$f"; done
TARGET_TIME=0.2
TARGET_RSS=0.5

NODE=""
CTR=""
T=""
DRIVER_PID=""

cleanup() {
	local rc=$?

	trap - EXIT INT TERM
	if [[ -n $DRIVER_PID ]] && kill -0 "$DRIVER_PID" 2>/dev/null; then
		kill "$DRIVER_PID" 2>/dev/null || true
		wait "$DRIVER_PID" 2>/dev/null || true
	fi
	[[ -n $CTR ]] && ip netns del "$CTR" 2>/dev/null
	[[ -n $NODE ]] && ip netns del "$NODE" 2>/dev/null
	[[ -n $T && -d $T ]] && rm -rf -- "$T"
	exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

die() {
	echo "bench: $*" >&2
	exit 1
}

[[ $(id -u) == 0 ]] || die "needs root (network namespaces)"
[[ $N =~ ^[1-9][0-9]*$ ]] || die "BENCH_N must be a positive integer"
[[ $WARMUP =~ ^[0-9]+$ ]] || die "BENCH_WARMUP must be a non-negative integer"

mkdir -p "$OUT"
# Static and tiny on purpose: ru_maxrss includes the driver's image (see measure.c).
BENCH_CFLAGS=(-std=gnu11 -O2 -Wall -Wextra -Wshadow -Wformat=2 -Wmissing-prototypes
	-Wstrict-prototypes -Werror -D_GNU_SOURCE)
build() { # out src [flags]
	local out=$1 src=$2

	shift 2
	if [[ ! -x $out || $src -nt $out ]]; then
		${CC:-cc} "${BENCH_CFLAGS[@]}" "$@" -o "$out" "$src" || die "cannot build $out"
	fi
}
build "$OUT/measure" "$HERE/measure.c" -static
build "$OUT/nop-static" "$HERE/nop.c" -static
build "$OUT/nop" "$HERE/nop.c"

T=$(mktemp -d "${BENCH_TMPDIR:-/var/tmp}/cnic-bench.XXXXXX")
NODE=cnic-bench-node-$$
CTR=cnic-bench-ctr-$$
ip netns add "$NODE" || { NODE=""; die "ip netns add failed"; }
ip netns add "$CTR" || { CTR=""; die "ip netns add failed"; }
ip -n "$NODE" link set lo up
ip -n "$CTR" link set lo up

{
	echo "date:     $(date -u +%Y-%m-%dT%H:%M:%SZ)"
	echo "host:     $(uname -n), $(nproc) CPU ($(sed -n 's/^model name[[:space:]]*: //p' \
		/proc/cpuinfo | head -1)), $(awk '/MemTotal/ {printf "%d MiB", $2/1024}' /proc/meminfo)"
	echo "kernel:   $(uname -r)"
	echo "ours:     $OURS_DIR ($(git -C "$ROOT" describe --always --dirty 2>/dev/null || echo unknown)), $(${CC:-cc} --version | head -1)"
	echo "ref:      $REF_DIR ($(dpkg-query -W -f '${Package} ${Version}' containernetworking-plugins 2>/dev/null || echo unknown))"
	echo "state:    $T ($(findmnt -no FSTYPE --target "$T" 2>/dev/null || stat -f -c %T "$T"))"
	echo "load:     $(cut -d" " -f1-3 /proc/loadavg) (1/5/15 min, at start)"
	echo "settings: BENCH_N=$N BENCH_WARMUP=$WARMUP, calls alternate ours/ref"
} >"$OUT/env.txt"
sed 's/^/# /' "$OUT/env.txt"

RAW=$T/raw.tsv
: >"$RAW"

# What process creation alone costs here: a no-op, static and dynamic (libc only; our plugins
# are dynamic too), through the same driver.  No plugin can go below these.
echo '{}' >"$T/nop.json"
nsenter --net="/run/netns/$NODE" "$OUT/measure" -c floor -v ADD -n "$N" -w "$WARMUP" \
	-s "/run/netns/$CTR" -a "$OUT/nop-static" -A "$T/nop.json" -b "$OUT/nop" \
	-B "$T/nop.json" >"$T/floor.tsv" || die "driver failed on the no-op baseline"
FLOOR=$(awk -F'\t' '$1 == "floor" {
	printf "floor:    a no-op binary costs %d us / %d kB static, %d us / %d kB dynamic", \
		$4, $8, $6, $9 }
	$1 == "#floor" { printf " (driver itself %d kB)", $2 }' "$T/floor.tsv")
echo "$FLOOR" >>"$OUT/env.txt"
echo "# $FLOOR"
STATUS=$T/status.tsv	# case, note
: >"$STATUS"
declare -A PLUGIN_OF TARGET_OF SET_UP

for line in "${CASES[@]}"; do
	read -r name plugin verbs prepop conf ifname target <<<"$line"
	PLUGIN_OF[$name]=$plugin
	TARGET_OF[$name]=$target
	if [[ -n ${BENCH_CASES:-} && " $BENCH_CASES " != *" $name "* ]]; then
		continue
	fi
	ours=$OURS_DIR/$plugin
	ref=$REF_DIR/$plugin
	if [[ ! -x $ref ]]; then
		printf '%s\t%s\n' "$name" "reference $ref missing, skipped" >>"$STATUS"
		continue
	fi
	if [[ ! -x $ours ]]; then
		printf '%s\t%s\n' "$name" "ours ($ours) missing, skipped" >>"$STATUS"
		continue
	fi
	hook=setup_${name//[-@]/_}
	if declare -F "$hook" >/dev/null; then
		"$hook" "$NODE"
		SET_UP[$name]=1
	fi
	for impl in ours ref; do
		mkdir -p "$T/$name/$impl/data"
		implno=0
		[[ $impl == ref ]] && implno=1
		sed -e "s|@DATADIR@|$T/$name/$impl/data|g" -e "s|@IMPL@|$impl|g" -e "s|@IMPLNO@|$implno|g" \
			-e "s|@NODE@|$NODE|g" "$HERE/conf/$conf" >"$T/$name/$impl/conf.json"
	done
	extra=()
	[[ -n ${BENCH_VERBOSE:-} ]] && extra+=(-V)
	echo "# running $name ($verbs, n=$N, $prepop other containers present)..." >&2
	nsenter --net="/run/netns/$NODE" "$OUT/measure" -c "$name" -v "$verbs" -n "$N" \
		-w "$WARMUP" -p "$prepop" -i "$ifname" -s "/run/netns/$CTR" \
		-a "$ours" -A "$T/$name/ours/conf.json" -b "$ref" -B "$T/$name/ref/conf.json" \
		"${extra[@]}" >>"$RAW" &
	DRIVER_PID=$!
	if ! wait "$DRIVER_PID"; then
		printf '%s\t%s\n' "$name" "driver failed, case incomplete (see above)" >>"$STATUS"
	fi
	DRIVER_PID=""
	# Every ADD was paired with a DEL: whatever is left in a store is a leak.
	for impl in ours ref; do
		# Not counted: the network's lock and round-robin files, kept as the reference
		# keeps them.  cnic's hints and boot marker (.cnic-hint.*, .cnic-boot) go with the last DEL.
		left=$(find "$T/$name/$impl/data" -type f ! -name lock \
			! -name 'last_reserved_ip.*' -printf '%P ' | head -c 300)
		if [[ -n $left ]]; then
			printf '%s\t%s\n' "$name" "$impl left behind after DEL: $left" >>"$STATUS"
		fi
	done
done

# Floors of their own (a program doing the plugin's kernel or store work and nothing else,
# started like a plugin), alternating with our plugin: host-local's store work
# (floor-host-local.c: the lock, the reservation files, and for DEL the scan of every owner
# that the on-disk format forces, over a store with as many other reservations), loopback's
# and sbr's netlink requests, portmap's nftables transaction (portmap@1000: with 1000 other
# attachments in the floor's table too, made by a hook floor_setup_<case> given the node and the
# floor binary).  static has no kernel work: its
# floor is the static no-op process, here alternating with it as the others do (the line
# above measures it alone, before anything).  build/bench/floors.tsv: case verb n floor_med_us
# floor_p90_us ours_med_us ours_p90_us kind.
declare -A FLOOR_OF=([host-local]=floor-host-local [host-local@250]=floor-host-local
	[loopback]=floor-loopback [sbr]=floor-sbr [portmap]=floor-portmap
	[portmap@1000]=floor-portmap [static]=nop-static)
printf 'case\tverb\tn\tfloor_med_us\tfloor_p90_us\tours_med_us\tours_p90_us\tkind\n' >"$OUT/floors.tsv"
for line in "${CASES[@]}"; do
	read -r name plugin verbs prepop conf ifname target <<<"$line"
	fb=${FLOOR_OF[$name]:-}
	[[ -n $fb && -f $HERE/${fb%-static}.c ]] || continue
	[[ -z ${BENCH_CASES:-} || " $BENCH_CASES " == *" $name "* ]] || continue
	[[ -x $OURS_DIR/$plugin ]] || continue
	build "$OUT/$fb" "$HERE/${fb%-static}.c" -static
	kind=kernel
	[[ $plugin == host-local ]] && kind=store
	[[ $fb == nop-static ]] && kind=process
	hook=setup_${name//[-@]/_}
	if [[ -z ${SET_UP[$name]:-} ]] && declare -F "$hook" >/dev/null; then
		"$hook" "$NODE"
		SET_UP[$name]=1
	fi
	d=$T/floor-$name
	mkdir -p "$d/bin" "$d/ours"
	cp "$OUT/$fb" "$d/bin/$plugin"
	fhook=floor_setup_${name//[-@]/_}
	if declare -F "$fhook" >/dev/null; then
		echo "# setting up $name's floor..." >&2
		"$fhook" "$NODE" "$d/bin/$plugin"
	fi
	# The floor takes the reference's slot (@IMPLNO@ 1): its own address, table, store.
	# Ours gets a network of its own as the floor does, unless a floor hook gave both the
	# same company: portmap@1000's setup (main loop, kept) filled ours' case network, so in
	# the "portmap" row ours' DEL was never the network's last while the floor's always was.
	oimpl=ours
	[[ $plugin == portmap ]] && ! declare -F "$fhook" >/dev/null && oimpl="ours-floor"
	sed -e "s|@DATADIR@|$d/ours|g" -e "s|@IMPL@|floor|g" -e "s|@IMPLNO@|1|g" \
		-e "s|@NODE@|$NODE|g" "$HERE/conf/$conf" >"$d/floor.json"
	sed -e "s|@DATADIR@|$d/ours|g" -e "s|@IMPL@|$oimpl|g" -e "s|@IMPLNO@|0|g" \
		-e "s|@NODE@|$NODE|g" "$HERE/conf/$conf" >"$d/ours.json"
	echo "# running $name's floor ($fb against ours, $prepop others present)..." >&2
	nsenter --net="/run/netns/$NODE" "$OUT/measure" -c "$name" -v "$verbs" -n "$N" \
		-w "$WARMUP" -p "$prepop" -i "$ifname" -s "/run/netns/$CTR" \
		-a "$d/bin/$plugin" -A "$d/floor.json" -b "$OURS_DIR/$plugin" -B "$d/ours.json" \
		>"$d/raw.tsv" &
	DRIVER_PID=$!
	if wait "$DRIVER_PID"; then
		awk -F'\t' -v OFS='\t' -v k="$kind" '!/^#/ && $12 + $13 == 0 { print $1, $2, $3, $4, $5, $6, $7, k }' \
			"$d/raw.tsv" >>"$OUT/floors.tsv"
		awk -F'\t' '!/^#/ && $12 + $13 > 0 { printf "%s\t%s floor: %s failed calls (floor %d, ours %d)\n", $1, $1, $2, $12, $13 }' \
			"$d/raw.tsv" >>"$STATUS"
	else
		printf '%s\t%s\n' "$name" "its floor's driver failed" >>"$STATUS"
	fi
	DRIVER_PID=""
done

# Ratios and targets.  results.tsv is for machines (the performance report charts it).
awk -F'\t' -v OFS='\t' -v tt="$TARGET_TIME" -v tr="$TARGET_RSS" \
	-v targets="$(for k in "${!TARGET_OF[@]}"; do printf '%s=%s;' "$k" "${TARGET_OF[$k]}"; done)" \
	-v plugins="$(for k in "${!PLUGIN_OF[@]}"; do printf '%s=%s;' "$k" "${PLUGIN_OF[$k]}"; done)" '
function map(s, m,    a, i, kv) {
	n = split(s, a, ";")
	for (i = 1; i <= n; i++)
		if (split(a[i], kv, "=") == 2)
			m[kv[1]] = kv[2]
}
BEGIN {
	map(targets, tg); map(plugins, pl)
	print "case", "plugin", "verb", "n", "ours_med_us", "ours_p90_us", "ref_med_us", "ref_p90_us",
	      "time_ratio", "ours_rss_kb", "ref_rss_kb", "ours_rss_max_kb", "ref_rss_max_kb",
	      "rss_ratio", "ours_errors", "ref_errors", "target"
}
{
	tratio = $6 > 0 ? sprintf("%.3f", $4 / $6) : "nan"
	rratio = $9 > 0 ? sprintf("%.3f", $8 / $9) : "nan"
	verdict = "-"
	if (index("," tg[$1] ",", "," $2 ",")) {
		if ($12 > 0 || $13 > 0)
			verdict = "ERR"
		else if (tratio + 0 <= tt && rratio + 0 <= tr)
			verdict = "PASS"
		else
			verdict = "MISS"
	} else if ($12 > 0 || $13 > 0) {
		verdict = "ERR"
	}
	print $1, pl[$1], $2, $3, $4, $5, $6, $7, tratio, $8, $9, $10, $11, rratio, $12, $13, verdict
}' <(grep -v '^#' "$RAW") >"$OUT/results.tsv"

echo
echo "# wall time in microseconds (median, p90), peak RSS in kB (median of ru_maxrss);"
echo "# ratio = ours/ref; target: time <= $TARGET_TIME and RSS <= $TARGET_RSS of the reference"
awk -F'\t' 'NR > 1 {
	printf "%-15s %-5s %8d %8d %8d %8d %6.2f %8d %8d %6.2f  %s%s\n", $1, $3, $5, $6, $7, $8,
	       $9, $10, $11, $14, $17, ($15 + $16 > 0) ? "  (errors: ours " $15 ", ref " $16 ")" : ""
}' "$OUT/results.tsv" | {
	printf '%-15s %-5s %8s %8s %8s %8s %6s %8s %8s %6s  %s\n' case verb ours_med ours_p90 \
		ref_med ref_p90 ratio ours_rss ref_rss rss_r target
	cat
}
while IFS=$'\t' read -r name note; do
	echo "# $name: $note"
done <"$STATUS"
echo "# $FLOOR"
echo "# results: $OUT/results.tsv ($OUT/env.txt)"
