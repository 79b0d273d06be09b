# shellcheck shell=bash
# SPDX-License-Identifier: Apache-2.0
#
# Node-side setup for the portmap bench cases (sourced by run.sh; $1 is the
# node netns).  portmap only needs the node to route the container address
# (conf/portmap.json's prevResult) somewhere: a veth pair stands in for the
# bridge.  portmap@1000 also fills our maps with 1000 mappings of other
# containers first, so its ADD shows whether the cost grows with them (the
# issue's target: at most 1.2x the ADD of "portmap").  The reference is
# not prefilled (1000 iptables rules take minutes to create through it).

_pm_node()
{
	ip -n "$1" link add cni-bench0 type veth peer name cni-bench1 2>/dev/null || true
	ip -n "$1" addr add 198.18.40.1/24 dev cni-bench0 2>/dev/null || true
	ip -n "$1" addr add 2001:db8:40::1/64 dev cni-bench0 nodad 2>/dev/null || true
	ip -n "$1" link set cni-bench0 up
	ip -n "$1" link set cni-bench1 up
}

setup_portmap()
{
	_pm_node "$1"
}

setup_portmap_1000()
{
	local node=$1 conf net=bench-pm-ours i
	_pm_node "$node"
	# One ADD/DEL through our plugin creates the table with the network's maps.
	conf=$(sed -e "s|@IMPL@|ours|g" "$HERE/conf/portmap.json")
	for verb in ADD DEL; do
		nsenter --net="/run/netns/$node" env -i CNI_COMMAND=$verb CNI_CONTAINERID=fill \
			CNI_NETNS="/run/netns/$node" CNI_NETNS_OVERRIDE=1 CNI_IFNAME=eth0 \
			CNI_PATH="$OURS_DIR" "$OURS_DIR/portmap" <<<"$conf" >/dev/null ||
			die "portmap@1000: priming our table failed"
	done
	{
		echo "add element inet cnic_portmap $net-any4 {"
		for i in $(seq 0 999); do
			printf 'tcp . %d comment "%s:fill%d:eth0" : 198.18.%d.%d . 80,\n' \
				$((10000 + i)) "$net" "$i" $((41 + i / 250)) $((1 + i % 250))
		done
		echo "}"
	} | ip netns exec "$node" nft -f - || die "portmap@1000: cannot fill the map"
}
