#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
#
# Bridge benchmarks (root): ours, the reference and a floor program side by
# side, each in its own throwaway node netns (nothing touches this machine's
# network).  test/bench/brbench.c drives them (a container netns per
# implementation; measure.c shares one and cannot hold two eth0s or 500
# attached containers).
#
#   bridge       ADD,CHECK,DEL   floor / ours / ref   v4 host-local, isDefaultGateway
#   bridge-masq  ADD,DEL         floor / ours / ref   + ipMasq (the reference execs iptables;
#                                                     the floor adds floormasq.h's nftables work)
#   bridge@500   ADD,DEL         floor and ours, empty and with 500 containers attached; ref with 500
#
# Targets (issue 3): ADD <= 1.5x floor and <= 1/5 of the reference (1/10 with
# ipMasq); DEL <= floor + 2 ms (1/3 of the reference with ipMasq); peak RSS
# <= 1/3 of the reference; ADD with 500 attached <= 1.2x ADD on an empty bridge.
#
# Environment: BENCH_N (default 100), BENCH_WARMUP (3), BENCH_FILL (500),
# BENCH_CASES ("bridge bridge-masq bridge@500"), BENCH_OURS_DIR, BENCH_REF_DIR.
# Output: a table on stdout and build/bench/bridge.tsv.

set -euo pipefail

N=${BENCH_N:-100}
WARMUP=${BENCH_WARMUP:-3}
FILL=${BENCH_FILL:-500}
CASES=${BENCH_CASES:-bridge bridge-masq bridge@500}
export BENCH_NAME=bench-bridge # read by brlib.sh
. "$(dirname "$0")/brlib.sh"
OURS=$OURS_DIR/bridge
REF=$REF_DIR/bridge

[[ -x $OURS ]] || die "$OURS not built"
[[ -x $REF ]] || die "reference $REF missing"
bench_build brbench floor-bridge
# The floor is started through CNI_PATH like a plugin: give it its own directory.  Its
# store/ there makes it do host-local's file work in-process, as our bridge does.
mkdir -p "$OUT/floor"
cp "$OUT/floor-bridge" "$OUT/floor/bridge"
rm -rf -- "$OUT/floor/store"
mkdir "$OUT/floor/store"
bench_tmp bb

# conf IMPL EXTRA_JSON: the bench config for one implementation.
conf() {
	local f=$T/conf-$1.json
	mkdir -p "$T/data-$1"
	jq -nc --arg d "$T/data-$1" --argjson x "${2:-{\}}" '{
		cniVersion: "1.0.0", name: "bench-br", type: "bridge", bridge: "cni-bench",
		isDefaultGateway: true,
		ipam: {type: "host-local", dataDir: $d, ranges: [[{subnet: "198.18.0.0/16"}]]}} + $x' >"$f"
	echo "$f"
}

# impl NAME BIN EXTRA_JSON [FILL]: a node + container netns for one side; prints the -I value.
impl() {
	local name=$1 bin=$2 x=$3 fill=${4:-0} node=$PFX-$1 ctr=$PFX-$1-c spec
	mkns "$node"
	mkns "$ctr"
	spec="$name:$bin:$(conf "$name" "$x"):/run/netns/$node:/run/netns/$ctr"
	if [[ $fill != 0 ]]; then
		for ((j = 0; j < fill; j++)); do mkns "$ctr-f$j"; done
		spec+=":/run/netns/$ctr-f"
	fi
	if [[ $name == floor* ]]; then
		ip -n "$node" link add cni-bench type bridge
		ip -n "$node" addr add 198.18.0.1/16 dev cni-bench
		ip -n "$node" link set cni-bench up
	fi
	echo "$spec"
}

RAW=$T/raw.tsv
: >"$RAW"
for c in $CASES; do
	echo "# running $c (n=$N)..." >&2
	case $c in
	bridge)
		"$OUT/brbench" -c "$c" -v ADD,CHECK,DEL -n "$N" -w "$WARMUP" \
			-I "$(impl floor "$OUT/floor/bridge" '{}')" \
			-I "$(impl ours "$OURS" '{}')" -I "$(impl ref "$REF" '{}')" >>"$RAW"
		;;
	bridge-masq)
		"$OUT/brbench" -c "$c" -v ADD,DEL -n "$N" -w "$WARMUP" \
			-I "$(impl floorm "$OUT/floor/bridge" '{"ipMasq": true}')" \
			-I "$(impl oursm "$OURS" '{"ipMasq": true}')" \
			-I "$(impl refm "$REF" '{"ipMasq": true}')" >>"$RAW"
		;;
	bridge@500)
		echo "# creating $((3 * FILL)) filler netns..." >&2
		"$OUT/brbench" -c "$c" -v ADD,DEL -n "$N" -w "$WARMUP" -p "$FILL" \
			-I "$(impl floor0 "$OUT/floor/bridge" '{}')" \
			-I "$(impl floor500 "$OUT/floor/bridge" '{}' "$FILL")" \
			-I "$(impl ours0 "$OURS" '{}')" \
			-I "$(impl ours500 "$OURS" '{}' "$FILL")" \
			-I "$(impl ref500 "$REF" '{}' "$FILL")" >>"$RAW"
		;;
	*) die "unknown case $c" ;;
	esac
done

cp "$RAW" "$OUT/bridge.tsv"

echo
echo "# case verb impl n median_us p90_us rss_median_kb rss_max_kb errors"
column -t -s $'\t' "$RAW"
echo
echo "# targets"
if has bridge ADD ours; then
	a=$(med bridge ADD ours) f=$(med bridge ADD floor) r=$(med bridge ADD ref)
	printf '%-44s %8s  %s\n' "ADD ours/floor <= 1.5" "$(ratio "$a" "$f")" "$(verdict "$(ratio "$a" "$f")" 1.5)"
	printf '%-44s %8s  %s\n' "ADD ours/ref <= 0.2" "$(ratio "$a" "$r")" "$(verdict "$(ratio "$a" "$r")" 0.2)"
	d=$(med bridge DEL ours) fd=$(med bridge DEL floor)
	printf '%-44s %8s  %s\n' "DEL ours - floor <= 2000 us" "$((d - fd))" "$(verdict $((d - fd)) 2000)"
	printf '%-44s %8s  %s\n' "DEL ours/ref" "$(ratio "$d" "$(med bridge DEL ref)")" "-"
	printf '%-44s %8s  %s\n' "CHECK ours/ref" "$(ratio "$(med bridge CHECK ours)" "$(med bridge CHECK ref)")" "-"
	for v in ADD DEL; do
		x=$(ratio "$(rss bridge $v ours)" "$(rss bridge $v ref)")
		printf '%-44s %8s  %s\n' "peak RSS $v ours/ref <= 0.333" "$x" "$(verdict "$x" 0.3334)"
	done
fi
if has bridge-masq ADD oursm; then
	x=$(ratio "$(med bridge-masq ADD oursm)" "$(med bridge-masq ADD refm)")
	printf '%-44s %8s  %s\n' "ADD ipMasq ours/ref <= 0.1" "$x" "$(verdict "$x" 0.1)"
	x=$(ratio "$(med bridge-masq DEL oursm)" "$(med bridge-masq DEL refm)")
	printf '%-44s %8s  %s\n' "DEL ipMasq ours/ref <= 0.333" "$x" "$(verdict "$x" 0.3334)"
	for v in ADD DEL; do
		printf '%-44s %8s  %s\n' "$v ipMasq ours/floor" \
			"$(ratio "$(med bridge-masq $v oursm)" "$(med bridge-masq $v floorm)")" "-"
	done
fi
if has bridge@500 ADD ours500; then
	x=$(ratio "$(med bridge@500 ADD ours500)" "$(med bridge@500 ADD ours0)")
	printf '%-44s %8s  %s\n' "ADD with $FILL attached / empty <= 1.2" "$x" "$(verdict "$x" 1.2)"
	x=$(ratio "$(med bridge@500 DEL ours500)" "$(med bridge@500 DEL ours0)")
	printf '%-44s %8s  %s\n' "DEL with $FILL attached / empty" "$x" "-"
	x=$(ratio "$(med bridge@500 ADD floor500)" "$(med bridge@500 ADD floor0)")
	printf '%-44s %8s  %s\n' "floor: ADD with $FILL attached / empty" "$x" "(the kernel's share)"
	x=$(ratio "$(med bridge@500 ADD ours500)" "$(med bridge@500 ADD ref500)")
	printf '%-44s %8s  %s\n' "ADD with $FILL attached ours/ref" "$x" "-"
fi
echo "# raw: $OUT/bridge.tsv"
