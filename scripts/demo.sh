#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
#
# The demo: wire throwaway "containers" (network namespaces) through the
# freshly built plugins, show what they did, and tear everything down.
# Needs root.  Runs entirely inside namespaces it creates: a "node" netns
# plays the host, so this machine's own network is never touched.  Uses only
# 198.18.0.0/15 and 2001:db8::/32.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
BIN=$ROOT/bin
[ "$(id -u)" = 0 ] || { echo "demo: run as root (it creates network namespaces)" >&2; exit 1; }
for p in loopback host-local static bridge portmap; do
	[ -x "$BIN/$p" ] || { echo "demo: $BIN/$p missing: run 'make' first" >&2; exit 1; }
done

tag=cnic-demo-$$
node=$tag-node
data=$(mktemp -d /tmp/cnic-demo.XXXXXX)
containers=()
pids=()

cleanup()
{
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
	for c in "${containers[@]}"; do ip netns del "$c" 2>/dev/null || true; done
	ip netns del "$node" 2>/dev/null || true
	rm -rf "$data"
}
trap cleanup EXIT

say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

# plugin VERB CONTAINER-ID NETNS-PATH IFNAME CONFIG: run one plugin inside the node netns.
plugin()
{
	local p=$1 verb=$2 cid=$3 netns=$4 ifname=$5 conf=$6
	printf '%s' "$conf" | ip netns exec "$node" env -i PATH="$PATH" CNI_COMMAND="$verb" \
		CNI_CONTAINERID="$cid" CNI_NETNS="$netns" CNI_IFNAME="$ifname" CNI_PATH="$BIN" \
		"$BIN/$p"
}

ip netns add "$node"
ip -n "$node" link set lo up

hl_conf=$(cat <<JSON
{"cniVersion":"1.0.0","name":"demo","type":"host-local",
 "ipam":{"type":"host-local","dataDir":"$data",
  "ranges":[[{"subnet":"198.18.10.0/29"}],[{"subnet":"2001:db8:10::/120"}]],
  "routes":[{"dst":"0.0.0.0/0"},{"dst":"::/0"}]}}
JSON
)

say "3 containers: loopback up + an address pair each from host-local (dual stack)"
for i in 1 2 3; do
	c=$tag-c$i
	ip netns add "$c"
	containers+=("$c")
	plugin loopback ADD "ctr$i" "/run/netns/$c" lo \
		'{"cniVersion":"1.0.0","name":"demo-lo","type":"loopback"}' >/dev/null
	echo "ctr$i: lo is $(ip -n "$c" -o link show lo | grep -o 'state [A-Z]*\|<[^>]*>' | head -1)"
	plugin host-local ADD "ctr$i" "/run/netns/$c" eth0 "$hl_conf" |
		jq -c '{ips: [.ips[].address], gateways: [.ips[].gateway]}'
done

say "host-local state on disk (the reference's format: one file per IP, '<id>\\r\\n<ifname>')"
ls "$data/demo"
printf 'file %s contains: ' 198.18.10.2
od -An -c "$data/demo/198.18.10.2" | tr -s ' '

say "CHECK passes for ctr2, then DEL ctr2 frees its addresses; a new container reuses nothing yet (round robin)"
plugin host-local CHECK ctr2 "/run/netns/$tag-c2" eth0 "$hl_conf" && echo "CHECK ctr2: ok"
plugin host-local DEL ctr2 "" eth0 "$hl_conf" && echo "DEL ctr2: ok"
plugin host-local DEL ctr2 "" eth0 "$hl_conf" && echo "DEL ctr2 again: ok (idempotent)"
ip netns add "$tag-c4"; containers+=("$tag-c4")
plugin host-local ADD ctr4 "/run/netns/$tag-c4" eth0 "$hl_conf" | jq -c '{ctr4: [.ips[].address]}'

say "static IPAM, printed in the oldest (0.2.0) and newest (1.1.0) result schema"
for v in 0.2.0 1.1.0; do
	plugin static ADD ctr1 "/run/netns/$tag-c1" eth0 \
		"{\"cniVersion\":\"$v\",\"name\":\"demo-static\",\"type\":\"static\",\"ipam\":{\"type\":\"static\",
		  \"addresses\":[{\"address\":\"198.18.20.5/24\",\"gateway\":\"198.18.20.1\"}],
		  \"routes\":[{\"dst\":\"198.19.0.0/16\"}]}}" | jq -c .
done

say "a hostile config is refused with a CNI error and changes nothing"
plugin host-local ADD ctr5 "/run/netns/$tag-c1" eth0 \
	'{"cniVersion":"1.0.0","name":"../../etc","type":"host-local","ipam":{"type":"host-local","subnet":"198.18.30.0/24"}}' |
	jq -c . || true

say "bridge + portmap: two containers on one bridge, a host port reachable from outside the node"
ext=$tag-ext
ip netns add "$ext"; containers+=("$ext")
ip -n "$node" link add up0 type veth peer name wan0 netns "$ext"
ip -n "$node" addr add 198.19.99.1/24 dev up0; ip -n "$node" link set up0 up
ip -n "$ext" addr add 198.19.99.2/24 dev wan0; ip -n "$ext" link set wan0 up
ip -n "$ext" link set lo up
br_conf=$(cat <<JSON
{"cniVersion":"1.0.0","name":"demo-br","type":"bridge","bridge":"cnicdemo0","isDefaultGateway":true,
 "ipMasq":true,"ipam":{"type":"host-local","dataDir":"$data","subnet":"198.18.30.0/24"}}
JSON
)
pm_conf()  # portmap gets the bridge's result as prevResult, as a runtime chains them
{
	jq -c --argjson prev "$1" '{cniVersion:"1.0.0",name:"demo-br",type:"portmap",
		runtimeConfig:{portMappings:[{hostPort:8080,containerPort:80,protocol:"tcp"}]},
		prevResult:$prev}' <<<'{}'
}
declare -A res
for c in web client; do
	ip netns add "$tag-$c"; containers+=("$tag-$c")
	res[$c]=$(plugin bridge ADD "$c" "/run/netns/$tag-$c" eth0 "$br_conf")
	echo "$c: $(jq -r '.ips[0].address' <<<"${res[$c]}") on $(jq -r '.interfaces[0].name' <<<"${res[$c]}"), host end $(jq -r '.interfaces[1].name' <<<"${res[$c]}")"
done
plugin portmap ADD web "/run/netns/$tag-web" eth0 "$(pm_conf "${res[web]}")" >/dev/null
web_ip=$(jq -r '.ips[0].address' <<<"${res[web]}"); web_ip=${web_ip%/*}
ip netns exec "$tag-client" busybox ping -c 1 -W 2 "$web_ip" >/dev/null && echo "client -> web ($web_ip): ping ok"
mkdir -p "$data/www" && echo "hello from a cnic container" >"$data/www/index.html"
ip netns exec "$tag-web" busybox httpd -f -p 80 -h "$data/www" & pids+=($!)
for _ in $(seq 50); do  # bounded: up to 5 s for httpd to listen
	ip netns exec "$tag-web" curl -s -o /dev/null -m 1 "http://$web_ip/" && break; sleep 0.1
done
echo "outside -> node:8080 -> web:80 says: $(ip netns exec "$ext" curl -sS -m 5 http://198.19.99.1:8080/)"
echo "nft elements for the mapping: $(ip netns exec "$node" nft -j list ruleset | jq '[.nftables[] | select(.set) | .set.elem // [] | length] | add')"
plugin portmap DEL web "/run/netns/$tag-web" eth0 "$(pm_conf "${res[web]}")"
for c in web client; do plugin bridge DEL "$c" "/run/netns/$tag-$c" eth0 "$br_conf"; done
echo "after DEL: veths on the node: $(ip -n "$node" -o link show type veth | grep -c veth || true), reservations: $(find "$data/demo-br" -type f ! -name lock ! -name 'last_reserved_ip.*' | wc -l)"

say "tear down: DEL everything, then nothing is left"
for i in 1 3 4; do plugin host-local DEL "ctr$i" "" eth0 "$hl_conf"; done
for c in "${containers[@]}"; do plugin loopback DEL x "/run/netns/$c" lo \
	'{"cniVersion":"1.0.0","name":"demo-lo","type":"loopback"}'; done
echo "reservations left: $(find "$data/demo" -type f ! -name lock ! -name 'last_reserved_ip.*' | wc -l)"
