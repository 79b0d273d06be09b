# shellcheck shell=bash
# SPDX-License-Identifier: Apache-2.0
#
# Node-side setup for the portmap bench cases (sourced by run.sh; $1 is the
# node netns).  portmap only needs the node to route the container address
# (conf/portmap.json's prevResult) somewhere: a veth pair stands in for the
# bridge.  portmap@1000 also fills our maps with 1000 attachments of other
# containers (2 mappings each) first, so its ADD shows whether the cost grows
# with them (the issue's target: at most 1.2x the ADD of "portmap"), and
# before its floor run the floor's table likewise.  The reference is not
# prefilled (1000 iptables rules take minutes to create through it).

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

# _pm_fill NODE IMPL BIN: 1000 attachments of other containers (2 mappings
# each) through BIN with the config of side IMPL (@IMPL@: its network).  They
# go through the plugin, as a runtime would add them: each is an attachment
# of its own (owner element, per-address elements), which a hand-written
# "add element" would not be.  About 2 ms each.
_pm_fill()
{
	local node=$1 impl=$2 bin=$3 i conf
	for i in $(seq 0 999); do
		conf=$(sed -e "s|@IMPL@|$impl|g" -e "s|\"hostPort\": 8080|\"hostPort\": $((10000 + i))|" \
			-e "s|\"hostPort\": 5353|\"hostPort\": $((20000 + i))|" \
			-e "s|198\.18\.40\.2/24|198.18.$((41 + i / 250)).$((1 + i % 250))/24|" \
			"$HERE/conf/portmap.json")
		nsenter --net="/run/netns/$node" env -i CNI_COMMAND=ADD CNI_CONTAINERID="fill$i" \
			CNI_NETNS="/run/netns/$node" CNI_NETNS_OVERRIDE=1 CNI_IFNAME=eth0 \
			CNI_PATH="$OURS_DIR" "$bin" <<<"$conf" >/dev/null ||
			die "portmap@1000: filler $i ($impl) failed"
	done
}

setup_portmap_1000()
{
	_pm_node "$1"
	_pm_fill "$1" ours "$OURS_DIR/portmap"
}

# run.sh's floor run: the floor's own table (its network, bench-pm-floor) gets
# as many attachments of the same layout, made by the floor itself ($2), so
# its ADD adds to full sets and maps and its DEL is not the network's last.
floor_setup_portmap_1000()
{
	_pm_fill "$1" floor "$2"
}
