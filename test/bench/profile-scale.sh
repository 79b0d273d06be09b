#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
#
# Profiling aid (root) for the cost of one bridge (+ portmap, + ipMasq) ADD/DEL as a function
# of the number of containers already attached: not a benchmark (test/bench/scale.sh is),
# a workbench to look inside one level.
#
#	profile-scale.sh LEVEL [MODE]
#
# attaches LEVEL filler containers (our bridge, with MODE's extras) to a bridge in a throwaway
# node netns, then times PROF_N (20) ADD+DEL pairs of one more container and prints the
# medians; MODE is "bridge" (default), "masq" or "portmap".  PROF_WRAP="strace -f -c" (or
# "strace -f -T -tt -o FILE", "perf record -e cpu-clock -g -o FILE") wraps one extra ADD and
# one extra DEL after the timed ones.  PROF_KEEP=1 leaves the world in place (prints its
# names).  Everything lives in netns named cnic-ps-<pid>-*, removed at exit.

set -euo pipefail

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
BIN=${PROF_BIN:-$ROOT/bin}
LEVEL=${1:?usage: profile-scale.sh LEVEL [bridge|masq|portmap]}
MODE=${2:-bridge}
N=${PROF_N:-20}
PFX=cnic-ps-$$
T=$(mktemp -d /tmp/cnic-ps.XXXXXX)
NODE=$PFX-node

cleanup() {
	local rc=$?
	trap - EXIT INT TERM
	if [[ ${PROF_KEEP:-0} != 1 ]]; then
		for n in /run/netns/"$PFX"-*; do
			[[ -e $n ]] && echo "netns del ${n##*/}"
		done >"$T/del"
		[[ -s $T/del ]] && split -l 250 "$T/del" "$T/delb." &&
			printf '%s\n' "$T"/delb.* | xargs -r -P 4 -n 1 ip -force -batch >/dev/null 2>&1
		rm -rf -- "$T"
	else
		echo "kept: node $NODE, data $T" >&2
	fi
	exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

extra='{}'
[[ $MODE == masq ]] && extra='{"ipMasq": true}'
jq -nc --arg d "$T/data" --argjson x "$extra" '{cniVersion: "1.0.0", name: "prof-sc",
	type: "bridge", bridge: "cni-prof", isDefaultGateway: true,
	ipam: {type: "host-local", dataDir: $d, ranges: [[{subnet: "198.18.0.0/16"}]]}} + $x' \
	>"$T/br.json"

{
	echo "netns add $NODE"
	for ((j = 0; j < LEVEL; j++)); do echo "netns add $PFX-f$j"; done
	echo "netns add $PFX-c"
} | ip -batch - >/dev/null
ip -n "$NODE" link set lo up

# attach ID NETNS: bridge ADD (+ portmap ADD) of one container inside the node; prints nothing.
attach() {
	local res pm
	res=$(CNI_COMMAND=ADD CNI_CONTAINERID=$1 CNI_NETNS=/run/netns/$2 CNI_IFNAME=eth0 \
		CNI_PATH=$BIN nsenter --net=/run/netns/"$NODE" "$BIN/bridge" <"$T/br.json") || {
		echo "filler $1: $res" >&2
		return 1
	}
	if [[ $MODE == portmap ]]; then
		pm='{"cniVersion":"1.0.0","name":"prof-sc","type":"portmap","snat":true,'
		pm+='"runtimeConfig":{"portMappings":[{"hostPort":'$3
		pm+=',"containerPort":80,"protocol":"tcp"}]},"prevResult":'$res'}'
		CNI_COMMAND=ADD CNI_CONTAINERID=$1 CNI_NETNS=/run/netns/$2 CNI_IFNAME=eth0 \
			CNI_PATH=$BIN nsenter --net=/run/netns/"$NODE" "$BIN/portmap" <<<"$pm" >/dev/null
	fi
}
s=$(date +%s)
for ((j = 0; j < LEVEL; j++)); do attach "filler-$j" "$PFX-f$j" $((10000 + j)) || exit 1; done
echo "# $LEVEL fillers attached in $(($(date +%s) - s)) s" >&2

# one VERB [WRAP...]: one ADD or DEL of the measured container, time in us on stdout.
one() {
	local verb=$1 cf=$T/br.json pm
	shift
	local t0 t1
	t0=$(date +%s%N)
	CNI_COMMAND=$verb CNI_CONTAINERID=meas CNI_NETNS=/run/netns/$PFX-c CNI_IFNAME=eth0 \
		CNI_PATH=$BIN CNIC_LOG_FILE=${PROF_LOG:-} nsenter --net=/run/netns/"$NODE" "$@" "$BIN/bridge" <"$cf" >"$T/res" ||
		{ echo "$verb failed: $(cat "$T/res")" >&2; return 1; }
	if [[ $MODE == portmap ]]; then
		pm='{"cniVersion":"1.0.0","name":"prof-sc","type":"portmap","snat":true,'
		pm+='"runtimeConfig":{"portMappings":[{"hostPort":9999,"containerPort":80,'
		pm+='"protocol":"tcp"}]}'
		[[ $verb == ADD ]] && pm+=',"prevResult":'$(cat "$T/res")
		pm+='}'
		CNI_COMMAND=$verb CNI_CONTAINERID=meas CNI_NETNS=/run/netns/$PFX-c CNI_IFNAME=eth0 \
			CNI_PATH=$BIN nsenter --net=/run/netns/"$NODE" "$@" "$BIN/portmap" <<<"$pm" >/dev/null ||
			{ echo "portmap $verb failed" >&2; return 1; }
	fi
	t1=$(date +%s%N)
	echo $(((t1 - t0) / 1000))
}
# ip netns exec itself costs; measure it to subtract.
base() {
	local t0 t1
	t0=$(date +%s%N)
	nsenter --net=/run/netns/"$NODE" true
	t1=$(date +%s%N)
	echo $(((t1 - t0) / 1000))
}
: >"$T/add"
: >"$T/del"
: >"$T/base"
for ((i = 0; i < N; i++)); do
	one ADD >>"$T/add"
	one DEL >>"$T/del"
	base >>"$T/base"
done
median() { sort -n "$1" | awk '{ a[NR] = $1 } END { print a[int((NR + 1) / 2)] }'; }
b=$(median "$T/base")
echo "level=$LEVEL mode=$MODE n=$N add_us=$(($(median "$T/add") - b)) del_us=$(($(median "$T/del") - b)) (exec overhead $b us subtracted)"
if [[ -n ${PROF_WRAP:-} ]]; then
	read -ra W <<<"$PROF_WRAP"
	one ADD "${W[@]}" >/dev/null
	one DEL "${W[@]}" >/dev/null
fi
